"""Model → ASGI app: one app per port, every REST adapter on that port merged into it.

The adapter only translates an HTTP request into inputs for a compiled operation and its
result (or error) back into a response. Errors map to status codes in `error_reply`, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, unquote_to_bytes, urlparse

import orjson

from naftiko_runtime import jsoncodec
from naftiko_runtime.adapters.asgi import lifespan
from naftiko_runtime.adapters.auth.base import METADATA_PATH, Guard
from naftiko_runtime.adapters.rest.routes import RouteTable
from naftiko_runtime.engine.forward import REPLY_HEADERS, Forwarder
from naftiko_runtime.engine.headers import (
    CLIENT_HEADERS,
    DEFAULT,
    link_rewriter,
    location_rewriter,
    passed_back,
)
from naftiko_runtime.engine.response import MAX_ERROR_BODY, status_error
from naftiko_runtime.engine.result import CallResult, Operation
from naftiko_runtime.engine.scripting import ScriptError
from naftiko_runtime.engine.uploads import Upload
from naftiko_runtime.errors import InvocationError, UpstreamError
from naftiko_runtime.secrets.redactor import Redactor, is_text
from naftiko_runtime.text.jsonpath import compile_path, simple_steps
from naftiko_runtime.text.placeholders import norm
from naftiko_runtime.upstream.base import close_stream

log = logging.getLogger("naftiko_runtime.rest")


@dataclass(frozen=True)
class RestEndpoint:
    """One route: method, the spec's path, and the compiled operation behind it."""

    method: str
    path: str
    operation: Operation
    name: str | None
    description: str | None
    guard: Guard | None = None
    event_stream: bool = False  # the consumed operation says `outputRawFormat: event-stream`
    limit: Any = None  # policies.ratelimit.Limits: the route's rate limits (`--policies`)


_JSON_HEADERS = [(b"content-type", b"application/json")]


def _error_body(kind: str, message: str, **extra: Any) -> bytes:
    return orjson.dumps({"error": {"type": kind, "message": message, **extra}})


class PayloadTooLarge(InvocationError):
    """The client sent more than this runtime reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message, [{"name": "body", "problem": "too large"}])


# every other upstream failure is a 502; `circuit_open` is a policy's (policies.errors)
_UPSTREAM_STATUS = {"timeout": 504, "busy": 503, "circuit_open": 503}
_SCRIPT_STATUS = {"timeout": 504, "busy": 503}  # every other script failure is a 500


def error_reply(exc: Exception, redact: Redactor) -> tuple[int, bytes, bytes]:
    """The one place runtime errors become HTTP statuses: (status, content type, body)."""
    if isinstance(exc, PayloadTooLarge):
        return 413, b"application/json", _error_body("payload_too_large", exc.message)
    if isinstance(exc, InvocationError):
        return (
            400,
            b"application/json",
            _error_body("invalid_request", exc.message, problems=exc.problems),
        )
    if isinstance(exc, UpstreamError):
        if exc.kind == "status" and exc.upstream_status is not None and exc.upstream_status < 500:
            kind = (exc.content_type or "application/json").split(";")[0].encode()
            body = exc.body or b""
            if body:  # any type: an echoed credential is one whatever the label says
                body = redact.bodies.redact_bytes(body, is_text(kind.decode("latin-1")))
            text = body[:MAX_ERROR_BODY]
            return exc.upstream_status, kind, text
        payload = exc.to_json()
        payload["error"]["message"] = redact(exc.message)
        status = _UPSTREAM_STATUS.get(exc.kind, 502)
        return status, b"application/json", orjson.dumps(payload)
    if isinstance(exc, ScriptError):
        status = _SCRIPT_STATUS.get(exc.kind, 500)
        payload = {"type": f"script_{exc.kind}", "message": redact(exc.message), "step": exc.step}
        return status, b"application/json", orjson.dumps({"error": payload})
    log.exception("internal error: %s", redact(repr(exc)))
    return (
        500,
        b"application/json",
        _error_body("internal_error", "internal error; see the server log"),
    )


Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Handler = Callable[[dict[str, Any], Receive, Send, dict[str, str]], Awaitable[None]]


SLASH_IN_SEGMENT = "\ue000"  # stands for an encoded `/` inside one segment while routing


def _query_pairs(raw: bytes) -> list[tuple[str, str]]:
    """Query pairs as UTF-8 text; bytes that are not UTF-8 are the client's error (400), never
    silently replaced with U+FFFD on their way upstream."""
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise InvocationError(
            "the query string is not valid UTF-8", [{"name": "query", "problem": "not UTF-8"}]
        ) from None


def _routable_path(raw: bytes) -> str:
    """The path to route on, decoded segment by segment from the raw bytes, so `%2F` stays
    inside its segment (a GitLab-style `group%2Fproject` id is one parameter)."""
    segments = []
    for segment in raw.split(b"/"):
        text = unquote_to_bytes(segment).decode("utf-8")  # strict: bad bytes are a 400
        segments.append(text.replace("/", SLASH_IN_SEGMENT))
    return "/".join(segments)


SHUTTING_DOWN = _error_body(
    "shutting_down", "the server stopped before this request finished; retry it"
)


async def _cut_by_shutdown(send: Send) -> None:
    """The grace period after SIGTERM ran out with this request in flight (the server cancels
    it): answer the documented 503 JSON rather than the server's bare plain-text 500."""
    with contextlib.suppress(Exception):
        await _respond(send, 503, SHUTTING_DOWN, extra=((b"connection", b"close"),))


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = b"application/json",
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


