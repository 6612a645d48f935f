"""Peer 2: a hand-tuned Python proxy without output mapping: raw ASGI, one aiohttp session,
orjson, run on uvicorn with uvloop and httptools. The practical Python ceiling to beat.

    UPSTREAM=http://127.0.0.1:PORT python -m bench.peers.tuned_peer PORT
"""

from __future__ import annotations

import os
import sys
from typing import Any

import aiohttp

from bench.peers.serving import peer_app, run

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9000")
HEADERS = {"Authorization": f"Bearer {os.environ.get('BENCH_TOKEN', '')}"}
_JSON = [(b"content-type", b"application/json")]


async def handle(
    session: aiohttp.ClientSession, scope: dict[str, Any], receive: Any, send: Any
) -> None:
    path = scope["path"]
    if not path.startswith("/v1/jobs/"):
        await send({"type": "http.response.start", "status": 404, "headers": _JSON})
        await send({"type": "http.response.body", "body": b'{"error": "not found"}'})
        return
    query = scope["query_string"].decode()
    url = UPSTREAM + path + (f"?{query}" if query else "")
    async with session.get(url, headers=HEADERS) as upstream:
        body = await upstream.read()
        status = upstream.status
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = peer_app(handle)

if __name__ == "__main__":
    run(app, int(sys.argv[1]))
