"""Peer 2: a hand-tuned Python proxy without output mapping: raw ASGI, one aiohttp session,
orjson, run on uvicorn with uvloop and httptools. The practical Python ceiling to beat.

    UPSTREAM=http://127.0.0.1:PORT python -m bench.peers.tuned_peer PORT
"""

from __future__ import annotations

import os
import sys
from typing import Any

import aiohttp
import uvicorn

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9000")
HEADERS = {"Authorization": f"Bearer {os.environ.get('BENCH_TOKEN', '')}"}
_JSON = [(b"content-type", b"application/json")]
session: aiohttp.ClientSession | None = None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global session
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
    path = scope["path"]
    if not path.startswith("/v1/jobs/"):
        await send({"type": "http.response.start", "status": 404, "headers": _JSON})
        await send({"type": "http.response.body", "body": b'{"error": "not found"}'})
        return
    assert session is not None
    query = scope["query_string"].decode()
    url = UPSTREAM + path + (f"?{query}" if query else "")
    async with session.get(url, headers=HEADERS) as upstream:
        body = await upstream.read()
        status = upstream.status
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
