"""A fast Python upstream for when nginx is absent: fixed bodies from a raw ASGI app.

python -m bench.upstream PORT
"""

from __future__ import annotations

import sys
from typing import Any

from bench.data import LIST_BODY, ONE_BODY

_HEADERS = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/v1/jobs/":
        status, body = 200, LIST_BODY
    elif path.startswith("/v1/jobs/"):
        status, body = 200, ONE_BODY
    else:
        status, body = 404, b'{"detail": "not found"}'
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    from bench.peers.serving import run

    run(app, int(sys.argv[1]), lifespan="off")
