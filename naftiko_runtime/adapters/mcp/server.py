"""Model → MCP servers (official `mcp` SDK): tools, resources and prompts from the spec.

Tools run the same compiled operations as REST. Caller mistakes and upstream failures come
back as tool results with `isError` (never a protocol crash); an unknown tool or resource is
an `INVALID_PARAMS` protocol error. Tool lists and schemas are built once at start-up.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import unquote, urlparse

import anyio.to_thread
from mcp import types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette

from naftiko_runtime import __version__, jsoncodec
from naftiko_runtime.adapters.asgi import respond_json
from naftiko_runtime.adapters.auth.base import METADATA_PATH, Guard
from naftiko_runtime.adapters.files import MAX_FILE_BYTES, Unservable, read_capped, regular_files
from naftiko_runtime.adapters.mcp.fast import FastCalls, fast_candidate
from naftiko_runtime.adapters.mcp.sessions import SESSION_HEADER, SessionBound
from naftiko_runtime.adapters.mcp.sse import EventStreamDecoder
from naftiko_runtime.capability.model import (
    AnyInvocation,
    Capability,
    McpAdapter,
    McpPrompt,
)
from naftiko_runtime.engine.headers import PAGING_META, next_page
from naftiko_runtime.engine.inputs import input_schema
from naftiko_runtime.engine.outputs import tool_output_schema
from naftiko_runtime.engine.result import CallResult, Operation
from naftiko_runtime.errors import (
    InvocationError,
    NaftikoError,
    StartupError,
    UpstreamBadResponseError,
    UpstreamError,
)
from naftiko_runtime.secrets.bindings import Redactor
from naftiko_runtime.secrets.redactor import is_text
from naftiko_runtime.text.placeholders import PLACEHOLDER as _PLACEHOLDER
from naftiko_runtime.text.placeholders import VARIABLE as _PROMPT_ARGUMENT
from naftiko_runtime.text.placeholders import uri_pattern as _uri_pattern
from naftiko_runtime.upstream.base import close_stream

log = logging.getLogger("naftiko_runtime.mcp")

MCP_PATH = "/mcp"
LIST_TTL_MS = 10_000  # a reload reaches a 2026-07-28 client within this
MAX_STREAM_BYTES = 4 * 1024 * 1024
MAX_BINARY_BYTES = 16 * 1024 * 1024
Compile = Callable[[Capability, AnyInvocation, tuple[str, ...]], Operation]
_Lists = tuple[
    types.ListToolsResult,
    types.ListResourcesResult,
    types.ListPromptsResult,
    types.ListResourceTemplatesResult,
]


@dataclass
class _ToolEntry:
    tool: types.Tool
    operation: Operation
    accepted: frozenset[str]
    wrap: bool = False  # the outputSchema wraps results as {"result": ...}


@dataclass
class _ResourceEntry:
    resource: types.Resource
    operation: Operation | None
    location: Path | None  # a file, or a directory served file by file under `uri/`


@dataclass
class _TemplateEntry:
    """A resource whose URI has `{name}` placeholders: listed as a template, read by match."""

    template: types.ResourceTemplate
    operation: Operation
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    mime_type: str | None


_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
_MIME_BY_SUFFIX = {
    ".md": "text/markdown",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".csv": "text/csv",
    ".html": "text/html",
}


def _mime_of(path: Path) -> str:
    return _MIME_BY_SUFFIX.get(path.suffix.lower(), "application/octet-stream")


def _render_prompt(text: str, arguments: dict[str, str]) -> str:
    """`{{name}}` replaced by its argument; one not given stays as written, as the
    reference renders it (the client sees what it left out)."""
    return _PROMPT_ARGUMENT.sub(lambda m: arguments.get(m.group(1), m.group(0)), text)


@dataclass
class McpServerSet:
    """Everything one MCP endpoint serves, merged from every adapter on the same port."""

    name: str
    redact: Redactor
    tools: dict[str, _ToolEntry] = field(default_factory=dict)
    resources: dict[str, _ResourceEntry] = field(default_factory=dict)
    templates: list[_TemplateEntry] = field(default_factory=list)
    prompts: dict[str, McpPrompt] = field(default_factory=dict)
    prompt_files: dict[str, Path] = field(default_factory=dict)
    descriptions: list[str] = field(default_factory=list)
    metrics: Any = None  # observability.metrics.Metrics, when a control plane is served
    tracing: Any = None  # observability.tracing.Tracing, when on
    private: bool = False  # the endpoint is authenticated: cached lists stay per client
    limits: dict[str, Any] | None = None  # `--policies`: tool → policies.ratelimit.Limits
    max_file_bytes: int = MAX_FILE_BYTES  # `--max-file-size`: largest file a read serves
    version: str = __version__  # the server's version: Ikanos `info.version` where given
    _generation: int = 0  # bumped by each reload: a list built across one is not kept
    _lists: _Lists | None = None

    def lists(self) -> _Lists:
        """The list results, built once per configuration (not per request)."""
        if self._lists is None:
            self._lists = self._build_lists()
        return self._lists

    async def current_lists(self) -> _Lists:
        """`lists()` for a request: built on a worker thread (it walks `location` folders),
        kept only if no reload came meanwhile."""
        while self._lists is None:
            generation = self._generation
            built = await anyio.to_thread.run_sync(self._build_lists)
            if generation == self._generation:
                self._lists = built
        return self._lists

    def _build_lists(self) -> _Lists:
        """A `location` directory lists one resource per file a read would serve."""
        listed: list[types.Resource] = []
        for entry in self.resources.values():
            base = entry.location
            if base is not None and base.is_dir():
                for path, _ in regular_files(base):
                    relative = path.relative_to(base).as_posix()
                    if not all(_SEGMENT.match(part) for part in relative.split("/")):
                        continue  # a name reads would refuse is not listed either
                    listed.append(
                        entry.resource.model_copy(
                            update={
                                "uri": f"{entry.resource.uri}/{relative}",
                                "mime_type": entry.resource.mime_type or _mime_of(path),
                            }
                        )
                    )
            else:
                listed.append(entry.resource)
        return (
            types.ListToolsResult(tools=[e.tool for e in self.tools.values()]),
            types.ListResourcesResult(resources=listed),
            types.ListPromptsResult(prompts=[_prompt(p) for p in self.prompts.values()]),
            types.ListResourceTemplatesResult(
                resource_templates=[t.template for t in self.templates]
            ),
        )

    def replace_from(self, other: McpServerSet) -> None:
        """Take another set's tools, resources and prompts (a reload); sessions stay open.
        `other` is left empty: the SDK server built for it is a reference cycle (it is
        never served), which must not keep this configuration alive after the next reload."""
        self.tools, self.resources, self.prompts = other.tools, other.resources, other.prompts
        self.templates, self.prompt_files = other.templates, other.prompt_files
        self.descriptions, self.max_file_bytes = other.descriptions, other.max_file_bytes
        self.limits = other.limits
        self._lists = None
        self._generation += 1
        other.tools, other.resources, other.prompts = {}, {}, {}
        other.templates, other.prompt_files, other.descriptions = [], {}, []

    def server(self) -> Server[Any]:
        async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
            return (await self.current_lists())[0]

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            if self.tracing is None:
                return await self.call(params.name, params.arguments or {})
            request = getattr(ctx, "request", None)
            headers = getattr(getattr(request, "headers", None), "raw", None) or []
            meta = getattr(ctx, "meta", None)
            return await self._traced(params.name, params.arguments or {}, meta, headers)

        async def limited_call_tool(
            ctx: Any, params: types.CallToolRequestParams
        ) -> types.CallToolResult:
            limits = (self.limits or {}).get(params.name)
            if limits is not None:
                request = getattr(ctx, "request", None)
                headers = getattr(getattr(request, "headers", None), "raw", None) or []
                limits.check_call(headers, getattr(request, "client", None))
            return await call_tool(ctx, params)

        async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
            return (await self.current_lists())[1]

        async def read_resource(
            ctx: Any, params: types.ReadResourceRequestParams
        ) -> types.ReadResourceResult:
            return await self.read(str(params.uri))

        async def list_prompts(ctx: Any, params: Any) -> types.ListPromptsResult:
            return (await self.current_lists())[2]

        async def list_templates(ctx: Any, params: Any) -> types.ListResourceTemplatesResult:
            return (await self.current_lists())[3]

        async def get_prompt(
            ctx: Any, params: types.GetPromptRequestParams
        ) -> types.GetPromptResult:
            arguments = params.arguments or {}
            if params.name in self.prompt_files:  # read from its file: on a worker thread
                return await anyio.to_thread.run_sync(self.prompt, params.name, arguments)
            return self.prompt(params.name, arguments)

        def tool_schema(name: str) -> dict[str, Any] | None:
            entry = self.tools.get(name)
            return None if entry is None else entry.tool.input_schema

        server: Server[Any] = Server(
            self.name,
            version=self.version,
            instructions="\n\n".join(d for d in self.descriptions if d) or None,
            # `Mcp-Param-*` header checks read the schema here instead of running a whole
            # `tools/list` per `tools/call` (18 % of the server's time without it)
            get_tool_input_schema=tool_schema,
            on_list_tools=list_tools,
            on_call_tool=call_tool if self.limits is None else limited_call_tool,
            on_list_resources=list_resources,
            on_list_resource_templates=list_templates,
            on_read_resource=read_resource,
            on_list_prompts=list_prompts,
            on_get_prompt=get_prompt,
            cache_hints=self.cache_hints(),
        )
        # The SDK wraps every message in a span of its own, on the global tracer provider,
        # which the runtime never sets: a no-op span per request that costs 5 % of a call.
        # `--trace-sampling`/`observability.tracing` give the `mcp.tool` span instead.
        server.middleware = []
        return server

    def cache_hints(self) -> dict[Any, Any]:
        """Freshness hints for 2026-07-28 clients: the lists (tools, resources, templates,
        prompts, discovery) change only on a reload, so they are fresh for LIST_TTL_MS,
        shared across clients unless the endpoint is authenticated. Results that call an
        upstream (`resources/read`) are never fresh: the upstream decides."""
        from mcp.server.caching import CacheHint

        scope: Literal["public", "private"] = "private" if self.private else "public"
        listed = CacheHint(ttl_ms=LIST_TTL_MS, scope=scope)
        return {
            "tools/list": listed,
            "prompts/list": listed,
            "resources/list": listed,
            "resources/templates/list": listed,
            "server/discover": listed,
            "resources/read": CacheHint(ttl_ms=0, scope="private"),
        }

    async def call_traced(
        self, name: str, arguments: dict[str, Any], meta: Any, headers: list[tuple[bytes, bytes]]
    ) -> types.CallToolResult:
        """A call, in an `mcp.tool` span when tracing is on (the fast path's entry)."""
        if self.tracing is None:
            return await self.call(name, arguments)
        return await self._traced(name, arguments, meta, headers)

    async def call_limited(
        self, name: str, arguments: dict[str, Any], meta: Any, headers: list[tuple[bytes, bytes]]
    ) -> types.CallToolResult:
        """The fast path's call under the tool's rate limits (`--policies`), its client's
        address set by `LimitedMcpHttpServer`."""
        from naftiko_runtime.policies.ratelimit import CALLER_ADDRESS

        limits = (self.limits or {}).get(name)
        if limits is not None:
            limits.check_call(headers, CALLER_ADDRESS.get())
        return await self.call_traced(name, arguments, meta, headers)

    async def _traced(
        self, name: str, arguments: dict[str, Any], meta: Any, headers: list[tuple[bytes, bytes]]
    ) -> types.CallToolResult:
        """An `mcp.tool` span continuing the client's trace: from the request's `_meta`
        (`traceparent`), else from the HTTP request's headers."""
        from opentelemetry.trace import StatusCode

        tracing = self.tracing
        if isinstance(meta, dict) and "traceparent" in meta:
            context = tracing.extract_meta(meta)
        else:
            context = tracing.extract_headers(headers)
        attributes = {"naftiko.adapter.type": "mcp", "naftiko.operation.id": name}
        with tracing.server_span("mcp.tool", context, attributes) as span:
            result = await self.call(name, arguments)
            if result.is_error:
                span.set_status(StatusCode.ERROR)
            return result

    async def call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        if self.metrics is None or name not in self.tools:
            return await self._call(name, arguments)
        started = time.perf_counter()
        result = await self._call(name, arguments)
        status = 500 if result.is_error else 200
        self.metrics.observe("mcp", name, status, time.perf_counter() - started)
        return result

    async def _call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        entry = self.tools.get(name)
        if entry is None:
            raise MCPError(types.INVALID_PARAMS, f"Invalid params: Unknown tool: {name}")
        unknown = sorted(set(arguments) - entry.accepted)
        if unknown:
            accepted = ", ".join(sorted(entry.accepted)) or "none"
            return _error(f"unknown argument(s) {', '.join(unknown)}; accepted: {accepted}")
        try:
            result = await entry.operation(arguments)
            if result.binary:
                return await _binary_result(name, result, self.redact)
            data = await _collect(result)
        except InvocationError as exc:
            return _error(exc.message)
        except UpstreamError as exc:
            return _error(_upstream_message(exc, self.redact))
        except NaftikoError as exc:
            return _error(self.redact(str(exc)))
        except Exception as exc:  # a defect: logged (redacted), never shown to the client
            log.exception("tool %s failed: %s", name, self.redact(repr(exc)))
            return _error("internal error; see the server log")
        text = jsoncodec.dumps(data).decode() if data is not None else "null"
        redacted = self.redact.bodies(text)
        if redacted != text:  # an upstream 2xx echoing a secret
            text = redacted
            try:
                data = jsoncodec.loads(redacted)
            except ValueError:  # a match spanned JSON syntax: keep the text only
                data = redacted
        structured = data if isinstance(data, dict) and not entry.wrap else {"result": data}
        content = [types.TextContent(type="text", text=text)]
        after = next_page(result.upstream_headers, arguments, entry.accepted)
        meta = None
        if after is not None:  # what an agent needs to page: the next call's arguments
            meta = {PAGING_META: {"next": after}}
            if "next" not in structured and (entry.wrap or entry.tool.output_schema is None):
                structured = {**structured, "next": after}
            hint = f"More results: call {name} with {jsoncodec.dumps(after).decode()}"
            content.append(types.TextContent(type="text", text=hint))
        return types.CallToolResult(
            content=list(content),
            structured_content=structured,
            is_error=False,
            _meta=meta,
        )

    async def read(self, uri: str) -> types.ReadResourceResult:
        """A resource by exact URI, a file below a `location` directory, or a template's
        match (its values become the call's inputs); messages as the reference words them."""
        entry = self.resources.get(uri)
        if entry is not None and entry.operation is not None:
            return await self._read_call(uri, entry.operation, {}, entry.resource.mime_type)
        if any(_located(uri, base_uri, c) for base_uri, c in self.resources.items()):
            located = await anyio.to_thread.run_sync(self._read_located, uri)
            if located is not None:
                return located
        for template in self.templates:
            found = template.pattern.fullmatch(uri)
            if found is not None:
                values = {
                    name: unquote(value)  # the URI's escapes are not the value's
                    for name, value in zip(template.names, found.groups(), strict=True)
                }
                return await self._read_call(uri, template.operation, values, template.mime_type)
        raise MCPError(types.INVALID_PARAMS, f"Invalid params: Unknown resource URI: {uri}")

    async def _read_call(
        self, uri: str, operation: Operation, values: dict[str, str], mime: str | None
    ) -> types.ReadResourceResult:
        try:
            data = await _collect(await operation(values))
        except InvocationError as exc:
            raise MCPError(types.INVALID_PARAMS, f"Invalid params: {exc.message}") from None
        except NaftikoError as exc:
            raise MCPError(types.INTERNAL_ERROR, self.redact(str(exc))) from None
        text = self.redact.bodies(jsoncodec.dumps(data).decode())
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(uri=uri, mime_type=mime or "application/json", text=text)
            ]
        )

    def _read_located(self, uri: str) -> types.ReadResourceResult | None:
        """A `location` file's contents (on a worker thread: every check touches the disk);
        None when `uri` is below a location that is not a directory."""
        entry = self.resources.get(uri)
        if entry is not None and entry.location is not None and not entry.location.is_dir():
            return self._read_file(uri, entry.location, entry.resource.mime_type)
        for base_uri, candidate in self.resources.items():
            base = candidate.location
            if base is not None and _located(uri, base_uri, candidate) and base.is_dir():
                return self._read_file(uri, _inside(base, uri, base_uri), None)
        return None

    def _read_file(self, uri: str, path: Path, mime: str | None) -> types.ReadResourceResult:
        """A regular file's UTF-8 text, at most `max_file_bytes`; errors name `uri` only."""
        try:
            text = read_capped(path, self.max_file_bytes).decode("utf-8")
        except Unservable as exc:
            if exc.missing:
                raise MCPError(
                    types.INVALID_PARAMS, f"Invalid params: Unknown resource URI: {uri}"
                ) from None
            raise MCPError(
                types.INTERNAL_ERROR, f"resource {uri!r} cannot be read: {exc.reason}"
            ) from None
        except UnicodeDecodeError:
            raise MCPError(
                types.INTERNAL_ERROR, f"resource {uri!r} cannot be read: not UTF-8 text"
            ) from None
        kind = mime or (_mime_of(path) if path.suffix else "text/plain")
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type=kind, text=text)]
        )

    def prompt(self, name: str, arguments: dict[str, str]) -> types.GetPromptResult:
        """Messages with `{{argument}}` filled in; a `location` prompt is one user message
        read from its file when asked for (so an edit shows without a reload)."""
        prompt = self.prompts.get(name)
        if prompt is None:
            raise MCPError(types.INVALID_PARAMS, f"Invalid params: Unknown prompt: {name}")
        messages = list(prompt.messages)
        path = self.prompt_files.get(name)
        if path is not None:
            try:
                messages = [("user", read_capped(path, self.max_file_bytes).decode("utf-8"))]
            except (Unservable, UnicodeDecodeError):
                raise MCPError(
                    types.INTERNAL_ERROR, f"prompt {name!r}: its file cannot be read"
                ) from None
        return types.GetPromptResult(
            description=prompt.description,
            messages=[
                types.PromptMessage(
                    role="assistant" if role == "assistant" else "user",
                    content=types.TextContent(type="text", text=_render_prompt(text, arguments)),
                )
                for role, text in messages
            ],
        )


