"""The upstream's headers a REST client gets back, with the links and locations in them
pointing at this gateway: an upstream path is turned back into the route that serves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Protocol

from naftiko_runtime.adapters.asgi import Scope
from naftiko_runtime.engine.headers import DEFAULT, link_rewriter, location_rewriter, passed_back
from naftiko_runtime.engine.result import CallResult, Operation
from naftiko_runtime.secrets.redactor import Redactor
from naftiko_runtime.text.placeholders import norm, split

RouteFor = Callable[[str, str], "tuple[str, frozenset[str]] | None"]


class Route(Protocol):
    """What the table reads of a route (a RestEndpoint)."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def operation(self) -> Operation: ...


def upstream_routes(endpoints: Sequence[Route]) -> RouteFor:
    """(upstream base, path below it) → the gateway path serving it: each single-call
    route's consumed path as a pattern, filled into its own path (a GET route first)."""
    table: list[tuple[str, re.Pattern[str], str, frozenset[str]]] = []
    for endpoint in sorted(endpoints, key=lambda e: e.method != "GET"):
        call = getattr(endpoint.operation, "call", None)
        consumed = getattr(call, "operation", None)
        if call is None or consumed is None:
            continue
        pattern = "".join(
            re.escape(part) if isinstance(part, str) else f"(?P<{_group(part.name)}>[^/\\\\]+)"
            for part in split(consumed.path)
        )
        accepted = frozenset(
            norm(i.name) for i in endpoint.operation.inputs if i.location == "query"
        )
        table.append((str(call.base_url), re.compile(pattern + "/?"), endpoint.path, accepted))

    def route_for(base: str, path: str) -> tuple[str, frozenset[str]] | None:
        for own_base, pattern, route, accepted in table:
            if own_base != base:
                continue
            found = pattern.fullmatch(path)
            if found is None:
                continue
            values = found.groupdict()
            parts = split(route)
            names = [_group(part.name) for part in parts if not isinstance(part, str)]
            if any(n not in values for n in names):  # a variable the upstream path lacks
                continue
            filled = "".join(
                part if isinstance(part, str) else values[_group(part.name)] for part in parts
            )
            return filled, accepted
        return None

    return route_for


def _group(name: str) -> str:
    return "v_" + re.sub(r"[^A-Za-z0-9_]", "_", norm(name))


def headers_back(
    result: CallResult,
    scope: Scope,
    routes: RouteFor,
    redact: Redactor,
    accepted: frozenset[str],
) -> list[tuple[bytes, bytes]]:
    """The upstream's end-to-end headers the client gets (engine.headers' policy), each
    value redacted as bodies are (a paging link may repeat the request's query key)."""
    policy = result.header_policy or DEFAULT
    if not any(policy.passes_back(name) for name, _ in result.upstream_headers or ()):
        return []  # the common case (a plain JSON answer): no rewriter built
    base = result.upstream_base

    def here() -> tuple[str, frozenset[str]]:
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        return raw.decode("latin-1"), accepted

    passed = passed_back(
        result.upstream_headers,
        link_rewriter(base, lambda path: routes(base, path), here),
        location_rewriter(base, lambda path: routes(base, path)),
        policy,
    )
    bodies = redact.bodies
    return [(name, bodies.redact_bytes(value)) for name, value in passed]
