"""The 2026-07-28 `tools/call` answered without the SDK's per-request machinery.

A modern-era call is one stateless POST. The SDK serves it through a connection object, a
dispatch context, a runner, a task group with a disconnect watcher and a memory stream, and
two pydantic passes over the result: about four fifths of the server's CPU per call (the
profile in docs/performance.md). This path runs the same checks with the SDK's
own functions (transport security, the envelope ladder, routing-header duplicates,
`Mcp-Param-*` agreement), calls the tool and writes the reply the SDK would write, with
the same keys. Anything it does not recognise as a plain, valid call of a known tool goes
to the SDK untouched, which then answers exactly as before: the fast path never produces
an error of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import orjson
from mcp.server.runner import modern_error_data
from mcp.server.transport_security import (
    DEFAULT_MAX_REQUEST_BODY_SIZE,
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
    validate_mcp_param_headers,
)
from mcp_types import CallToolResult, TextContent
from mcp_types import methods as _methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from naftiko_runtime import jsoncodec
from naftiko_runtime.adapters.mcp import sdk_surface
from naftiko_runtime.adapters.mcp.results import ToolResult

MODERN = frozenset(v.encode() for v in MODERN_PROTOCOL_VERSIONS)
PARAM_PREFIX_TEXT = "mcp-param-"
# The SDK commits a slow call to `text/event-stream` and pings after this long, so an
# idle-read timeout in a proxy does not cut it; the fast path does the same.
PING_INTERVAL = 15.0
# A call still running after this long has its client watched: a disconnect cancels it.
WATCH_AFTER = 0.5
SERVER_INFO = "io.modelcontextprotocol/serverInfo"
_ENVELOPE = frozenset({"jsonrpc", "id", "method", "params"})
_PARAMS = frozenset({"name", "arguments", "_meta"})
_JSON_HEADERS = [(b"content-type", b"application/json")]
_PING = b": ping\r\n\r\n"
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]

Call = Callable[[str, dict[str, Any], Any, list[tuple[bytes, bytes]]], Awaitable[CallToolResult]]


def fast_candidate(scope: dict[str, Any]) -> bool:
    """Headers say: a modern-era `tools/call` POST (cheap: no body read, no parse)."""
    method = version = False
    for key, value in scope["headers"]:
        if key == b"mcp-method":
            method = value == b"tools/call"
        elif key == b"mcp-protocol-version":
            version = bytes(value) in MODERN
    return method and version and scope["method"] == "POST"


def _accepts_both(accept: str) -> bool:
    """JSON and SSE both acceptable, as the SDK requires of a call it may stream."""
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if "*/*" in kinds:
        return True
    json_ok = bool(kinds & {"application/json", "application/*"})
    return json_ok and bool(kinds & {"text/event-stream", "text/*"})


class FastCalls:
    """The fast path of one MCP endpoint; `tools` and `schema` read the live (reloadable)
    tool set."""

    def __init__(
        self,
        known: Callable[[str], bool],
        schema: Callable[[str], Mapping[str, Any] | None],
        call: Call,
        server_info: Callable[[], dict[str, Any]],
        security: TransportSecuritySettings | None,
    ) -> None:
        self.known, self.schema, self.call = known, schema, call
        self.server_info = server_info
        self.security = TransportSecurityMiddleware(security)
        self._annotations: dict[str, tuple[Mapping[str, Any], bool]] = {}

    async def handle(self, scope: dict[str, Any], body: bytes, receive: Any, send: Any) -> bool:
        """Answer the call and return True, or return False having sent nothing."""
        if len(body) > DEFAULT_MAX_REQUEST_BODY_SIZE:
            return False
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = dict(pairs)
        if len(headers) != len(pairs):  # a repeated header: the SDK reads the first, and may refuse
            return False
        if not _accepts_both(headers.get("accept", "")):
            return False
        if not self._secure(headers):
            return False
        try:
            decoded = jsoncodec.loads(body)
        except (ValueError, RecursionError):
            return False
        prepared = self._prepared(decoded, pairs, headers)
        if prepared is None:
            return False
        request_id, name, arguments, meta = prepared
        version = meta["io.modelcontextprotocol/protocolVersion"]
        await _Exchange(request_id, version, self, receive, send).run(
            self.call(name, arguments, meta, scope["headers"])
        )
        return True

    def _secure(self, headers: dict[str, str]) -> bool:
        """The SDK's transport checks (content type; Host and Origin when DNS-rebinding
        protection is on) pass."""
        content_type = headers.get("content-type")
        if content_type is None or not content_type.lower().startswith("application/json"):
            return False
        if not self.security.settings.enable_dns_rebinding_protection:
            return True
        return sdk_surface.host_and_origin_allowed(self.security, headers)

    def _prepared(
        self, decoded: Any, pairs: list[tuple[str, str]], headers: dict[str, str]
    ) -> tuple[int | str, str, dict[str, Any], dict[str, Any]] | None:
        """(id, tool, arguments, _meta) of a plain valid call of a known tool, else None."""
        if not isinstance(decoded, dict) or decoded.keys() != _ENVELOPE:
            return None
        request_id, params = decoded["id"], decoded["params"]
        if decoded["jsonrpc"] != "2.0" or decoded["method"] != "tools/call":
            return None
        if isinstance(request_id, bool) or not isinstance(request_id, int | str):
            return None
        if not isinstance(params, dict) or not params.keys() <= _PARAMS:
            return None
        name, arguments, meta = params.get("name"), params.get("arguments", {}), params.get("_meta")
        if not isinstance(name, str) or not isinstance(arguments, dict) or not self.known(name):
            return None
        if not isinstance(meta, dict):
            return None
        if find_duplicated_routing_header(pairs) is not None:
            return None
        verdict = classify_inbound_request(decoded, headers=headers)
        if isinstance(verdict, InboundLadderRejection):
            return None
        try:  # the shapes of `_meta` and the rest, as the SDK's runner checks them
            _methods.validate_client_request("tools/call", verdict.protocol_version, params)
        except ValidationError:
            return None
        with_params = any(key.startswith(PARAM_PREFIX_TEXT) for key, _ in pairs)
        schema = self.schema(name)
        if schema is not None and (with_params or (arguments and self._annotated(name, schema))):
            if validate_mcp_param_headers(schema, arguments, headers):
                return None
        return request_id, name, arguments, meta

    def _annotated(self, name: str, schema: Mapping[str, Any]) -> bool:
        """The tool's schema routes some argument to an `Mcp-Param-*` header (checked
        once per schema): only then can arguments without such headers disagree."""
        known = self._annotations.get(name)
        if known is None or known[0] is not schema:  # new, or its tool changed in a reload
            known = (schema, b'"x-mcp-header"' in jsoncodec.dumps(schema))
            self._annotations[name] = known
        return known[1]

    def _reply(self, request_id: int | str, version: str, result: CallToolResult) -> bytes:
        """The JSON-RPC response, keyed as the SDK's runner keys it."""
        texts = [item for item in result.content if type(item) is TextContent]
        plain = result.meta is None and all(t.meta is None for t in texts)
        if len(texts) == len(result.content) and plain:
            dumped: dict[str, Any] = {
                "content": [
                    {"text": item.text, "type": "text"}
                    if item.annotations is None
                    else item.model_dump(by_alias=True, mode="json", exclude_none=True)
                    for item in texts
                ],
                "isError": result.is_error,
                "resultType": "complete",
            }
            if result.structured_content is not None:
                written = result.structured_json if isinstance(result, ToolResult) else None
                dumped["structuredContent"] = (
                    result.structured_content if written is None else orjson.Fragment(written)
                )
        else:  # images, resources, audio: the SDK's own dump and per-version sieve
            dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
            dumped = _methods.serialize_server_result("tools/call", version, dumped)
            dumped.setdefault("resultType", "complete")
        meta = dumped.get("_meta")
        if meta is None:
            dumped["_meta"] = {SERVER_INFO: self.server_info()}
        elif isinstance(meta, dict) and meta.get(SERVER_INFO) is None:  # the handler's own wins
            dumped["_meta"] = {**meta, SERVER_INFO: self.server_info()}
        reply = {"jsonrpc": "2.0", "id": request_id, "result": dumped}
        if type(dumped.get("structuredContent")) is orjson.Fragment:
            try:  # the tool's JSON as it was written once (results.tool_result)
                return orjson.dumps(reply)
            except TypeError:  # an id orjson cannot write (an integer past 64 bits)
                dumped["structuredContent"] = result.structured_content
        return jsoncodec.dumps(reply)