@dataclass
class McpHttpServer:
    """One MCP endpoint; `app` checks `guard` (replaceable on reload) before the SDK's app."""

    sdk_app: Starlette
    path: str
    server_set: McpServerSet
    guard: Guard | None = None
    sessions: SessionBound | None = None  # None when stateless: there are none to bound
    stateless: bool = False
    # handshake-era requests that name no session, answered statelessly as the reference
    # does (it keeps no session state); its manager runs during the app's lifespan
    sessionless: Any = None
    fast: FastCalls | None = None  # 2026-07-28 `tools/call` without the SDK's machinery

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The endpoint; a defect is logged (redacted) and answered as a JSON-RPC error,
        never uvicorn's plain-text 500."""
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.sessionless is not None:
                async with self.sessionless.run():
                    await self._app(scope, receive, send)
                return
            await self._app(scope, receive, send)
            return
        started = False

        async def watch(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, watch)
        except Exception as exc:
            log.exception("MCP request failed: %s", self.server_set.redact(repr(exc)))
            if not started:
                error = {"code": -32603, "message": "internal error; see the server log"}
                await respond_json(send, 500, {"jsonrpc": "2.0", "id": None, "error": error})

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        guard = self.guard
        if scope["type"] == "http" and guard is not None:
            if scope["path"].startswith(METADATA_PATH) and scope["method"] in ("GET", "HEAD"):
                metadata = guard.metadata()
                if metadata is not None:  # RFC 9728: public, for clients to find the server
                    await respond_json(send, 200, metadata)
                    return
            if not await guard.admit(scope, send):
                return
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

    @property
    def tool_count(self) -> int:
        return len(self.server_set.tools)


