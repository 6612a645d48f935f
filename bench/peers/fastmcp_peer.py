"""The MCP peer: FastMCP's `from_openapi` over the same upstream and the same two jobs routes,
on the same stack as the runtime (uvicorn + uvloop + httptools).

    UPSTREAM=http://127.0.0.1:PORT BENCH_TOKEN=... python -m bench.peers.fastmcp_peer PORT
"""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx2
from fastmcp import FastMCP

from bench.peers.serving import run

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9000")
JOB = {"type": "object", "additionalProperties": True}
OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Bench Jobs", "version": "1.0.0"},
    "paths": {
        "/v1/jobs/": {
            "get": {
                "operationId": "list_jobs",
                "summary": "List jobs.",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": {
                        "description": "The jobs.",
                        "content": {
                            "application/json": {"schema": {"type": "array", "items": JOB}}
                        },
                    }
                },
            }
        },
        "/v1/jobs/{job_id}": {
            "get": {
                "operationId": "get_job",
                "summary": "One job by id.",
                "parameters": [
                    {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "The job.",
                        "content": {"application/json": {"schema": JOB}},
                    }
                },
            }
        },
    },
}


def app() -> Any:
    client = httpx2.AsyncClient(
        base_url=UPSTREAM,
        headers={"Authorization": f"Bearer {os.environ.get('BENCH_TOKEN', '')}"},
        limits=httpx2.Limits(max_connections=256, max_keepalive_connections=256),
    )
    server = FastMCP.from_openapi(OPENAPI, client=client, name="bench-jobs")
    stateless = os.environ.get("MCP_STATELESS") == "1"
    return server.http_app(path="/mcp", stateless_http=stateless)


if __name__ == "__main__":
    run(app(), int(sys.argv[1]))
