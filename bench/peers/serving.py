"""What every hand-written peer shares: one aiohttp session opened and closed with the ASGI
lifespan, and uvicorn on uvloop + httptools (the same stack the runtime uses)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import uvicorn

Handler = Callable[[aiohttp.ClientSession, dict[str, Any], Any, Any], Awaitable[None]]


def peer_app(handler: Handler) -> Callable[[dict[str, Any], Any, Any], Awaitable[None]]:
    session: aiohttp.ClientSession | None = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal session
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if session is not None:
                        await session.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert session is not None
        await handler(session, scope, receive, send)

    return app


def run(app: Any, port: int, lifespan: str = "on") -> None:
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan=lifespan,
    )