class LimitedMcpHttpServer(McpHttpServer):
    """An endpoint whose tools have rate limits: its fast path learns each request's
    client address here (the SDK's path reads it from the request itself)."""

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from naftiko_runtime.policies.ratelimit import CALLER_ADDRESS

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


HANDSHAKE_DEFAULTS = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "unnamed-client", "version": "0"},
}


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


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


async def _binary_result(tool: str, result: CallResult, redact: Redactor) -> types.CallToolResult:
    """Bytes as MCP content by MIME type: an image or audio block, else an embedded blob;
    redacted first, as REST does, whatever the type (an upstream may echo a credential)."""
    chunks: list[bytes] = []
    size = 0
    assert result.stream is not None
    try:
        async for chunk in result.stream:
            size += len(chunk)
            if size > MAX_BINARY_BYTES:
                raise UpstreamBadResponseError(
                    f"binary result of {tool} is larger than {MAX_BINARY_BYTES} bytes",
                    operation=tool,
                )
            chunks.append(chunk)
    finally:
        await close_stream(result.stream)
    mime = (result.content_type or "application/octet-stream").split(";")[0].strip()
    raw = redact.bodies.redact_bytes(b"".join(chunks), is_text(mime))
    data = base64.b64encode(raw).decode()
    content: types.ContentBlock
    if mime.startswith("image/"):
        content = types.ImageContent(type="image", data=data, mime_type=mime)
    elif mime.startswith("audio/"):
        content = types.AudioContent(type="audio", data=data, mime_type=mime)
    else:
        content = types.EmbeddedResource(
            type="resource",
            resource=types.BlobResourceContents(
                uri=f"naftiko://tools/{tool}/result", mime_type=mime, blob=data
            ),
        )
    return types.CallToolResult(content=[content], is_error=False)