RouteFor = Callable[[str, str], "tuple[str, frozenset[str]] | None"]


def upstream_routes(endpoints: Sequence[RestEndpoint]) -> RouteFor:
    """(upstream base, path below it) → the gateway path serving it: each single-call
    route's consumed path as a pattern, filled into its own path (a GET route first)."""
    table: list[tuple[str, re.Pattern[str], str, frozenset[str]]] = []
    for endpoint in sorted(endpoints, key=lambda e: e.method != "GET"):
        call = getattr(endpoint.operation, "call", None)
        consumed = getattr(call, "operation", None)
        if call is None or consumed is None:
            continue
        pattern = "".join(
            f"(?P<{_group(m.group(1) or m.group(2))}>[^/\\\\]+)"
            if m.group(0).startswith("{")
            else re.escape(m.group(0))
            for m in re.finditer(r"\{\{([^}]+)\}\}|\{([^}]+)\}|[^{]+", consumed.path)
        )
        accepted = frozenset(
            norm(i.name) for i in endpoint.operation.inputs if i.location == "query"
        )
        table.append((str(call.base_url), re.compile(pattern + "/?"), endpoint.path, accepted))

    def route_for(base: str, path: str) -> tuple[str, frozenset[str]] | None:
        for own_base, pattern, route, accepted in table:
            if own_base != base:
                continue
            found = pattern.fullmatch(path)
            if found is None:
                continue
            values = found.groupdict()
            names = [_group(n) for n in re.findall(r"\{([^}]+)\}", route)]
            if any(n not in values for n in names):  # a variable the upstream path lacks
                continue
            pieces = re.split(r"\{[^}]+\}", route)  # literal parts around the variables
            filled = "".join(
                p + (values[n] if i < len(names) else "")
                for i, (p, n) in enumerate(zip(pieces, [*names, ""], strict=True))
            )
            return filled, accepted
        return None

    return route_for


def _group(name: str) -> str:
    return "v_" + re.sub(r"[^A-Za-z0-9_]", "_", norm(name))


def _passed_back(
    result: CallResult,
    scope: dict[str, Any],
    routes: RouteFor,
    redact: Redactor,
    accepted: frozenset[str],
) -> list[tuple[bytes, bytes]]:
    """The upstream's end-to-end headers the client gets (engine.headers' policy), each
    value redacted as bodies are (a paging link may repeat the request's query key)."""
    policy = result.header_policy or DEFAULT
    if not any(policy.passes_back(name) for name, _ in result.upstream_headers or ()):
        return []  # the common case (a plain JSON answer): no rewriter built
    base = result.upstream_base

    def here() -> tuple[str, frozenset[str]]:
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        return raw.decode("latin-1"), accepted

    passed = passed_back(
        result.upstream_headers,
        link_rewriter(base, lambda path: routes(base, path), here),
        location_rewriter(base, lambda path: routes(base, path)),
        policy,
    )
    bodies = redact.bodies
    return [(name, bodies.redact_bytes(value)) for name, value in passed]


