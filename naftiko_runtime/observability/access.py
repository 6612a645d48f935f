"""One access line per request (`--access-log`): request id, method, route template, status,
duration and the time spent waiting on upstreams; never a query string or a header value
(either may hold a secret). The request id is the client's `X-Request-Id` when it is a
plain token, else a new one, and is echoed in the response.

What the line needs from deeper down is handed over while the request runs: the upstream
client adds its waiting time, an observed call (`middleware.observed`) names its route; a
request no call names is named by the port's `route_of`."""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from naftiko_runtime.upstream.base import UPSTREAM_SECONDS

log = logging.getLogger("naftiko_runtime.access")
_ROUTE: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "naftiko_access_route", default=None
)
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def note_route(route: str) -> None:
    """Called by an observed call: the route template the current access line names."""
    named = _ROUTE.get()
    if named is not None:
        named.append(route)


class AccessLog:
    """ASGI middleware around one port's app; `route_of(method, path)` names the route."""

    def __init__(
        self, app: Any, adapter: str, route_of: Callable[[str, str], str] | None = None
    ) -> None:
        self.app = app
        self.adapter = adapter
        self.route_of = route_of

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope["headers"])
        status = 0
        header = (b"x-request-id", request_id.encode())

        async def tagged(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        upstream = [0.0]
        named: list[str] = []
        token, naming = UPSTREAM_SECONDS.set(upstream), _ROUTE.set(named)
        try:
            await self.app(scope, receive, tagged)
        finally:
            UPSTREAM_SECONDS.reset(token)
            _ROUTE.reset(naming)
            method, path = scope["method"], scope["path"]
            if named:
                route = named[0]
            else:
                route = self.route_of(method, path) if self.route_of is not None else path
            duration = (time.perf_counter() - started) * 1000
            log.info(
                "%s %s %s %d %.1fms upstream %.1fms",
                request_id,
                method,
                route,
                status,
                duration,
                upstream[0] * 1000,
                extra={
                    "request_id": request_id,
                    "adapter": self.adapter,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration, 3),
                    "upstream_ms": round(upstream[0] * 1000, 3),
                },
            )


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for key, value in headers:
        if key == b"x-request-id" and _REQUEST_ID.fullmatch(value):
            return value.decode()
    return secrets.token_hex(8)