def _upstream_message(exc: UpstreamError, redact: Callable[[str], str]) -> str:
    """The error and the start of the upstream's body, redacted before it is cut."""
    if exc.body:
        body = redact(exc.body.decode("utf-8", "replace"))[:2000]
        return f"{redact(exc.message)}: {body}"
    return redact(exc.message)


async def _collect(result: CallResult) -> Any:
    """A tool result is one value: a stream is read to its end into a list of events."""
    if result.stream is None:
        return result.data
    events: list[Any] = []
    size = 0
    decoder = EventStreamDecoder()

    def add(data: bytes) -> None:
        if data == b"[DONE]":
            return
        try:
            events.append(jsoncodec.loads(data))
        except (ValueError, RecursionError):
            events.append(data.decode("utf-8", "replace"))

    stream = result.stream
    try:
        async for chunk in stream:
            size += len(chunk)
            if size > MAX_STREAM_BYTES:
                raise UpstreamBadResponseError(
                    "stream too large for a tool result", operation="stream"
                )
            for data in decoder.feed(chunk):
                add(data)
    finally:  # an early end still closes the upstream stream (and frees its pool slot)
        await close_stream(stream)
    for data in decoder.close():
        add(data)
    return {"events": events}


def _prompt(prompt: McpPrompt) -> types.Prompt:
    return types.Prompt(
        name=prompt.name,
        title=prompt.label,
        description=prompt.description,
        arguments=[
            types.PromptArgument(name=a.name, description=a.description, required=a.required)
            for a in prompt.arguments
        ],
    )


