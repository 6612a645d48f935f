"""Model → MCP endpoints: each adapter's tools, resources and prompts into the registries
of its endpoint (adapters on one port merge into one), then the SDK's Streamable HTTP app
and the fast path over each endpoint. Tool lists and schemas are built once, here."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from naftiko_runtime.adapters.auth.base import Guard
from naftiko_runtime.adapters.files import MAX_FILE_BYTES
from naftiko_runtime.adapters.mcp import sdk_surface
from naftiko_runtime.adapters.mcp.endpoint import McpServerSet
from naftiko_runtime.adapters.mcp.fast import FastCalls
from naftiko_runtime.adapters.mcp.http import (
    MCP_PATH,
    LimitedMcpHttpServer,
    McpHttpServer,
    McpRoutes,
)
from naftiko_runtime.adapters.mcp.prompts import PromptEntry, PromptRegistry
from naftiko_runtime.adapters.mcp.resources import ResourceEntry, ResourceRegistry, TemplateEntry
from naftiko_runtime.adapters.mcp.sessions import SessionBound
from naftiko_runtime.adapters.mcp.tools import ToolEntry
from naftiko_runtime.engine.inputs import input_schema
from naftiko_runtime.engine.outputs import tool_output_schema
from naftiko_runtime.engine.result import Operation
from naftiko_runtime.errors import StartupError
from naftiko_runtime.model import AnyInvocation, Capability, McpAdapter
from naftiko_runtime.secrets.bindings import Redactor
from naftiko_runtime.text.placeholders import PLACEHOLDER, uri_pattern

Compile = Callable[[Capability, AnyInvocation, tuple[str, ...]], Operation]


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
    cap = getattr(options, "max_file_bytes", MAX_FILE_BYTES)
    for capability in capabilities:
        for adapter in capability.mcp:
            if adapter.transport == "stdio" or adapter.port is None:
                server_set = _empty(adapter.namespace, redactor, cap)
                stdio.append(server_set)
            else:
                port = options.port_map.get(adapter.port, adapter.port)
                hosts.setdefault(port, options.host or adapter.address)
                server_set = by_port.get(port) or by_port.setdefault(
                    port, _empty(adapter.namespace, redactor, cap, tool_limits)
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
            add_adapter(server_set, capability, adapter, compile_op)
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
        security = server.session_manager.security_settings
        bound = (
            None
            if stateless
            else SessionBound(options.mcp_sessions_per_client, _live_sessions(server))
        )
        sessionless = (
            None
            if stateless
            else StreamableHTTPSessionManager(
                app=server, stateless=True, security_settings=security
            )
        )
        kind = McpHttpServer if tool_limits is None else LimitedMcpHttpServer
        routes = McpRoutes(
            app,
            MCP_PATH,
            bound,
            stateless=stateless,
            sessionless=sessionless,
            fast=_fast_calls(server, server_set),
        )
        servers[port] = kind(routes, server_set, guards[port][0])
    return servers, stdio


def _empty(
    name: str, redactor: Redactor, cap: int, limits: dict[str, Any] | None = None
) -> McpServerSet:
    """An endpoint with no tools, resources or prompts yet; files read capped at `cap`."""
    return McpServerSet(
        name,
        redactor,
        resources=ResourceRegistry(cap),
        prompts=PromptRegistry(cap),
        limits=limits,
    )


def add_adapter(
    target: McpServerSet, capability: Capability, adapter: McpAdapter, compile_op: Compile
) -> None:
    """One adapter's tools, resources and prompts into `target`'s registries."""
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
        target.tools.add(
            ToolEntry(
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
        )
    for resource in adapter.resources:
        reader = (
            compile_op(capability, resource.invocation, aliases)
            if resource.invocation is not None
            else None
        )
        location = _resource_path(capability, resource.location) if resource.location else None
        if reader is not None and PLACEHOLDER.search(resource.uri):
            pattern, names = uri_pattern(resource.uri)
            target.resources.add_template(
                TemplateEntry(
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
        target.resources.add(
            ResourceEntry(
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
        )
    for prompt in adapter.prompts:
        file = _resource_path(capability, prompt.location) if prompt.location else None
        target.prompts.add(PromptEntry(prompt, file))


def _resource_path(capability: Capability, location: str) -> Path:
    relative = unquote(urlparse(location).path)
    if location.startswith("file:///./") or location.startswith("file:///../"):
        return Path(capability.file).parent / location[len("file:///") :]
    return Path(relative)


def _fast_calls(server: Server[Any], server_set: McpServerSet) -> FastCalls:
    """The endpoint's fast path, reading `server_set` live (a reload swaps its tools)."""
    stamp = server.server_info_stamp
    return FastCalls(
        lambda name: name in server_set.tools,
        server.get_tool_input_schema or (lambda name: None),
        server_set.call if server_set.limits is None else server_set.call_limited,
        lambda: dict(stamp),
        server.session_manager.security_settings,
    )


def _live_sessions(server: Server[Any]) -> Callable[[], Collection[str]]:
    """The ids of the sessions the SDK's manager still holds (it drops expired ones)."""
    manager = server.session_manager
    return lambda: sdk_surface.live_session_ids(manager)
