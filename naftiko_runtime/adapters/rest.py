"""Model → Starlette app: one app per port, every REST adapter on that port merged into it.

The adapter only translates an HTTP request into inputs for a compiled operation and its
result (or error) back into a response. Errors map to status codes in `error_response`, once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from naftiko_runtime.errors import InvocationError, NaftikoError, UpstreamError
from naftiko_runtime.plan import CompiledOperation
from naftiko_runtime.spec.index import norm

log = logging.getLogger("naftiko_runtime.rest")
Redact = Callable[[str], str]


@dataclass(frozen=True)
class RestEndpoint:
    """One route: method, the spec's path, and the compiled operation behind it."""

    method: str
    path: str
    operation: CompiledOperation
    name: str | None
    description: str | None


def json_response(status: int, payload: Any) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def error_response(exc: Exception, redact: Redact) -> Response:
    """The one place runtime errors become HTTP statuses."""
    if isinstance(exc, InvocationError):
        return json_response(
            400,
            {
                "error": {
                    "type": "invalid_request",
                    "message": exc.message,
                    "problems": exc.problems,
                }
            },
        )
    if isinstance(exc, UpstreamError):
        if exc.kind == "status" and exc.upstream_status is not None and exc.upstream_status < 500:
            body = exc.body or b""
            return Response(
                redact(body.decode("utf-8", "replace")).encode() if body else b"",
                status_code=exc.upstream_status,
                media_type=(exc.content_type or "application/json").split(";")[0],
            )
        status = 504 if exc.kind == "timeout" else 502
        payload = exc.to_json()
        payload["error"]["message"] = redact(exc.message)
        return json_response(status, payload)
    log.exception("internal error: %s", redact(repr(exc)))
    return json_response(
        500, {"error": {"type": "internal_error", "message": "internal error; see the server log"}}
    )


def _route_path(path: str) -> tuple[str, dict[str, str]]:
    """Starlette needs identifier names: `{job-id}` becomes `{job_id}` (same parameter)."""
    names: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        original = match.group(1)
        safe = re.sub(r"\W", "_", norm(original))
        if safe[:1].isdigit():
            safe = "_" + safe
        names[safe] = original
        return "{" + safe + "}"

    return re.sub(r"\{([^{}]+)\}", rename, path), names


def _endpoint(endpoint: RestEndpoint, redact: Redact) -> Callable[[Request], Awaitable[Response]]:
    operation = endpoint.operation
    by_location: dict[str, list[str]] = {}
    for item in operation.inputs:
        by_location.setdefault(item.location, []).append(item.name)
    query_names = {norm(n): n for n in by_location.get("query", [])}
    header_names = by_location.get("header", [])
    cookie_names = by_location.get("cookie", [])
    body_names = by_location.get("body", [])
    _, path_names = _route_path(endpoint.path)

    async def handle(request: Request) -> Response:
        try:
            inputs: dict[str, Any] = {}
            for safe, value in request.path_params.items():
                inputs[norm(path_names.get(safe, safe))] = value
            if query_names and request.scope["query_string"]:
                for key, value in request.query_params.multi_items():
                    name = query_names.get(norm(key))
                    if name is None:
                        continue
                    if name in inputs:
                        previous = inputs[name]
                        inputs[name] = (
                            [*previous, value] if isinstance(previous, list) else [previous, value]
                        )
                    else:
                        inputs[name] = value
            for name in header_names:
                if name in request.headers:
                    inputs[name] = request.headers[name]
            for name in cookie_names:
                if name in request.cookies:
                    inputs[name] = request.cookies[name]
            if body_names:
                inputs.update(await _body_inputs(request, body_names))
            result = await operation(inputs)
        except NaftikoError as exc:
            return error_response(exc, redact)
        if result.stream is not None:
            return StreamingResponse(
                _guard(result.stream, operation.name, redact),
                status_code=result.status,
                media_type=result.content_type,
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        if result.raw == b"" and result.shaped is None:
            return Response(status_code=result.status)
        return Response(result.body(), status_code=result.status, media_type="application/json")

    return handle


async def _body_inputs(request: Request, names: list[str]) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvocationError(
            "request body is not valid JSON", [{"name": "body", "problem": "not JSON"}]
        ) from None
    if len(names) == 1:  # the one body input is the whole request body
        return {names[0]: payload}
    if not isinstance(payload, dict):
        raise InvocationError(
            "request body must be a JSON object", [{"name": "body", "problem": "not an object"}]
        )
    return {name: payload[name] for name in names if name in payload}


async def _guard(stream: Any, name: str, redact: Redact) -> Any:
    """Stream chunks through; a failure mid-stream ends the stream and is logged."""
    try:
        async for chunk in stream:
            yield chunk
    except NaftikoError as exc:
        log.warning("stream from %s ended early: %s", name, redact(str(exc)))


def _sort_key(endpoint: RestEndpoint) -> tuple[int, str]:
    # literal segments before parameters, so /v1/jobs/active wins over /v1/jobs/{job-id}
    segments = endpoint.path.split("/")
    return (sum(1 for s in segments if "{" in s), endpoint.path)


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return json_response(
            405,
            {
                "error": {
                    "type": "method_not_allowed",
                    "message": f"{request.method} is not allowed on {request.url.path}",
                }
            },
        )
    if exc.status_code == 404:
        return json_response(
            404,
            {
                "error": {
                    "type": "not_found",
                    "message": f"no route for {request.method} {request.url.path}",
                }
            },
        )
    return json_response(
        exc.status_code, {"error": {"type": "http_error", "message": str(exc.detail)}}
    )


def build_rest_app(
    endpoints: Sequence[RestEndpoint],
    redact: Redact,
    openapi: dict[str, Any] | None = None,
) -> Starlette:
    """One Starlette app serving `endpoints` (all REST operations of one port)."""
    routes: list[Route] = []
    grouped: dict[str, dict[str, RestEndpoint]] = {}
    for endpoint in sorted(endpoints, key=_sort_key):
        grouped.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    for path, by_method in grouped.items():
        route_path, _ = _route_path(path)
        handlers = {m: _endpoint(e, redact) for m, e in by_method.items()}
        routes.append(Route(route_path, _dispatch(handlers), methods=list(handlers)))
    if openapi is not None:
        document = orjson.dumps(openapi)

        async def openapi_endpoint(request: Request) -> Response:
            return Response(document, media_type="application/json")

        routes.append(Route("/openapi.json", openapi_endpoint, methods=["GET"]))
    app = Starlette(routes=routes, exception_handlers={HTTPException: _not_found})
    app.state.openapi = openapi
    return app


def _dispatch(
    handlers: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    if len(handlers) == 1:
        return next(iter(handlers.values()))

    async def by_method(request: Request) -> Response:
        handler = handlers.get(request.method) or handlers["GET"]  # HEAD is served as GET
        return await handler(request)

    return by_method