def _handler(endpoint: RestEndpoint, redact: Redactor, routes: RouteFor) -> Handler:
    """Request → inputs → compiled operation → response, for one route and method."""
    operation = endpoint.operation
    by_location: dict[str, list[str]] = {}
    fixed: dict[str, str] = {}
    body_inputs: list[tuple[str, Any, str | None]] = []
    for item in operation.inputs:
        if item.value is not None and not item.value.startswith("$"):
            fixed[item.name] = item.value  # a fixed value, whatever `in` says (reference)
            continue
        by_location.setdefault(item.location, []).append(item.name)
        if item.location == "body":
            body_inputs.append(
                (
                    item.name,
                    compile_path(item.value) if item.value is not None else None,
                    member_of(item.value),
                )
            )
    query_names = {norm(n): n for n in by_location.get("query", [])}
    query_accepted = frozenset(query_names)  # what a paging link may carry to this route
    header_names = {n.lower().encode("latin-1"): n for n in by_location.get("header", [])}
    cookie_names = set(by_location.get("cookie", []))

    # a rate-limited route counts a request once its caller is authenticated
    guard = endpoint.guard if endpoint.limit is None else endpoint.limit.guarding(endpoint.guard)
    bodies = redact.bodies

    async def handle(
        scope: dict[str, Any], receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        if guard is not None and not await guard.admit(scope, send):
            return
        inputs: dict[str, Any] = {**fixed, **params} if fixed else dict(params)
        try:
            raw_query = scope["query_string"]
            if query_names and raw_query:
                for key, value in _query_pairs(raw_query):
                    name = query_names.get(norm(key))
                    if name is not None:
                        gather(inputs, name, value)
            if header_names or cookie_names:
                _header_inputs(scope, header_names, cookie_names, inputs)
            if body_inputs:
                kind = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
                inputs.update(await _body_inputs(receive, body_inputs, kind))
            token = CLIENT_HEADERS.set(scope["headers"])  # each call picks by its policy
            try:
                result = await operation(inputs)
            finally:
                CLIENT_HEADERS.reset(token)
        except asyncio.CancelledError:
            await _cut_by_shutdown(send)
            raise
        except Exception as exc:  # ours map to their status; anything else is a logged 500
            status, kind, body = error_reply(exc, redact)
            extra: list[tuple[bytes, bytes]] = []
            if isinstance(exc, UpstreamError) and exc.headers and status == exc.upstream_status:
                passed = CallResult(
                    status,
                    "",
                    upstream_headers=exc.headers,
                    upstream_base=exc.base,
                    header_policy=exc.policy,
                )
                # an SDK reads Retry-After here
                extra = _passed_back(passed, scope, routes, redact, query_accepted)
            elif isinstance(exc, UpstreamError) and exc.kind == "circuit_open":
                extra = getattr(exc, "reply_headers", [])  # its Retry-After
            await _respond(send, status, body, kind, extra)
            return
        if result.stream is not None:
            await _stream(
                send,
                result.status,
                result.content_type,
                result.stream,
                operation.name,
                redact,
                gone=receive,  # the body is read: the next message can only be a disconnect
            )
            return
        extra = (
            _passed_back(result, scope, routes, redact, query_accepted)
            if result.upstream_headers
            else []
        )
        if result.raw == b"" and result.shaped is None:  # 204, and a 304 with its validators
            await send({"type": "http.response.start", "status": result.status, "headers": extra})
            await send({"type": "http.response.body", "body": b""})
            return
        if result.binary and result.raw is not None:  # a media type the client asked for
            kind = result.content_type.encode("latin-1")
            body = bodies.redact_bytes(result.raw, is_text(result.content_type))
            await _respond(send, result.status, body, kind, extra)
            return
        await _respond(send, result.status, bodies.redact_bytes(result.body()), extra=extra)

    return handle


def _header_inputs(
    scope: dict[str, Any],
    header_names: dict[bytes, str],
    cookie_names: set[str],
    inputs: dict[str, Any],
) -> None:
    for key, value in scope["headers"]:
        name = header_names.get(key)
        if name is not None:
            inputs[name] = value.decode("latin-1")
        elif key == b"cookie" and cookie_names:
            for part in value.decode("latin-1").split(";"):
                cookie, _, cookie_value = part.strip().partition("=")
                if cookie in cookie_names:
                    inputs[cookie] = unquote(cookie_value)


async def _body_inputs(
    receive: Receive, inputs: list[tuple[str, Any, str | None]], content_type: bytes = b""
) -> dict[str, Any]:
    """Body inputs as the reference reads them: a `$.path` into the JSON body, else the
    field of the input's name, else (one body input) the whole body. A form body (what the
    SDKs of form APIs such as Twilio's send) is read as the object of its fields, a key
    given more than once as a list."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORWARD_BODY:
            raise PayloadTooLarge(f"request body is larger than {MAX_FORWARD_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    raw = b"".join(chunks)
    if not raw:
        return {}
    payload: Any
    media = content_type.split(b";", 1)[0].strip().lower()
    if media in (b"application/x-www-form-urlencoded", b"multipart/form-data"):
        read = _form_fields if media != b"multipart/form-data" else _multipart_fields
        # a form of thousands of tiny fields costs seconds of CPU: never on the event loop
        if len(raw) > 64 * 1024:
            payload = await asyncio.to_thread(read, content_type, raw)
        else:
            payload = read(content_type, raw)
    else:
        try:
            payload = jsoncodec.loads(raw)
        except (ValueError, RecursionError):
            raise InvocationError(
                "request body is not valid JSON", [{"name": "body", "problem": "not JSON"}]
            ) from None
    values: dict[str, Any] = {}
    for name, extract, member in inputs:
        if extract is not None:
            value = extract(payload)
            if value is None and isinstance(payload, dict) and member in payload:
                values[name] = None  # the client sent `null`: it goes up as null
                continue
        elif isinstance(payload, dict) and name in payload:
            value = payload[name]
        elif len(inputs) == 1:
            value = payload
        else:
            if not isinstance(payload, dict):
                raise InvocationError(
                    "request body must be a JSON object",
                    [{"name": "body", "problem": "not an object"}],
                )
            continue
        if value is not None:
            values[name] = value
    return values


def member_of(value: str | None) -> str | None:
    """The one body member a `$.name` (or `$['a.b']`) input reads, else None."""
    steps = simple_steps(value) if value is not None else None
    return steps[0] if steps and len(steps) == 1 and isinstance(steps[0], str) else None


def _multipart_fields(content_type: bytes, raw: bytes) -> dict[str, Any]:
    """A multipart form's fields (the standard library's MIME parser): text as text, a
    part with a filename as an Upload (bytes, name and type, sent up as they came)."""
    import email.parser
    import email.policy

    if raw.count(b"\n--") > MAX_FORM_FIELDS:  # every part starts on a line of its own
        raise _too_many_fields()
    head = b"Content-Type: " + content_type + b"\r\nMIME-Version: 1.0\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise InvocationError(
            "request body is not a multipart form", [{"name": "body", "problem": "not multipart"}]
        )
    try:
        return _parts(message)
    except (LookupError, ValueError, UnicodeError):  # an unknown charset, a bad header
        raise InvocationError(
            "request body has a part that cannot be read",
            [{"name": "body", "problem": "unreadable part"}],
        ) from None


def _too_many_fields() -> InvocationError:
    return InvocationError(
        f"request body has more than {MAX_FORM_FIELDS} fields",
        [{"name": "body", "problem": "too many fields"}],
    )


def _parts(message: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        content = part.get_payload(decode=True)
        data = content if isinstance(content, bytes) else b""
        filename = part.get_filename()
        value: Any
        if filename is not None:
            value = Upload(filename, part.get_content_type(), data)
        else:
            charset = part.get_content_charset() or "utf-8"
            value = data.decode(charset, "replace")
        gather(fields, name, value)
    return fields


MAX_FORM_FIELDS = 1000  # fields of a form body; past it, a 400 before any is parsed


def _form_fields(content_type: bytes, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvocationError(
            "request body is not UTF-8", [{"name": "body", "problem": "not UTF-8"}]
        ) from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise _too_many_fields() from None
    fields: dict[str, Any] = {}
    for key, value in pairs:
        gather(fields, key, value)
    return fields


def gather(values: dict[str, Any], key: str, value: Any) -> None:
    """`value` under `key`; a key given more than once becomes the list of its values (a
    repeated query key, form field or multipart part)."""
    previous = values.get(key)
    if previous is None:
        values[key] = value
    elif isinstance(previous, list):
        previous.append(value)
    else:
        values[key] = [previous, value]


async def _stream(
    send: Send,
    status: int,
    content_type: str,
    stream: AsyncIterator[bytes],
    name: str,
    redact: Redactor,
    headers: list[tuple[bytes, bytes]] | None = None,
    gone: Receive | None = None,
) -> None:
    """Pass chunks through as they come (redacted). With `gone` (the request's `receive`,
    its body already read), a client that disconnects ends the upstream stream at once
    instead of it being read to its end for nobody. A failure mid-stream is logged and shown:
    an event stream ends with an `event: error` carrying the error JSON, any other stream is
    cut without its terminating chunk, so no client mistakes it for a complete body.
    `headers` replaces the event-stream defaults (a forwarded reply keeps its own)."""
    if headers is None:
        headers = [
            (b"content-type", content_type.encode("latin-1")),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    scrub = redact.bodies.stream(is_text(content_type))  # any type (see may_contain)
    watcher = asyncio.ensure_future(_on_disconnect(gone)) if gone is not None else None
    streaming = [True]
    if watcher is not None:
        task = asyncio.current_task()

        def client_gone(w: asyncio.Future[None]) -> None:
            if streaming[0] and not w.cancelled() and task is not None:
                task.cancel()

        watcher.add_done_callback(client_gone)
    try:
        async for chunk in stream:
            chunk = scrub.feed(chunk)
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        rest = scrub.flush()
        if rest:
            await send({"type": "http.response.body", "body": rest, "more_body": True})
    except OSError:  # the client went away
        pass
    except asyncio.CancelledError:
        if watcher is None or not watcher.done() or watcher.cancelled():
            raise  # a shutdown, not the client leaving
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        return
    except Exception as exc:  # the status is sent already: say why in the stream and the log
        log.warning("stream from %s ended early: %s", name, redact(str(exc)))
        if not content_type.lower().startswith("text/event-stream"):
            return  # uvicorn closes the connection: the body is visibly incomplete
        _, _, payload = error_reply(exc, redact)
        event = b"event: error\ndata: " + payload + b"\n\n"
        await send({"type": "http.response.body", "body": event, "more_body": True})
    finally:
        streaming[0] = False
        if watcher is not None and not watcher.done():
            watcher.cancel()
        await close_stream(stream)
    await send({"type": "http.response.body", "body": b""})


async def _on_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class RestApp:
    """A raw ASGI app: static routes by dict lookup, parameter routes by compiled regex.

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
            (f, _forward_handler(f, redact))
            for f in sorted(forwards, key=lambda f: -len(f.forwarder.prefix))
        ]
        guards = [e.guard for e in endpoints] + [f.guard for f in forwards]
        # an authenticated port: what is not routed is answered 401 unless some adapter's
        # credentials pass, so 404/405/redirects never reveal which routes exist
        self.gate: tuple[Guard, ...] = ()
        if guards and all(g is not None for g in guards):
            self.gate = tuple({id(g): g for g in guards if g is not None}.values())
        self.static: dict[str, dict[str, Handler]] = {}
        self.dynamic: RouteTable[dict[str, Handler]] = RouteTable()
        routes = upstream_routes(endpoints)
        for endpoint in sorted(endpoints, key=_sort_key):
            handler = _handler(endpoint, redact, routes)
            if endpoint.limit is not None:  # its answers carry the RateLimit fields
                handler = endpoint.limit.stamping(handler)
            if metrics is not None:  # the route template, never a request's values
                handler = _metered(handler, f"{endpoint.method} {endpoint.path}", metrics)
            if tracing is not None:
                handler = _traced(handler, endpoint, tracing)
            if "{" not in endpoint.path:
                self.static.setdefault(endpoint.path, {})[endpoint.method] = handler
            else:
                methods = self.dynamic.get(endpoint.path)
                if methods is None:
                    methods = {}
                    self.dynamic.add(endpoint.path, methods)
                methods[endpoint.method] = handler
        for guard in {id(g): g for g in guards if g is not None}.values():
            metadata = guard.metadata()
            if metadata is not None:  # RFC 9728, public: how clients find the server
                body = orjson.dumps(metadata)

                async def serve_metadata(
                    scope: dict[str, Any],
                    receive: Receive,
                    send: Send,
                    params: dict[str, str],
                    body: bytes = body,
                ) -> None:
                    await _respond(send, 200, body)

                suffix = urlparse(str(metadata.get("resource", ""))).path.rstrip("/")
                for path in {METADATA_PATH, METADATA_PATH + suffix}:
                    self.static.setdefault(path, {}).setdefault("GET", serve_metadata)
        if openapi is not None:
            document = self._openapi = orjson.dumps(openapi)

            async def serve_openapi(
                scope: dict[str, Any], receive: Receive, send: Send, params: dict[str, str]
            ) -> None:
                await _respond(send, 200, document)

            self.static.setdefault("/openapi.json", {})["GET"] = serve_openapi
            from naftiko_runtime.adapters.rest.docs import docs_routes

            title = str(openapi.get("info", {}).get("title") or "naftiko-runtime")
            for path, handler in docs_routes(title).items():
                self.static.setdefault(path, {}).setdefault("GET", handler)  # a spec's own wins

    async def _passes_gate(self, scope: dict[str, Any], send: Send) -> bool:
        for guard in self.gate:
            if await guard.passes(scope):
                return True
        await self.gate[0].reject(send, scope)
        return False

    @property
    def openapi(self) -> dict[str, Any] | None:
        """The OpenAPI document served at `/openapi.json` (decoded afresh: for `export`)."""
        return orjson.loads(self._openapi) if self._openapi is not None else None

    def match(self, path: str) -> tuple[dict[str, Handler], dict[str, str]] | None:
        methods = self.static.get(path)
        if methods is not None:
            return methods, {}
        found = self.dynamic.match(path)
        if found is None:
            return None
        _, handlers, params = found
        if SLASH_IN_SEGMENT in path:
            params = {k: v.replace(SLASH_IN_SEGMENT, "/") for k, v in params.items()}
        return handlers, params

    def route_of(self, method: str, path: str) -> str:
        """The route template a path is served by (for access lines), `-` when none."""
        if path in self.static:
            return path
        found = self.dynamic.match(path)
        if found is not None:
            return found[0]
        for forward, _ in self.forwards:
            if forward.forwarder.matches(path):
                return forward.forwarder.prefix + "*"
        return "-"

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await lifespan(receive, send)
            return
        if kind != "http":
            return
        path = scope["path"]
        raw_path = scope.get("raw_path")
        if raw_path is not None and (b"%" in raw_path or not raw_path.isascii()):
            try:
                path = _routable_path(raw_path)
            except UnicodeDecodeError:
                problem = [{"name": "path", "problem": "not UTF-8"}]
                message = "the request path is not valid UTF-8"
                await _respond(send, 400, _error_body("invalid_request", message, problems=problem))
                return
        found = self.match(path)
        if found is None and self.forwards:
            raw_path = scope.get("raw_path") or path.encode()
            raw = raw_path.decode("latin-1")
            for forward, handle in self.forwards:
                if forward.forwarder.matches(raw):
                    await handle(scope, receive, send, {})
                    return
        if found is None:
            if self.gate and not await self._passes_gate(scope, send):
                return
            other = path[:-1] if path.endswith("/") else path + "/"
            if len(path) > 1 and self.match(other) is not None:
                query = scope["query_string"]
                raw = scope.get("raw_path") or other.encode()
                target = raw[:-1] if raw.endswith(b"/") else raw + b"/"
                location = quote(target, safe="/%:@!$&'()*+,;=-._~").encode()
                if query:
                    location += b"?" + query
                await _respond(send, 307, b"", extra=[(b"location", location)])
                return
            await _respond(
                send,
                404,
                _error_body("not_found", f"no route for {scope['method']} {scope['path']}"),
            )
            return
        handlers, params = found
        method = scope["method"]
        handler = handlers.get(method) or (handlers.get("GET") if method == "HEAD" else None)
        if handler is None:
            if self.gate and not await self._passes_gate(scope, send):
                return
            allow = ", ".join(sorted(handlers)).encode()
            await _respond(
                send,
                405,
                _error_body("method_not_allowed", f"{method} is not allowed on {path}"),
                extra=[(b"allow", allow)],
            )
            return
        await handler(scope, receive, send, params)


