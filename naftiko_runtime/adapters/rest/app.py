"""Model → ASGI app: one app per port, every REST adapter on that port merged into it.

`RestApp` dispatches: a request goes to its route's app (`endpoint`, `forward`, the
OpenAPI document, `/docs`, RFC 9728 metadata), else it is answered 404, 405 or a 307 to the
path with or without its trailing slash. Each route's app is built once, wrapped in the same
middleware in the same order: its guard, its rate-limit fields, its observation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlparse

import orjson

from naftiko_runtime.adapters.asgi import ASGIApp, Receive, Scope, Send, lifespan, respond
from naftiko_runtime.adapters.auth.base import METADATA_PATH, Guard
from naftiko_runtime.adapters.auth.middleware import AnyOf, guarded
from naftiko_runtime.adapters.errors import problem
from naftiko_runtime.adapters.rest.endpoint import PATH_PARAMS, RestEndpoint, endpoint_app
from naftiko_runtime.adapters.rest.forward import ForwardEndpoint, forward_app
from naftiko_runtime.adapters.rest.links import RouteFor, upstream_routes
from naftiko_runtime.adapters.rest.routes import RouteTable
from naftiko_runtime.observability.middleware import observed
from naftiko_runtime.secrets.redactor import Redactor

SLASH_IN_SEGMENT = "\ue000"  # stands for an encoded `/` inside one segment while routing
_NOT_UTF8 = problem(
    400,
    "invalid_request",
    "the request path is not valid UTF-8",
    problems=[{"name": "path", "problem": "not UTF-8"}],
)


def _routable_path(raw: bytes) -> str:
    """The path to route on, decoded segment by segment from the raw bytes, so `%2F` stays
    inside its segment (a GitLab-style `group%2Fproject` id is one parameter)."""
    segments = []
    for segment in raw.split(b"/"):
        text = unquote_to_bytes(segment).decode("utf-8")  # strict: bad bytes are a 400
        segments.append(text.replace("/", SLASH_IN_SEGMENT))
    return "/".join(segments)


class RouteMap:
    """The routes of a port, each method's app: static paths by dict lookup, parameter paths
    by a segment tree."""

    def __init__(self) -> None:
        self.static: dict[str, dict[str, ASGIApp]] = {}
        self.dynamic: RouteTable[dict[str, ASGIApp]] = RouteTable()

    def add(self, path: str, method: str, app: ASGIApp, *, replace: bool = True) -> None:
        """`app` for `method` on `path`; with `replace` false, a route already there wins."""
        if "{" not in path:
            methods = self.static.setdefault(path, {})
        else:
            found = self.dynamic.get(path)
            if found is None:
                found = {}
                self.dynamic.add(path, found)
            methods = found
        if replace or method not in methods:
            methods[method] = app

    def match(self, path: str) -> tuple[dict[str, ASGIApp], dict[str, str]] | None:
        """The apps of `path` by method, and its parameters' values."""
        methods = self.static.get(path)
        if methods is not None:
            return methods, {}
        found = self.dynamic.match(path)
        if found is None:
            return None
        _, apps, params = found
        if SLASH_IN_SEGMENT in path:
            params = {k: v.replace(SLASH_IN_SEGMENT, "/") for k, v in params.items()}
        return apps, params

    def template(self, path: str) -> str | None:
        """The route template serving `path`, if any."""
        if path in self.static:
            return path
        found = self.dynamic.match(path)
        return found[0] if found is not None else None


class RestApp:
    """A raw ASGI app: static routes by dict lookup, parameter routes by a segment tree.

    Measured on this machine, Starlette's router and Request/Response objects cost about 40%
    of a proxy's throughput; this adapter keeps the same behaviour (JSON 404/405, HEAD as
    GET, trailing-slash redirects) without them.
    """

    def __init__(
        self,
        endpoints: Sequence[RestEndpoint],
        redact: Redactor,
        openapi: dict[str, Any] | None = None,
        forwards: Sequence[ForwardEndpoint] = (),
        metrics: Any = None,
        tracing: Any = None,
    ) -> None:
        # kept as the bytes served: the document itself (a dict per schema, parameter and
        # response) was the largest thing a big spec left in memory
        self._openapi: bytes | None = None
        # longest prefix first: /a/b/ wins over /a/
        self.forwards = [
            (f, guarded(forward_app(f, redact), f.guard))
            for f in sorted(forwards, key=lambda f: -len(f.forwarder.prefix))
        ]
        guards = [e.guard for e in endpoints] + [f.guard for f in forwards]
        distinct = tuple({id(g): g for g in guards if g is not None}.values())
        # an authenticated port: what is not routed is answered 401 unless some adapter's
        # credentials pass, so 404/405/redirects never reveal which routes exist
        gate = AnyOf(distinct) if guards and all(g is not None for g in guards) else None
        self.routes = RouteMap()
        # held apart from this app (no cycle back to it: a reload frees it without a collection)
        self._unrouted = guarded(_unrouted(self.routes), gate)
        links = upstream_routes(endpoints)
        for endpoint in sorted(endpoints, key=_sort_key):
            app = _route_app(endpoint, redact, links, metrics, tracing)
            self.routes.add(endpoint.path, endpoint.method, app)
        for guard in distinct:
            self._add_metadata(guard)
        if openapi is not None:
            self._add_openapi(openapi)

    def _add_metadata(self, guard: Guard) -> None:
        """RFC 9728, public: how clients find the authorization server."""
        metadata = guard.metadata()
        if metadata is None:
            return
        serve = _document(orjson.dumps(metadata))
        suffix = urlparse(str(metadata.get("resource", ""))).path.rstrip("/")
        for path in {METADATA_PATH, METADATA_PATH + suffix}:
            self.routes.add(path, "GET", serve, replace=False)

    def _add_openapi(self, openapi: dict[str, Any]) -> None:
        document = self._openapi = orjson.dumps(openapi)
        self.routes.add("/openapi.json", "GET", _document(document))
        from naftiko_runtime.adapters.rest.docs import docs_routes

        title = str(openapi.get("info", {}).get("title") or "naftiko-runtime")
        for path, app in docs_routes(title).items():
            self.routes.add(path, "GET", app, replace=False)  # a spec's own wins

    @property
    def openapi(self) -> dict[str, Any] | None:
        """The OpenAPI document served at `/openapi.json` (decoded afresh: for `export`)."""
        return orjson.loads(self._openapi) if self._openapi is not None else None

    def route_of(self, method: str, path: str) -> str:
        """The route template a path is served by (for access lines), `-` when none."""
        template = self.routes.template(path)
        if template is not None:
            return template
        for forward, _ in self.forwards:
            if forward.forwarder.matches(path):
                return forward.forwarder.prefix + "*"
        return "-"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await lifespan(receive, send)
            return
        if kind != "http":
            return
        path = _path(scope)
        if path is None:
            await respond(send, *_NOT_UTF8)
            return
        found = self.routes.match(path)
        if found is None:
            if self.forwards:
                raw = (scope.get("raw_path") or path.encode()).decode("latin-1")
                for forward, app in self.forwards:
                    if forward.forwarder.matches(raw):
                        await app(scope, receive, send)
                        return
            await self._unrouted(scope, receive, send)
            return
        apps, params = found
        method = scope["method"]
        served = apps.get(method) or (apps.get("GET") if method == "HEAD" else None)
        if served is None:
            await self._unrouted(scope, receive, send)
            return
        scope[PATH_PARAMS] = params
        await served(scope, receive, send)


