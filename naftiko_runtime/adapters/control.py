"""The control adapter: health, status, Prometheus metrics and script settings of this
instance, on a port of their own (loopback by default), as the reference serves them.

`/health/live` is `{"status": "UP"}` while the process runs; `/health/ready` is 200 only
when every adapter serves and the instance is not draining (503 otherwise); `/status`
describes the capabilities, adapters and the last reload; `/metrics` is the Prometheus text;
`/scripting` reads the script steps' settings and, with the adapter's authentication, changes
them with the reference's validation of each field. Refusals are the runtime's one error
envelope (`adapters.errors`).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

import orjson

from naftiko_runtime.adapters.asgi import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    http_only,
    respond,
    respond_json,
)
from naftiko_runtime.adapters.auth.base import Guard
from naftiko_runtime.adapters.auth.middleware import guarded
from naftiko_runtime.adapters.errors import problem
from naftiko_runtime.engine.scripting.base import ScriptSettings
from naftiko_runtime.observability.state import ControlState
from naftiko_runtime.version import __version__

LANGUAGES = ("javascript", "python", "groovy")


class ControlApp:
    openapi = None

    def __init__(
        self,
        state: ControlState,
        scripting: ScriptSettings | None,
        guard: Guard | None = None,
        info: bool = True,
        health: bool = True,
        metrics: bool = True,
        traces: Any = None,
    ) -> None:
        self.state = state
        self.traces = traces  # observability.tracing.TraceBuffer
        self.scripting = scripting
        self.guard = guard
        self.routes: dict[str, ASGIApp] = {}
        if health:
            self.routes["/health/live"] = self._live
            self.routes["/health/ready"] = self._ready
        if info:
            self.routes["/status"] = self._status
        if metrics:
            self.routes["/metrics"] = self._metrics
        if scripting is not None:
            self.routes["/scripting"] = self._scripting
        if traces is not None:
            self.routes["/traces"] = self._traces
        self._app = http_only(guarded(self._route, guard))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].rstrip("/") or "/"
        route = self.routes.get(path)
        if route is None and self.traces is not None and path.startswith("/traces/"):
            await self._trace(path.removeprefix("/traces/"), send)
            return
        if route is None:
            await respond(send, *problem(404, "not_found", "no such endpoint"))
            return
        await route(scope, receive, send)

    async def _live(self, scope: Scope, receive: Receive, send: Send) -> None:
        await respond_json(send, 200, {"status": "UP"})

    async def _ready(self, scope: Scope, receive: Receive, send: Send) -> None:
        ready = self.state.serving and not self.state.draining
        status = "UP" if ready else ("DRAINING" if self.state.draining else "DEGRADED")
        state = "started" if self.state.serving else "stopped"
        adapters = [{**a, "state": state} for a in self.state.adapters]
        await respond_json(send, 200 if ready else 503, {"status": status, "adapters": adapters})

    async def _status(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        await respond_json(
            send,
            200,
            {
                "capabilities": state.capabilities,
                "engine": {"name": "naftiko-runtime", "version": __version__},
                "uptime": f"PT{int(time.time() - state.started)}S",
                "adapters": state.adapters,
                "draining": state.draining,
                "lastReload": state.last_reload,
            },
        )

    async def _traces(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Recent trace summaries, newest first, filtered by `operation` (a substring of the
        root span's name) and `status` (OK or ERROR), as the reference lists them."""
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        listing = self.traces.listing(query.get("operation"), query.get("status"))
        await respond_json(send, 200, listing)

    async def _trace(self, trace_id: str, send: Send) -> None:
        found = self.traces.trace(trace_id)
        if found is None:
            await respond(send, *problem(404, "not_found", f"Trace not found: {trace_id}"))
            return
        await respond_json(send, 200, found)

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, kind = self.state.metrics.exposition()
        await respond(send, 200, body, kind.encode())

    async def _scripting(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = self.scripting
        assert settings is not None
        if scope["method"] == "PUT":
            if self.guard is None:
                message = "changing script settings needs authentication on the control adapter"
                await respond(send, *problem(403, "forbidden", message))
                return
            body = b""
            while True:
                chunk = await receive()
                body += chunk.get("body", b"")
                if not chunk.get("more_body"):
                    break
            try:
                update = orjson.loads(body or b"{}")
                if not isinstance(update, dict):
                    raise ValueError("the body must be a JSON object")
                apply_update(settings, update)
            except (ValueError, orjson.JSONDecodeError) as exc:
                await respond(send, *problem(400, "invalid_request", str(exc)))
                return
        elif scope["method"] not in ("GET", "HEAD"):
            refusal = problem(405, "method_not_allowed", "GET or PUT")
            await respond(send, *refusal, headers=[(b"allow", b"GET, HEAD, PUT")])
            return
        await respond_json(send, 200, describe(settings))


def describe(settings: ScriptSettings) -> dict[str, Any]:
    stats = settings.stats
    average = stats.total_seconds * 1000 / stats.executions if stats.executions else 0.0
    out: dict[str, Any] = {"enabled": settings.permitted()}
    if settings.default_location:
        out["defaultLocation"] = settings.default_location
    if settings.default_language:
        out["defaultLanguage"] = settings.default_language
    out["timeout"] = settings.timeout_ms
    out["statementLimit"] = settings.statement_limit
    if settings.allowed_languages:
        out["allowedLanguages"] = list(settings.allowed_languages)
    out["stats"] = {
        "totalExecutions": stats.executions,
        "totalErrors": stats.errors,
        "averageDurationMs": round(average, 2),
    }
    if stats.last_at is not None:
        out["stats"]["lastExecutionAt"] = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(stats.last_at)
        )
    return out


def _positive(update: dict[str, Any], key: str) -> int:
    value = update[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"'{key}' must be an integer greater than or equal to 1")
    if value < 1:
        raise ValueError(f"'{key}' must be greater than or equal to 1")
    return value


def _language(value: Any) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"Unsupported language '{value}'. Supported: {list(LANGUAGES)}")
    return str(value)


def apply_update(settings: ScriptSettings, update: dict[str, Any]) -> None:
    """Validate every field first, then apply: a bad update changes nothing."""
    changes: dict[str, Any] = {}
    if "enabled" in update:
        if not isinstance(update["enabled"], bool):
            raise ValueError("'enabled' must be a boolean")
        changes["enabled"] = update["enabled"]
    if "timeout" in update:
        changes["timeout_ms"] = _positive(update, "timeout")
    if "statementLimit" in update:
        changes["statement_limit"] = _positive(update, "statementLimit")
    if "defaultLocation" in update:
        location = update["defaultLocation"]
        if not isinstance(location, str) or not location.startswith("file:///"):
            raise ValueError("'defaultLocation' must be an absolute file:/// URI")
        changes["default_location"] = location
    if "defaultLanguage" in update:
        changes["default_language"] = _language(update["defaultLanguage"])
    if "allowedLanguages" in update:
        languages = update["allowedLanguages"]
        if not isinstance(languages, list):
            raise ValueError("'allowedLanguages' must be an array")
        changes["allowed_languages"] = tuple(_language(v) for v in languages)
    for key, value in changes.items():
        setattr(settings, key, value)
