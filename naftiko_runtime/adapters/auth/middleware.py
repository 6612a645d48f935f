"""Authentication as one ASGI middleware, applied the same way to every adapter: an HTTP
request passes its guard before the app sees it, or gets the guard's refusal (401, 403, 503,
429 for a rate-limited route). Lifespan and other scopes pass untouched.
"""

from __future__ import annotations

import orjson

from naftiko_runtime.adapters.asgi import ASGIApp, Receive, Scope, Send, respond
from naftiko_runtime.adapters.auth.base import METADATA_PATH, Guard


class Guarded:
    """`app` behind `guard`. `guard` may be replaced while serving (a reload) and may be
    None (nothing asked). With `metadata`, a GET of the RFC 9728 document below
    `/.well-known/oauth-protected-resource` is answered here, unauthenticated: it is how a
    client finds the authorization server (an MCP endpoint's whole port)."""

    def __init__(self, app: ASGIApp, guard: Guard | None, *, metadata: bool = False) -> None:
        self.app = app
        self.guard = guard
        self.metadata = metadata

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guard = self.guard
        if guard is not None and scope["type"] == "http":
            if self.metadata and await _served_metadata(guard, scope, send):
                return
            if not await guard.admit(scope, send):
                return
        await self.app(scope, receive, send)


def guarded(app: ASGIApp, guard: Guard | None) -> ASGIApp:
    """`app` behind `guard` (a fixed one); `app` itself when there is none to pass."""
    return app if guard is None else Guarded(app, guard)


async def _served_metadata(guard: Guard, scope: Scope, send: Send) -> bool:
    if not scope["path"].startswith(METADATA_PATH) or scope["method"] not in ("GET", "HEAD"):
        return False
    document = guard.metadata()
    if document is None:
        return False
    await respond(send, 200, orjson.dumps(document))
    return True


class AnyOf(Guard):
    """Passes what any of `guards` passes; refuses as the first does. What a port serving
    several adapters asks of a request no route takes, so that its 404, 405 or redirect
    never tells a stranger which routes exist."""

    def __init__(self, guards: tuple[Guard, ...]) -> None:
        self.guards = guards

    async def passes(self, scope: Scope) -> bool:
        for guard in self.guards:
            if await guard.passes(scope):
                return True
        return False

    async def reject(self, send: Send, scope: Scope | None = None) -> None:
        await self.guards[0].reject(send, scope)
