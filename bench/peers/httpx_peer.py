"""Peer 1: the proxy a competent user writes by hand (Starlette, one shared httpx client,
stdlib json, uvicorn defaults), with the same auth and output shaping as the bench spec.

    UPSTREAM=http://127.0.0.1:PORT uvicorn bench.peers.httpx_peer:app --port PORT
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9000")
HEADERS = {"Authorization": f"Bearer {os.environ.get('BENCH_TOKEN', '')}"}
client: httpx.AsyncClient


def shape(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": job.get("id"),
        "state": job.get("status"),
        "created": job.get("created_at"),
        "agent": job.get("agent_id"),
        "source": (job.get("metadata") or {}).get("source_id"),
    }


async def list_jobs(request: Request) -> Response:
    upstream = await client.get(
        f"{UPSTREAM}/v1/jobs/", headers=HEADERS, params=dict(request.query_params)
    )
    if upstream.status_code >= 400:
        return Response(upstream.content, status_code=upstream.status_code)
    return JSONResponse([shape(job) for job in json.loads(upstream.content)])


async def get_job(request: Request) -> Response:
    upstream = await client.get(
        f"{UPSTREAM}/v1/jobs/{request.path_params['job_id']}", headers=HEADERS
    )
    if upstream.status_code >= 400:
        return Response(upstream.content, status_code=upstream.status_code)
    return JSONResponse(shape(json.loads(upstream.content)))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global client
    async with httpx.AsyncClient() as shared:
        client = shared
        yield


app = Starlette(
    routes=[Route("/v1/jobs/", list_jobs), Route("/v1/jobs/{job_id}", get_job)], lifespan=lifespan
)