class _Exchange:
    """One call's reply: JSON when the call ends within the ping interval, else an event
    stream that pings until it does (as the SDK answers); an error as the SDK maps it; a
    client that disconnects cancels the call (the 2026-07-28 way to cancel). Timers, not
    tasks, until a call is slow: the common call creates no task of its own."""

    def __init__(
        self, request_id: int | str, version: str, calls: FastCalls, receive: Any, send: Any
    ) -> None:
        self.request_id, self.version, self.calls = request_id, version, calls
        self.receive, self.send = receive, send
        self.committed = False  # the event stream's start was sent
        self.done = False
        self.gone = False
        self.helpers: list[asyncio.Task[None]] = []

    async def run(self, call: Awaitable[CallToolResult]) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        timers = [
            loop.call_later(WATCH_AFTER, self._spawn, self._watch, task),
            loop.call_later(PING_INTERVAL, self._spawn, self._pings),
        ]
        try:
            reply = self.calls._reply(self.request_id, self.version, await call)
            status = 200
        except asyncio.CancelledError:
            if not self.gone:
                raise
            assert task is not None
            task.uncancel()
            return  # the client left: nobody to answer
        except Exception as exc:
            error = modern_error_data(exc).model_dump(by_alias=True, mode="json", exclude_none=True)
            reply = jsoncodec.dumps({"jsonrpc": "2.0", "id": self.request_id, "error": error})
            status = ERROR_CODE_HTTP_STATUS.get(error["code"], 200)
        finally:
            self.done = True
            for timer in timers:
                timer.cancel()
            for helper in self.helpers:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await helper
        if self.committed:
            event = b"event: message\r\ndata: " + reply + b"\r\n\r\n"
            await self.send({"type": "http.response.body", "body": event})
            return
        headers = [*_JSON_HEADERS, (b"content-length", str(len(reply)).encode())]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": reply})

    def _spawn(self, helper: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        if not self.done:  # a timer that fires in the very turn the call ended does nothing
            self.helpers.append(asyncio.ensure_future(helper(*args)))

    async def _pings(self) -> None:
        """A slow call: commit to an event stream and keep it alive."""
        await self.send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        self.committed = True
        while True:
            await self.send({"type": "http.response.body", "body": _PING, "more_body": True})
            await asyncio.sleep(PING_INTERVAL)

    async def _watch(self, task: asyncio.Task[Any] | None) -> None:
        """Past WATCH_AFTER, a disconnect cancels the call (a quicker call just ends)."""
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                if not self.done and task is not None:
                    self.gone = True
                    task.cancel()
                return