def _unrouted(routes: RouteMap) -> ASGIApp:
    """What answers a request no route takes: 405 when its path has other methods, a 307 when
    the path with (or without) a trailing slash has a route, else 404."""

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        path = _path(scope) or scope["path"]
        found = routes.match(path)
        if found is not None:
            method = scope["method"]
            allow = ", ".join(sorted(found[0])).encode()
            refusal = problem(405, "method_not_allowed", f"{method} is not allowed on {path}")
            await respond(send, *refusal, headers=[(b"allow", allow)])
            return
        other = path[:-1] if path.endswith("/") else path + "/"
        if len(path) > 1 and routes.match(other) is not None:
            query = scope["query_string"]
            raw = scope.get("raw_path") or other.encode()
            target = raw[:-1] if raw.endswith(b"/") else raw + b"/"
            location = quote(target, safe="/%:@!$&'()*+,;=-._~").encode()
            if query:
                location += b"?" + query
            await respond(send, 307, b"", headers=[(b"location", location)])
            return
        message = f"no route for {scope['method']} {scope['path']}"
        await respond(send, *problem(404, "not_found", message))

    return answer


def _path(scope: Scope) -> str | None:
    """The path to route on; None when its escapes are not UTF-8."""
    raw_path = scope.get("raw_path")
    if raw_path is not None and (b"%" in raw_path or not raw_path.isascii()):
        try:
            return _routable_path(raw_path)
        except UnicodeDecodeError:
            return None
    path: str = scope["path"]
    return path


def _document(body: bytes) -> ASGIApp:
    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, 200, body)

    return serve


def _sort_key(endpoint: RestEndpoint) -> tuple[int, str]:
    # literal segments before parameters, so /v1/jobs/active wins over /v1/jobs/{job-id}
    segments = endpoint.path.split("/")
    return (sum(1 for s in segments if "{" in s), endpoint.path)


def _route_app(
    endpoint: RestEndpoint, redact: Redactor, routes: RouteFor, metrics: Any, tracing: Any
) -> ASGIApp:
    """The route's app in its middleware: guard (a rate-limited route counts a request once
    its caller is authenticated), then the RateLimit fields on its answers, then metrics
    and tracing under the route template (never a request's values)."""
    app = endpoint_app(endpoint, redact, routes)
    limit = endpoint.limit
    app = guarded(app, endpoint.guard if limit is None else limit.guarding(endpoint.guard))
    if limit is not None:
        app = limit.stamping(app)
    if metrics is not None or tracing is not None:
        app = _observed(app, endpoint, metrics, tracing)
    return app


def _observed(app: ASGIApp, endpoint: RestEndpoint, metrics: Any, tracing: Any) -> ASGIApp:
    """A `rest.request` server span per request, as the reference names it, continuing the
    client's trace (`traceparent`), and the request counted under its status class."""
    name = f"{endpoint.method} {endpoint.path}"
    attributes = {
        "naftiko.adapter.type": "rest",
        "naftiko.operation.id": f"{endpoint.path} {endpoint.method}",
        "http.request.method": endpoint.method,
        "http.route": endpoint.path,
    }

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        with observed(
            "rest",
            name,
            metrics=metrics,
            tracing=tracing,
            span="rest.request",
            attributes=attributes,
            headers=scope["headers"],
            route=endpoint.path,
        ) as seen:

            async def watch(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    seen.answered(message["status"])
                await send(message)

            await app(scope, receive, watch)

    return handle


def build_rest_app(
    endpoints: Sequence[RestEndpoint],
    redact: Redactor,
    openapi: dict[str, Any] | None = None,
    forwards: Sequence[ForwardEndpoint] = (),
    metrics: Any = None,
    tracing: Any = None,
) -> RestApp:
    """One ASGI app serving `endpoints` (all REST operations of one port); with `metrics`,
    every request is counted and timed under its route template, with `tracing` a span."""
    return RestApp(endpoints, redact, openapi, forwards, metrics, tracing)
