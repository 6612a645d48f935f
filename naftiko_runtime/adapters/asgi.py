"""What the small raw-ASGI adapters share: the lifespan handshake and JSON answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from naftiko_runtime.adapters.auth.base import Guard

Send = Callable[[dict[str, Any]], Awaitable[None]]


async def lifespan(receive: Any, send: Send) -> None:
    """Answer the server's start-up and shut-down messages (nothing to prepare)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def admit(scope: dict[str, Any], receive: Any, send: Send, guard: Guard | None) -> bool:
    """The preamble of every small adapter: lifespan answered, non-HTTP ignored, the adapter's
    authentication enforced (401 sent). True when the request is to be served."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return False
    if scope["type"] != "http":
        return False
    if guard is not None and not await guard.admit(scope, send):
        return False
    return True


async def respond(send: Send, status: int, body: bytes, kind: str) -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def respond_json(send: Send, status: int, payload: Any) -> None:
    await respond(send, status, orjson.dumps(payload), "application/json")
