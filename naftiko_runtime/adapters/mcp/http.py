"""The Streamable HTTP endpoint: the guard (the adapters' one middleware), then the fast
path for a 2026-07-28 `tools/call`, per-client session bounds for handshake-era
`initialize`s, and the SDK's app for the rest. A defect is answered as a JSON-RPC error,
never uvicorn's plain 500."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from naftiko_runtime import jsoncodec
from naftiko_runtime.adapters.asgi import respond_json
from naftiko_runtime.adapters.auth.base import Guard
from naftiko_runtime.adapters.auth.middleware import Guarded
from naftiko_runtime.adapters.mcp.endpoint import McpServerSet
from naftiko_runtime.adapters.mcp.fast import FastCalls, fast_candidate
from naftiko_runtime.adapters.mcp.sessions import SESSION_HEADER, SessionBound

log = logging.getLogger("naftiko_runtime.mcp")

MCP_PATH = "/mcp"
HANDSHAKE_DEFAULTS = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "unnamed-client", "version": "0"},
}


class McpHttpServer:
    """One MCP endpoint: `app` answers a defect as a JSON-RPC error around the endpoint's
    guard (`guarded.guard`, replaced on a reload), which passes requests to `routes`.

    The routes are an object of their own, not a method of this one: the guard holding a
    bound method would be a reference cycle, which keeps a configuration a reload built
    alive until a collection (and the serving process freezes its objects out of those)."""

    def __init__(self, routes: McpRoutes, server_set: McpServerSet, guard: Guard | None) -> None:
        self.routes = routes
        self.server_set = server_set
        # RFC 9728 metadata is served unauthenticated: how a client finds the server
        self.guarded = Guarded(routes, guard, metadata=True)

    @property
    def guard(self) -> Guard | None:
        """What a request must pass; a reload assigns the new configuration's."""
        return self.guarded.guard

    @guard.setter
    def guard(self, guard: Guard | None) -> None:
        self.guarded.guard = guard

    @property
    def path(self) -> str:
        return self.routes.path

    @property
    def stateless(self) -> bool:
        return self.routes.stateless

    @property
    def sessions(self) -> SessionBound | None:
        return self.routes.sessions

    @property
    def tool_count(self) -> int:
        return len(self.server_set.tools)

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The endpoint; a defect is logged (redacted) and answered as a JSON-RPC error,
        never uvicorn's plain-text 500."""
        if scope["type"] != "http":
            sessionless = self.routes.sessionless
            if scope["type"] == "lifespan" and sessionless is not None:
                async with sessionless.run():
                    await self.guarded(scope, receive, send)
                return
            await self.guarded(scope, receive, send)
            return
        started = False

        async def watch(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.guarded(scope, receive, watch)
        except Exception as exc:
            log.exception("MCP request failed: %s", self.server_set.redact(repr(exc)))
            if not started:
                error = {"code": -32603, "message": "internal error; see the server log"}
                await respond_json(send, 500, {"jsonrpc": "2.0", "id": None, "error": error})


@dataclass
class McpRoutes:
    """Where an admitted request goes: the fast path for a 2026-07-28 `tools/call`,
    per-client session bounds for a handshake-era `initialize`, the SDK's app for the rest."""

    sdk_app: Starlette
    path: str
    sessions: SessionBound | None = None  # None when stateless: there are none to bound
    stateless: bool = False
    # handshake-era requests that name no session, answered statelessly as the reference
    # does (it keeps no session state); its manager runs during the app's lifespan
    sessionless: Any = None
    fast: FastCalls | None = None  # 2026-07-28 `tools/call` without the SDK's machinery

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        bound = self.sessions
        if scope["type"] == "http" and _without_session(scope):
            first = await receive()  # is it an `initialize`? (stateless calls open nothing)
            if not first.get("more_body") and _not_json_rpc_2(first.get("body", b"")):
                error = {"code": -32600, "message": 'Invalid Request: jsonrpc must be "2.0"'}
                await respond_json(send, 400, {"jsonrpc": "2.0", "id": None, "error": error})
                return
            endpoint = scope["path"] in ("/", self.path)  # as the SDK app routes
            fast, whole = self.fast, not first.get("more_body")
            if fast is not None and endpoint and whole and fast_candidate(scope):
                if await fast.handle(scope, first.get("body", b""), receive, send):
                    return
            if b'"initialize"' not in first.get("body", b""):
                if self.sessionless is not None and endpoint and _handshake_era(scope):
                    await self.sessionless.asgi_app(scope, _replaying(first, receive), send)
                    return
                await self._serve(scope, _replaying(first, receive), send)
                return
            receive = _replaying(_completed_initialize(first), receive)
            if bound is None:
                await self._serve(scope, receive, send)
                return
            client = (scope.get("client") or ("?",))[0]
            if not bound.admits(client):
                await bound.refuse(send)
                return
            record, finish = bound.recording(client, send)
            try:
                await self._serve(scope, receive, record)
            finally:
                finish()
            return
        await self._serve(scope, receive, send)

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/":
            # the port's root is the endpoint too, as the reference and Naftiko client
            # configurations use it
            scope = {**scope, "path": self.path, "raw_path": self.path.encode()}
        await self.sdk_app(scope, receive, send)


class LimitedMcpHttpServer(McpHttpServer):
    """An endpoint whose tools have rate limits: its fast path learns each request's
    client address here (the SDK's path reads it from the request itself)."""

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from naftiko_runtime.adapters.asgi import CALLER_ADDRESS

        token = CALLER_ADDRESS.set(scope.get("client"))
        try:
            await super().app(scope, receive, send)
        finally:
            CALLER_ADDRESS.reset(token)


def _not_json_rpc_2(body: bytes) -> bool:
    """A JSON object (or batch) that names another JSON-RPC version: the reference's -32600
    (the SDK would answer a validation dump). Anything else is left to the SDK."""
    if not body or (b'"2.0"' in body and not body.lstrip().startswith(b"[")):
        return False  # the usual single request: no second parse on the hot path
    try:
        message = jsoncodec.loads(body)
    except ValueError:
        return False
    items = message if isinstance(message, list) else [message]
    return any(isinstance(m, dict) and m.get("jsonrpc") != "2.0" for m in items)


def _handshake_era(scope: dict[str, Any]) -> bool:
    """A request of a handshake-era client: no protocol version header, or one before the
    stateless 2026-07-28 revision (which the SDK answers without sessions itself)."""
    for key, value in scope["headers"]:
        if key == b"mcp-protocol-version":
            return bytes(value) < b"2026-07-28"
    return True


def _without_session(scope: dict[str, Any]) -> bool:
    """A POST that names no session: the only kind that may be an `initialize`."""
    if scope["method"] != "POST":
        return False
    return not any(key == SESSION_HEADER for key, _ in scope["headers"])


def _completed_initialize(message: dict[str, Any]) -> dict[str, Any]:
    """An `initialize` whose `params` leave out what the reference does not require (it
    accepts `params: {}`) gets the handshake defaults; anything else is left as sent."""
    if message.get("more_body"):
        return message
    try:
        request = jsoncodec.loads(message.get("body", b""))
    except (ValueError, RecursionError):
        return message
    if not isinstance(request, dict) or request.get("method") != "initialize":
        return message
    params = request.get("params")
    if params is not None and not isinstance(params, dict):
        return message
    given = params or {}
    completed = {**HANDSHAKE_DEFAULTS, **given}
    if completed == given:
        return message
    return {**message, "body": jsoncodec.dumps({**request, "params": completed})}


def _replaying(first: dict[str, Any], receive: Any) -> Any:
    """`receive` that gives `first` (already read) once, then reads on."""
    pending = [first]

    async def replay() -> dict[str, Any]:
        if pending:
            return pending.pop()
        message: dict[str, Any] = await receive()
        return message

    return replay
