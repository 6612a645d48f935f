"""The ASGI vocabulary every adapter speaks, declared once, and the answers they all send.

The adapters are raw ASGI apps (a framework's request and response objects cost a proxy a
large share of its throughput), so the types a framework would give live here, with the
lifespan handshake and the one way a whole body is answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any

import orjson

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON = b"application/json"
# the client address of the MCP request being served (its fast path passes only headers): set
# by the MCP adapter, read by a rate limit per caller (policies.ratelimit)
CALLER_ADDRESS: ContextVar[Any] = ContextVar("naftiko_caller_address", default=None)


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer the server's start-up and shut-down messages (nothing to prepare)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def http_only(app: ASGIApp) -> ASGIApp:
    """`app` for HTTP requests; the lifespan answered here, any other scope ignored."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await app(scope, receive, send)
        elif kind == "lifespan":
            await lifespan(receive, send)

    return serve


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = JSON,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """A whole answer: status, type, length and `headers`, then the body."""
    start = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


async def respond_json(send: Send, status: int, payload: Any) -> None:
    await respond(send, status, orjson.dumps(payload))
