"""The orchestration peer: what a user writes by hand for the 3-step capability, on the same
stack (raw ASGI, one aiohttp session, orjson, uvicorn + uvloop + httptools).

    UPSTREAM=http://127.0.0.1:PORT MODE=sequential|gather \\
        python -m bench.peers.orchestration_peer PORT
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import aiohttp
import orjson

from bench.data import JOB_ID
from bench.peers.serving import peer_app, run

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9000")
GATHER = os.environ.get("MODE", "sequential") == "gather"
HEADERS = {"Authorization": f"Bearer {os.environ.get('BENCH_TOKEN', '')}"}
_JSON = [(b"content-type", b"application/json")]


async def fetch(session: aiohttp.ClientSession, path: str) -> Any:
    async with session.get(UPSTREAM + path, headers=HEADERS) as upstream:
        return orjson.loads(await upstream.read())


async def handle(
    session: aiohttp.ClientSession, scope: dict[str, Any], receive: Any, send: Any
) -> None:
    path = scope["path"]
    job_id = JOB_ID if path == "/v1/jobs/" else path.rsplit("/", 1)[-1]
    if GATHER:
        listing, one = await asyncio.gather(
            fetch(session, "/v1/jobs/"), fetch(session, f"/v1/jobs/{job_id}")
        )
    else:
        listing = await fetch(session, "/v1/jobs/")
        one = await fetch(session, f"/v1/jobs/{job_id}")
    entry = next((e for e in listing if str(e.get("id")) == str(one.get("id"))), None)
    result: dict[str, Any] = {"id": one.get("id"), "status": one.get("status")}
    if entry is not None:
        result["listed"] = {"status": entry.get("status"), "created_at": entry.get("created_at")}
    body = orjson.dumps(result)
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = peer_app(handle)

if __name__ == "__main__":
    run(app, int(sys.argv[1]))
