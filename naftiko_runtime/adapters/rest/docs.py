"""`/docs` on each REST port: Swagger UI for its `/openapi.json`, from the assets the
`swagger-ui-py` package ships (nothing from a CDN, so it works offline and behind a strict
egress policy). The assets are read once, when a port first serves them."""

from __future__ import annotations

import functools
import html
from pathlib import Path

from naftiko_runtime.adapters.asgi import ASGIApp, Receive, Scope, Send, respond

ASSETS = {
    "/docs/swagger-ui.css": ("swagger-ui.css", b"text/css; charset=utf-8"),
    "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.js", b"text/javascript; charset=utf-8"),
    "/docs/favicon-32x32.png": ("favicon-32x32.png", b"image/png"),
}
INIT = b"""window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    displayRequestDuration: true});
});
"""
# inline styles are Swagger UI's own; scripts only from this port
POLICY = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"script-src 'self'; frame-ancestors 'none'"
)


@functools.cache
def _asset(name: str) -> bytes:
    from swagger_ui.utils import SWAGGER_UI_PY_ROOT

    return (Path(SWAGGER_UI_PY_ROOT) / "static" / name).read_bytes()


def _page(title: str) -> bytes:
    name = html.escape(title)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{name} · API docs</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
""".encode()


async def _send(send: Send, body: bytes, content_type: bytes, cache: bool) -> None:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"public, max-age=86400" if cache else b"no-cache"),
    ]
    if content_type.startswith(b"text/html"):
        headers.append((b"content-security-policy", POLICY))
    await respond(send, 200, body, content_type, headers)


def docs_routes(title: str) -> dict[str, ASGIApp]:
    """GET apps by path: the page, its start script and Swagger UI's assets."""
    page = _page(title)

    async def serve_page(scope: Scope, receive: Receive, send: Send) -> None:
        await _send(send, page, b"text/html; charset=utf-8", cache=False)

    async def serve_init(scope: Scope, receive: Receive, send: Send) -> None:
        await _send(send, INIT, b"text/javascript; charset=utf-8", cache=False)

    routes: dict[str, ASGIApp] = {"/docs": serve_page, "/docs/init.js": serve_init}
    for path, (name, content_type) in ASSETS.items():

        async def serve_asset(
            scope: Scope,
            receive: Receive,
            send: Send,
            name: str = name,
            content_type: bytes = content_type,
        ) -> None:
            await _send(send, _asset(name), content_type, cache=True)

        routes[path] = serve_asset
    return routes