def _inside(base: Path, uri: str, base_uri: str) -> Path:
    """The file `uri` names below a `location` directory: plain segments only, and never
    outside it (a symlink out counts as outside)."""
    relative = uri[len(base_uri) :].lstrip("/")
    segments = relative.split("/") if relative else []
    for segment in segments:
        if not _SEGMENT.match(segment):  # `..` passes; the containment check below stops it
            raise MCPError(
                types.INVALID_PARAMS,
                f"Invalid params: Invalid path segment in resource URI: {segment}",
            )
    target = base.joinpath(*segments)
    try:
        resolved = target.resolve(strict=True)
        resolved.relative_to(base.resolve(strict=True))
    except FileNotFoundError:
        raise MCPError(
            types.INVALID_PARAMS, f"Invalid params: Unknown resource URI: {uri}"
        ) from None
    except ValueError:
        raise MCPError(
            types.INVALID_PARAMS, f"Invalid params: Path traversal detected for resource URI: {uri}"
        ) from None
    except (OSError, RuntimeError) as exc:  # a link loop is a RuntimeError before 3.13
        reason = exc.strerror if isinstance(exc, OSError) else None
        reason = (reason or "symbolic link loop").lower()
        raise MCPError(types.INTERNAL_ERROR, f"resource {uri!r} cannot be read: {reason}") from None
    if resolved.is_dir():
        raise MCPError(
            types.INVALID_PARAMS,
            f"Invalid params: Resource URI resolves to a directory, not a file: {uri}",
        )
    return resolved


