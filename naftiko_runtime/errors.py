"""The whole error tree; each adapter maps it to its protocol in exactly one place.

NaftikoError
├── SpecError          invalid spec files: carries every Diagnostic found
├── BindingError       secrets/variables that could not be resolved at start-up
├── InvocationError    bad caller input (HTTP 400, MCP isError)
└── UpstreamError      the consumed API failed (HTTP 4xx pass-through, 502, 504)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


class InvocationError(NaftikoError):
    """The caller's input is wrong; `problems` names each bad or missing parameter."""

    def __init__(self, message: str, problems: Sequence[dict[str, str]] = ()) -> None:
        self.message = message
        self.problems = list(problems)
        super().__init__(message)


class UpstreamError(NaftikoError):
    """The consumed API failed or answered with an error.

    `kind` is one of: "status" (the upstream answered 4xx/5xx), "redirect" (3xx), "connect",
    "timeout", "busy" (no pooled connection free in time), "bad_response". `body` keeps an
    upstream 4xx body so it can be passed through.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        operation: str,
        upstream_status: int | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        base: str = "",
    ) -> None:
        self.kind = kind
        self.message = message
        self.operation = operation
        self.upstream_status = upstream_status
        self.body = body
        self.content_type = content_type
        self.headers = headers  # a 4xx passed through keeps what the policy passes back
        self.base = base  # the upstream's base URL, against which Link/Location are read
        self.policy: Any = None  # engine.headers.HeaderPolicy: which of `headers` pass back
        super().__init__(message)