def _sort_key(endpoint: RestEndpoint) -> tuple[int, str]:
    # literal segments before parameters, so /v1/jobs/active wins over /v1/jobs/{job-id}
    segments = endpoint.path.split("/")
    return (sum(1 for s in segments if "{" in s), endpoint.path)


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


def _metered(handler: Handler, name: str, metrics: Any) -> Handler:
    async def handle(
        scope: dict[str, Any], receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        status = 500
        started = time.perf_counter()

        async def watch(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await handler(scope, receive, watch, params)
        finally:
            metrics.observe("rest", name, status, time.perf_counter() - started)

    return handle


def _traced(handler: Handler, endpoint: RestEndpoint, tracing: Any) -> Handler:
    """A `rest.request` server span per request, as the reference names it, continuing the
    client's trace (`traceparent`); the route template, never the request's values."""
    from opentelemetry.trace import StatusCode

    attributes = {
        "naftiko.adapter.type": "rest",
        "naftiko.operation.id": f"{endpoint.path} {endpoint.method}",
        "http.request.method": endpoint.method,
        "http.route": endpoint.path,
    }

    async def handle(
        scope: dict[str, Any], receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        context = tracing.extract_headers(scope["headers"])
        with tracing.server_span("rest.request", context, attributes) as span:

            async def watch(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    if message["status"] >= 500:
                        span.set_status(StatusCode.ERROR)
                await send(message)

            await handler(scope, receive, watch, params)

    return handle


@dataclass(frozen=True)
class ForwardEndpoint:
    """A forward route with the guard of its adapter."""

    forwarder: Forwarder
    guard: Guard | None = None


MAX_FORWARD_BODY = 10 * 1024 * 1024


def _forward_handler(endpoint: ForwardEndpoint, redact: Redactor) -> Handler:
    forwarder = endpoint.forwarder
    guard = endpoint.guard

    async def handle(
        scope: dict[str, Any], receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        if guard is not None and not await guard.admit(scope, send):
            return
        method = scope["method"]
        if method not in forwarder.methods:
            allow = ", ".join(sorted(forwarder.methods)).encode()
            message = f"{method} is not forwarded to {forwarder.route.namespace}"
            body = _error_body("method_not_allowed", message)
            await _respond(send, 405, body, extra=[(b"allow", allow)])
            return
        headers = scope["headers"]
        has_body = False
        for key, value in headers:
            if key == b"transfer-encoding":
                has_body = True
            elif key == b"content-length":
                has_body = True
                if not value.isdigit() or int(value) > MAX_FORWARD_BODY:  # refused unread
                    too_large = PayloadTooLarge(f"request body is larger than {MAX_FORWARD_BODY}")
                    status, kind, payload = error_reply(too_large, redact)
                    await _respond(send, status, payload, kind, extra=[(b"connection", b"close")])
                    return
        failed: list[Exception] = []  # why the client's body ended early, if it did
        stream = _request_stream(receive, MAX_FORWARD_BODY, failed) if has_body else None
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        try:
            request = forwarder.request(
                method, raw_path, scope["query_string"].decode("latin-1"), headers, stream
            )
            reply = await forwarder.send(request)
            if reply.stream is None and reply.status >= 400:
                raise status_error(reply, forwarder.name)
        except asyncio.CancelledError:
            await _cut_by_shutdown(send)
            raise
        except Exception as exc:  # ours map to their status; anything else is a logged 500
            # the client's body failing mid-send surfaces as an upstream error: say the cause
            status, kind, payload = error_reply(failed[0] if failed else exc, redact)
            extra = getattr(exc, "reply_headers", []) if not failed else []  # circuit open
            await _respond(send, status, payload, kind, extra)
            return
        if reply.stream is None:
            # any type: an echo of the gateway's credential is one whatever the label says
            scrubbed = redact.bodies.redact_bytes(reply.body, is_text(reply.content_type))
            await _respond(send, reply.status, scrubbed, reply.content_type.encode("latin-1"))
            return
        out_headers = [
            # redacted (a Location too); raw bytes back as they came (not always latin-1)
            (k.lower().encode("latin-1"), redact(v).encode("utf-8", "surrogateescape"))
            for k, v in reply.headers or []
            if k.lower() in REPLY_HEADERS
        ]
        await _stream(
            send,
            reply.status,
            reply.content_type,
            reply.stream,
            forwarder.name,
            redact,
            out_headers,
        )

    return handle


async def _request_stream(
    receive: Receive, limit: int, failed: list[Exception]
) -> AsyncIterator[bytes]:
    """The client's body as it arrives, cut at `limit` bytes; why it was cut goes in
    `failed` (the upstream client reports it as its own failure to send)."""
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":  # cut short: never a complete body upstream
            failed.append(
                InvocationError(
                    "the client went away before its body was complete",
                    [{"name": "body", "problem": "incomplete"}],
                )
            )
            raise failed[-1]
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            failed.append(PayloadTooLarge(f"request body is larger than {limit} bytes"))
            raise failed[-1]
        if chunk:
            yield chunk
        if not message.get("more_body"):
            return