def _located(uri: str, base_uri: str, entry: _ResourceEntry) -> bool:
    """`uri` is a `location` resource's own, or below it (no disk access: that is later)."""
    return entry.location is not None and (uri == base_uri or uri.startswith(base_uri + "/"))


def _resource_path(capability: Capability, location: str) -> Path:
    relative = unquote(urlparse(location).path)
    if location.startswith("file:///./") or location.startswith("file:///../"):
        return Path(capability.file).parent / location[len("file:///") :]
    return Path(relative)


def _add_adapter(
    target: McpServerSet, capability: Capability, adapter: McpAdapter, compile_op: Compile
) -> None:
    aliases = ("tools", adapter.namespace)
    target.descriptions.append(adapter.description or capability.description or "")
    for tool in adapter.tools:
        operation = compile_op(capability, tool.invocation, aliases)
        inputs = tool.invocation.inputs
        hints = tool.hints
        declared = (hints.read_only, hints.destructive, hints.idempotent, hints.open_world)
        annotations = (
            types.ToolAnnotations(
                title=tool.label,
                read_only_hint=hints.read_only,
                destructive_hint=hints.destructive,
                idempotent_hint=hints.idempotent,
                open_world_hint=hints.open_world,
            )
            if tool.label is not None or any(h is not None for h in declared)
            else None  # no empty annotations object, as the reference lists tools
        )
        output_schema, wrap = tool_output_schema(tool.invocation)
        target.tools[tool.name] = _ToolEntry(
            types.Tool(
                name=tool.name,
                title=tool.label,
                description=tool.description,
                input_schema=input_schema(inputs),
                output_schema=output_schema,
                annotations=annotations,
            ),
            operation,
            frozenset(i.name for i in inputs),
            wrap,
        )
    for resource in adapter.resources:
        reader = (
            compile_op(capability, resource.invocation, aliases)
            if resource.invocation is not None
            else None
        )
        location = _resource_path(capability, resource.location) if resource.location else None
        if reader is not None and _PLACEHOLDER.search(resource.uri):
            pattern, names = _uri_pattern(resource.uri)
            target.templates.append(
                _TemplateEntry(
                    types.ResourceTemplate(
                        uri_template=resource.uri,
                        name=resource.name,
                        title=resource.label,
                        description=resource.description,
                        mime_type=resource.mime_type,
                    ),
                    reader,
                    pattern,
                    names,
                    resource.mime_type,
                )
            )
            continue
        target.resources[resource.uri] = _ResourceEntry(
            types.Resource(
                name=resource.name,
                title=resource.label,
                uri=resource.uri,
                description=resource.description,
                mime_type=resource.mime_type,
            ),
            reader,
            location,
        )
    for prompt in adapter.prompts:
        target.prompts[prompt.name] = prompt
        if prompt.location:
            target.prompt_files[prompt.name] = _resource_path(capability, prompt.location)


