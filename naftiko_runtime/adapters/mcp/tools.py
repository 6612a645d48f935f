"""The tools one MCP endpoint serves: get, list (built once per configuration), add, call.

Caller mistakes and upstream failures come back as tool results with `isError`; only an
unknown tool is an `INVALID_PARAMS` protocol error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mcp import types
from mcp.shared.exceptions import MCPError

from naftiko_runtime.adapters.mcp import results
from naftiko_runtime.engine.headers import next_page
from naftiko_runtime.engine.result import Operation
from naftiko_runtime.secrets.bindings import Redactor


@dataclass
class ToolEntry:
    tool: types.Tool
    operation: Operation
    accepted: frozenset[str]  # the argument names the tool takes
    wrap: bool = False  # the outputSchema wraps results as {"result": ...}


class ToolRegistry(Mapping[str, ToolEntry]):
    """Tools by name (a read-only mapping); a tool added under a name already taken
    replaces it, as the adapters on one port merge."""

    def __init__(self) -> None:
        self._tools: dict[str, ToolEntry] = {}
        self._listed: types.ListToolsResult | None = None

    def __getitem__(self, name: str) -> ToolEntry:
        return self._tools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:  # per call on the fast path: no KeyError
        return name in self._tools

    def add(self, entry: ToolEntry) -> None:
        self._tools[entry.tool.name] = entry
        self._listed = None

    def list(self) -> types.ListToolsResult:
        """The `tools/list` result, built once (not per request)."""
        if self._listed is None:
            self._listed = types.ListToolsResult(tools=[e.tool for e in self._tools.values()])
        return self._listed

    def input_schema(self, name: str) -> dict[str, Any] | None:
        """A tool's input schema, for the SDK's `Mcp-Param-*` header checks (without it the
        SDK runs a whole `tools/list` per `tools/call`)."""
        entry = self._tools.get(name)
        return None if entry is None else entry.tool.input_schema

    async def call(
        self, name: str, arguments: dict[str, Any], redact: Redactor
    ) -> types.CallToolResult:
        entry = self._tools.get(name)
        if entry is None:
            raise MCPError(types.INVALID_PARAMS, f"Invalid params: Unknown tool: {name}")
        unknown = sorted(set(arguments) - entry.accepted)
        if unknown:
            accepted = ", ".join(sorted(entry.accepted)) or "none"
            return results.error(f"unknown argument(s) {', '.join(unknown)}; accepted: {accepted}")
        try:
            result = await entry.operation(arguments)
            if result.binary:
                return await results.binary_result(name, result, redact)
            data = await results.collect(result)
            return results.tool_result(
                name,
                data,
                redact,
                wrap=entry.wrap,
                typed=entry.tool.output_schema is not None,
                after=next_page(result.upstream_headers, arguments, entry.accepted),
            )
        except Exception as exc:
            return results.failure(name, exc, redact)
