"""What a `tools/call` costs the SDK's machinery: the tool's input schema is looked up, not
found by running a whole `tools/list`, and no no-op SDK span wraps each message."""

from __future__ import annotations

from typing import Any

from naftiko_runtime.adapters.mcp.endpoint import McpServerSet
from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.serving.runtime import ServeOptions, compile_runtime
from tests.conftest import CAPABILITIES


def _server() -> tuple[McpServerSet, Any]:
    capabilities = load_paths([CAPABILITIES]).capabilities
    runtime = compile_runtime(capabilities, {"LETTA_API_KEY": "k-1234"}, ServeOptions())
    server_set = runtime.mcp_servers[9090].server_set
    return server_set, server_set.server()


def test_tool_input_schemas_come_from_the_compiled_tools_not_a_tools_list() -> None:
    server_set, server = _server()
    listed = {tool.name: tool.input_schema for tool in server_set.tools.list().tools}
    assert server.get_tool_input_schema is not None
    assert {name: server.get_tool_input_schema(name) for name in listed} == listed
    assert server.get_tool_input_schema("no-such-tool") is None


def test_no_sdk_span_middleware_wraps_each_message() -> None:
    """The runtime's own `mcp.tool` span (tests/adapters/test_tracing_e2e.py) is the trace."""
    _, server = _server()
    assert [type(m).__name__ for m in server.middleware] == []
