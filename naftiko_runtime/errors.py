"""The whole error tree; each adapter maps it to its protocol in exactly one place.

NaftikoError
├── SpecError          invalid spec files: carries every Diagnostic found
├── BindingError       secrets/variables that could not be resolved at start-up
├── StartupError       valid specs that cannot be served with these options
├── UsageError         a command cannot run as asked: a flag, a path (the CLI's exit code 2)
├── InvocationError    bad caller input (HTTP 400, MCP isError)
└── UpstreamError      the consumed API failed (HTTP 4xx pass-through, 502, 503, 504)
    ├── UpstreamStatusError       it answered 4xx/5xx
    ├── UpstreamRedirectError     it answered 3xx (never followed)
    ├── UpstreamConnectError      it could not be reached
    ├── UpstreamTimeoutError      it did not answer, or went silent, in time
    ├── UpstreamBusyError         no pooled connection to it was free in time
    └── UpstreamBadResponseError  its answer was malformed, cut off or too large
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from naftiko_runtime.diagnostics import Diagnostic


class NaftikoError(Exception):
    """Base of every error the runtime raises on purpose."""


class SpecError(NaftikoError):
    """One or more spec files are invalid; `diagnostics` lists every problem found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        summary = (
            f"{first.file}:{first.line}:{first.column}: {first.message}"
            if first
            else "invalid spec"
        )
        more = len(self.diagnostics) - 1
        super().__init__(summary + (f" (and {more} more)" if more > 0 else ""))


class BindingError(NaftikoError):
    """Variables named by `binds` are missing; `missing` lists (variable, file, line) for all."""

    def __init__(self, missing: Sequence[tuple[str, str, int]]) -> None:
        self.missing = list(missing)
        names = ", ".join(f"{name} ({file}:{line})" for name, file, line in self.missing)
        super().__init__(f"missing environment variables: {names}")


class StartupError(NaftikoError):
    """The specs are valid but cannot be served with these options; the message says why."""


class UsageError(NaftikoError):
    """A command cannot run as asked (a bad flag, a path that is not there); raised where it
    is found, anywhere below the CLI, which says it and exits 2 in one place."""


class InvocationError(NaftikoError):
    """The caller's input is wrong; `problems` names each bad or missing parameter."""

    def __init__(self, message: str, problems: Sequence[dict[str, str]] = ()) -> None:
        self.message = message
        self.problems = list(problems)
        super().__init__(message)


class UpstreamError(NaftikoError):
    """The consumed API failed or answered with an error; raised as one of the subclasses
    below, each of which names its failure in `kind` (the `upstream_<kind>` of an error
    body, a metric label, a policy's retry condition). `body` keeps an upstream 4xx body so
    it can be passed through.
    """

    kind: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        upstream_status: int | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        base: str = "",
    ) -> None:
        self.message = message
        self.operation = operation
        self.upstream_status = upstream_status
        self.body = body
        self.content_type = content_type
        self.headers = headers  # a 4xx passed through keeps what the policy passes back
        self.base = base  # the upstream's base URL, against which Link/Location are read
        self.policy: Any = None  # engine.headers.HeaderPolicy: which of `headers` pass back
        super().__init__(message)


class UpstreamStatusError(UpstreamError):
    """The upstream answered 4xx (passed through) or 5xx (a 502)."""

    kind = "status"


class UpstreamRedirectError(UpstreamError):
    """The upstream answered 3xx: redirects are never followed."""

    kind = "redirect"


class UpstreamConnectError(UpstreamError):
    """No connection to the upstream: refused, unresolved, TLS, or closed before a reply."""

    kind = "connect"


class UpstreamTimeoutError(UpstreamError):
    """No answer within the exchange's bound, or a stream silent past its idle bound."""

    kind = "timeout"


class UpstreamBusyError(UpstreamError):
    """Every pooled connection to the upstream stayed in use past the pool wait (a 503)."""

    kind = "busy"


class UpstreamBadResponseError(UpstreamError):
    """An answer that is not HTTP, not its declared format, cut off, or too large."""

    kind = "bad_response"
