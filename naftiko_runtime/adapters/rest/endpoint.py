"""One REST route as an ASGI app: request → inputs → compiled operation → response.

The app only translates; what an error answers is `adapters.errors`' to say, and who may
call the route the guard's in front of it (`adapters.auth.middleware`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from naftiko_runtime.adapters.asgi import ASGIApp, Receive, Scope, Send, respond
from naftiko_runtime.adapters.auth.base import Guard
from naftiko_runtime.adapters.errors import error_reply
from naftiko_runtime.adapters.rest.inputs import InputReader
from naftiko_runtime.adapters.rest.links import RouteFor, headers_back
from naftiko_runtime.adapters.rest.streaming import cut_by_shutdown, relay
from naftiko_runtime.engine.headers import CLIENT_HEADERS
from naftiko_runtime.engine.result import CallResult, Operation
from naftiko_runtime.errors import UpstreamError
from naftiko_runtime.secrets.redactor import Redactor, is_text

PATH_PARAMS = "path_params"  # the scope key under which the router leaves the path's values


@dataclass(frozen=True)
class RestEndpoint:
    """One route: method, the spec's path, and the compiled operation behind it."""

    method: str
    path: str
    operation: Operation
    name: str | None
    description: str | None
    guard: Guard | None = None
    event_stream: bool = False  # the consumed operation says `outputRawFormat: event-stream`
    limit: Any = None  # policies.ratelimit.Limits: the route's rate limits (`--policies`)


def endpoint_app(endpoint: RestEndpoint, redact: Redactor, routes: RouteFor) -> ASGIApp:
    """The route's app; its path parameters are in the scope under `PATH_PARAMS`."""
    operation = endpoint.operation
    reader = InputReader(operation.inputs)
    query_accepted = frozenset(reader.query)  # what a paging link may carry to this route
    bodies = redact.bodies

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            inputs = await reader.read(scope, receive, scope[PATH_PARAMS])
            token = CLIENT_HEADERS.set(scope["headers"])  # each call picks by its policy
            try:
                result = await operation(inputs)
            finally:
                CLIENT_HEADERS.reset(token)
        except asyncio.CancelledError:
            await cut_by_shutdown(send)
            raise
        except Exception as exc:  # ours map to their status; anything else is a logged 500
            reply = error_reply(exc, redact)
            extra = _error_headers(exc, reply.status, scope, routes, redact, query_accepted)
            await respond(send, *reply, headers=extra)
            return
        if result.stream is not None:
            await relay(
                send,
                result.status,
                result.content_type,
                result.stream,
                operation.name,
                redact,
                gone=receive,  # the body is read: the next message can only be a disconnect
            )
            return
        extra = (
            headers_back(result, scope, routes, redact, query_accepted)
            if result.upstream_headers
            else []
        )
        if result.raw == b"" and result.shaped is None:  # 204, and a 304 with its validators
            await send({"type": "http.response.start", "status": result.status, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
            return
        if result.binary and result.raw is not None:  # a media type the client asked for
            kind = result.content_type.encode("latin-1")
            body = bodies.redact_bytes(result.raw, is_text(result.content_type))
            await respond(send, result.status, body, kind, extra)
            return
        await respond(send, result.status, bodies.redact_bytes(result.body()), headers=extra)

    return handle


def _error_headers(
    exc: Exception,
    status: int,
    scope: Scope,
    routes: RouteFor,
    redact: Redactor,
    accepted: frozenset[str],
) -> list[tuple[bytes, bytes]]:
    """What an error answer carries besides its body: an upstream's own 4xx passed through
    keeps the headers its policy passes back (an SDK reads Retry-After there); an open
    circuit says when to come back."""
    if not isinstance(exc, UpstreamError):
        return []
    if exc.headers and status == exc.upstream_status:
        passed = CallResult(
            status,
            "",
            upstream_headers=exc.headers,
            upstream_base=exc.base,
            header_policy=exc.policy,
        )
        return headers_back(passed, scope, routes, redact, accepted)
    if exc.kind == "circuit_open":
        return list(getattr(exc, "reply_headers", []))
    return []
