"""The orchestration peer: what a user writes by hand for the 3-step capability, on the same
stack (raw ASGI, one aiohttp session, orjson, uvicorn + uvloop + httptools).

    UPSTREAM=http://127.0.0.1:PORT MODE=sequential|gather \
        python -m bench.peers.orchestration_peer PORT
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import aiohttp
import orjson
import uvicorn

from bench.data import JOB_ID

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9000")
GATHER = os.environ.get("MODE", "sequential") == "gather"
HEADERS = {"Authorization": f"Bearer {os.environ.get('BENCH_TOKEN', '')}"}
_JSON = [(b"content-type", b"application/json")]
session: aiohttp.ClientSession | None = None


async def fetch(path: str) -> Any:
    assert session is not None
    async with session.get(UPSTREAM + path, headers=HEADERS) as upstream:
        return orjson.loads(await upstream.read())


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
    job_id = JOB_ID if path == "/v1/jobs/" else path.rsplit("/", 1)[-1]
    if GATHER:
        listing, one = await asyncio.gather(fetch("/v1/jobs/"), fetch(f"/v1/jobs/{job_id}"))
    else:
        listing = await fetch("/v1/jobs/")
        one = await fetch(f"/v1/jobs/{job_id}")
    entry = next((e for e in listing if str(e.get("id")) == str(one.get("id"))), None)
    result: dict[str, Any] = {"id": one.get("id"), "status": one.get("status")}
    if entry is not None:
        result["listed"] = {"status": entry.get("status"), "created_at": entry.get("created_at")}
    body = orjson.dumps(result)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
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
