"""What one MCP endpoint serves: its three registries (tools, resources, prompts), the SDK
server over them, and a tool call observed (`observability.middleware`) and rate-limited
as configured.

A reload swaps the registries of the live endpoint (`replace_from`); each keeps its own
cached list, so a list built before a reload dies with the registries it listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mcp import types
from mcp.server.lowlevel import Server

from naftiko_runtime.adapters.mcp import results
from naftiko_runtime.adapters.mcp.prompts import PromptRegistry
from naftiko_runtime.adapters.mcp.resources import ResourceRegistry
from naftiko_runtime.adapters.mcp.tools import ToolRegistry
from naftiko_runtime.observability.middleware import observed
from naftiko_runtime.secrets.bindings import Redactor
from naftiko_runtime.version import __version__

LIST_TTL_MS = 10_000  # a reload reaches a 2026-07-28 client within this


@dataclass
class McpServerSet:
    """Everything one MCP endpoint serves, merged from every adapter on the same port."""

    name: str
    redact: Redactor
    tools: ToolRegistry = field(default_factory=ToolRegistry)
    resources: ResourceRegistry = field(default_factory=ResourceRegistry)
    prompts: PromptRegistry = field(default_factory=PromptRegistry)
    descriptions: list[str] = field(default_factory=list)
    metrics: Any = None  # observability.metrics.Metrics, when a control plane is served
    tracing: Any = None  # observability.tracing.Tracing, when on
    private: bool = False  # the endpoint is authenticated: cached lists stay per client
    limits: dict[str, Any] | None = None  # `--policies`: tool → policies.ratelimit.Limits
    version: str = __version__  # the server's version: Ikanos `info.version` where given

    def replace_from(self, other: McpServerSet) -> None:
        """Take another set's registries (a reload); sessions stay open. `other` is left
        empty: the SDK server built for it is a reference cycle (it is never served),
        which must not keep this configuration alive after the next reload."""
        self.tools, self.resources, self.prompts = other.tools, other.resources, other.prompts
        self.descriptions, self.limits = other.descriptions, other.limits
        other.tools, other.resources, other.prompts = (
            ToolRegistry(),
            ResourceRegistry(),
            PromptRegistry(),
        )
        other.descriptions = []

    def server(self) -> Server[Any]:
        """The SDK's server, its handlers reading the registries live (a reload swaps them)."""

        async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
            return self.tools.list()

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            if self.tracing is None:  # the headers and `_meta` are for the trace only
                return await self.call(params.name, params.arguments or {})
            request = getattr(ctx, "request", None)
            headers = getattr(getattr(request, "headers", None), "raw", None) or []
            meta = getattr(ctx, "meta", None)
            return await self.call(params.name, params.arguments or {}, meta, headers)

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
            return await self.resources.list()

        async def list_templates(ctx: Any, params: Any) -> types.ListResourceTemplatesResult:
            return self.resources.list_templates()

        async def read_resource(
            ctx: Any, params: types.ReadResourceRequestParams
        ) -> types.ReadResourceResult:
            return await self.resources.read(str(params.uri), self.redact)

        async def list_prompts(ctx: Any, params: Any) -> types.ListPromptsResult:
            return self.prompts.list()

        async def get_prompt(
            ctx: Any, params: types.GetPromptRequestParams
        ) -> types.GetPromptResult:
            return await self.prompts.render(params.name, params.arguments or {})

        server: Server[Any] = Server(
            self.name,
            version=self.version,
            instructions="\n\n".join(d for d in self.descriptions if d) or None,
            # `Mcp-Param-*` header checks read the schema here instead of running a whole
            # `tools/list` per `tools/call` (18 % of the server's time without it)
            get_tool_input_schema=lambda name: self.tools.input_schema(name),
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

    async def call(
        self,
        name: str,
        arguments: dict[str, Any],
        meta: Any = None,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> types.CallToolResult:
        """A tool call, observed as every adapter's calls are when metrics or tracing are
        on: an `mcp.tool` span continuing the client's trace (from the request's `_meta`
        `traceparent`, else its HTTP `headers`), and its time and outcome on the metrics
        (of a known tool only: a name the client made up is no label)."""
        metrics, tracing = self.metrics, self.tracing
        if metrics is None and tracing is None:  # the fast path's usual case: nothing to do
            return await self.tools.call(name, arguments, self.redact)
        with observed(
            "mcp",
            name,
            metrics=metrics if name in self.tools else None,
            tracing=tracing,
            span="mcp.tool",
            attributes={"naftiko.adapter.type": "mcp", "naftiko.operation.id": name},
            headers=headers,
            meta=meta if isinstance(meta, dict) else None,
        ) as seen:
            result = await self.tools.call(name, arguments, self.redact)
            seen.finished(results.status_class(result), error=result.is_error)
            return result

    async def call_limited(
        self,
        name: str,
        arguments: dict[str, Any],
        meta: Any,
        headers: Sequence[tuple[bytes, bytes]],
    ) -> types.CallToolResult:
        """The fast path's call under the tool's rate limits (`--policies`), its client's
        address set by `LimitedMcpHttpServer`."""
        from naftiko_runtime.adapters.asgi import CALLER_ADDRESS

        limits = (self.limits or {}).get(name)
        if limits is not None:
            limits.check_call(headers, CALLER_ADDRESS.get())
        return await self.call(name, arguments, meta, headers)