def build_mcp_servers(
    capabilities: Sequence[Capability],
    options: Any,
    compile_op: Compile,
    hosts: dict[int, str],
    redactor: Redactor,
    guard_for: Callable[[Capability, McpAdapter], Guard | None] = lambda c, a: None,
    tool_limits: dict[str, Any] | None = None,
) -> tuple[dict[int, McpHttpServer], list[McpServerSet]]:
    """HTTP servers by port, and the stdio server sets, merged across capabilities;
    `tool_limits` (`--policies`): the rate limits of tools, by name."""
    by_port: dict[int, McpServerSet] = {}
    guards: dict[int, tuple[Guard | None, str]] = {}
    stdio: list[McpServerSet] = []
    for capability in capabilities:
        for adapter in capability.mcp:
            cap = getattr(options, "max_file_bytes", MAX_FILE_BYTES)
            if adapter.transport == "stdio" or adapter.port is None:
                server_set = McpServerSet(adapter.namespace, redactor, max_file_bytes=cap)
                stdio.append(server_set)
            else:
                port = options.port_map.get(adapter.port, adapter.port)
                hosts.setdefault(port, options.host or adapter.address)
                server_set = by_port.get(port) or by_port.setdefault(
                    port,
                    McpServerSet(
                        adapter.namespace, redactor, max_file_bytes=cap, limits=tool_limits
                    ),
                )
                if adapter.namespace not in server_set.name.split("+"):
                    server_set.name += "+" + adapter.namespace  # several adapters, one server
                guard = guard_for(capability, adapter)
                if port in guards and guards[port][0] != guard:
                    raise StartupError(
                        f"MCP adapters {guards[port][1]} and {adapter.namespace} share port "
                        f"{port} but declare different authentication"
                    )
                guards.setdefault(port, (guard, adapter.namespace))
            if capability.info_version:  # an Ikanos capability's own version
                server_set.version = capability.info_version
            _add_adapter(server_set, capability, adapter, compile_op)
    servers = {}
    for port, server_set in by_port.items():
        server_set.private = guards[port][0] is not None
        server = server_set.server()
        stateless = bool(options.mcp_stateless)
        app = server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            host=hosts[port],
            stateless_http=stateless,
            session_idle_timeout=None if stateless else options.mcp_session_idle,
        )
        bound = (
            None
            if stateless
            else SessionBound(options.mcp_sessions_per_client, _live_sessions(server))
        )
        sessionless = None
        if not stateless:
            from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

            sessionless = StreamableHTTPSessionManager(
                app=server,
                stateless=True,
                security_settings=getattr(
                    getattr(server, "_session_manager", None), "security_settings", None
                ),
            )
        kind = McpHttpServer if tool_limits is None else LimitedMcpHttpServer
        servers[port] = kind(
            app,
            MCP_PATH,
            server_set,
            guards[port][0],
            bound,
            stateless=stateless,
            sessionless=sessionless,
            fast=_fast_calls(server, server_set),
        )
    return servers, stdio


def _fast_calls(server: Server[Any], server_set: McpServerSet) -> FastCalls:
    """The endpoint's fast path, reading `server_set` live (a reload swaps its tools)."""
    stamp = server.server_info_stamp
    security = getattr(getattr(server, "_session_manager", None), "security_settings", None)
    return FastCalls(
        lambda name: name in server_set.tools,
        server.get_tool_input_schema or (lambda name: None),
        server_set.call_traced if server_set.limits is None else server_set.call_limited,
        lambda: dict(stamp),
        security,
    )


def _live_sessions(server: Server[Any]) -> Callable[[], Collection[str]]:
    """The ids of the sessions the SDK's manager still holds (it drops expired ones)."""

    def live() -> Collection[str]:
        manager = getattr(server, "_session_manager", None)
        instances = getattr(manager, "_server_instances", None)
        return instances.keys() if isinstance(instances, dict) else ()

    return live


async def _run_draining(server: Server[Any], read: Any, write: Any, grace: float) -> None:
    """`server.run` over stdio, except that the end of input waits (up to `grace` seconds)
    until every request already read is answered: a client that writes its requests and
    closes stdin gets every answer (the SDK would cancel those still running)."""
    import anyio

    to_server, from_client = anyio.create_memory_object_stream[Any](64)
    to_client, from_server = anyio.create_memory_object_stream[Any](64)
    pending = 0
    answered = anyio.Event()

    def kind(item: Any) -> tuple[bool, bool]:
        message = getattr(item, "message", item)
        root = getattr(message, "root", message)
        has_id = getattr(root, "id", None) is not None
        is_request = has_id and getattr(root, "method", None) is not None
        return is_request, has_id and not is_request

    async def pump_in() -> None:
        nonlocal pending
        async with to_server:
            async for item in read:
                if kind(item)[0]:
                    pending += 1
                await to_server.send(item)
            with anyio.move_on_after(grace):
                while pending > 0:
                    await answered.wait()

    async def pump_out() -> None:
        nonlocal pending, answered
        async with write:  # closed when the server is done: stdio's writer ends with it
            async for item in from_server:
                await write.send(item)
                if kind(item)[1]:
                    pending -= 1
                    answered.set()
                    answered = anyio.Event()

    async with anyio.create_task_group() as group:
        group.start_soon(pump_in)
        group.start_soon(pump_out)
        async with to_client:
            await server.run(from_client, to_client, server.create_initialization_options())


def serve_stdio(
    runtime: Any, stderr: TextIO, background: Sequence[Any] = (), grace: float = 30.0
) -> int:
    """Serve MCP over stdin/stdout: the stdio adapters, else every MCP adapter merged.

    `background` are uvicorn servers with their sockets (the simulator) run alongside.
    """
    import anyio
    from mcp.server.stdio import stdio_server

    sets: list[McpServerSet] = list(runtime.stdio_servers)
    if not sets:
        merged = McpServerSet("naftiko-runtime", runtime.redactor)
        for http_server in runtime.mcp_servers.values():
            server = http_server.server_set
            merged.tools.update(server.tools)
            merged.resources.update(server.resources)
            merged.prompts.update(server.prompts)
            merged.descriptions.extend(server.descriptions)
            merged.max_file_bytes = server.max_file_bytes
        sets = [merged]
    if len(sets) > 1:
        names = ", ".join(s.name for s in sets)
        stderr.write(
            f"naftiko-runtime: error: several stdio MCP adapters ({names}); "
            "serve one file at a time\n"
        )
        return 1
    server = sets[0].server()

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for uvicorn_server, sockets in background:
                group.start_soon(functools.partial(uvicorn_server.serve, sockets=sockets))
            try:
                async with stdio_server() as (read, write):
                    await _run_draining(server, read, write, grace)
            finally:
                for uvicorn_server, _ in background:
                    uvicorn_server.should_exit = True
                await runtime.upstream.close()

    import gc

    gc.collect()
    gc.freeze()  # as `serve` does once ready: start-up objects are never scanned again
    gc.enable()  # off while the specs were loaded and compiled (cli._no_collection)
    anyio.run(main)
    return 0
