"""What a `tools/call` costs: the tool's input schema is looked up, not found by running a
whole `tools/list`; no no-op SDK span wraps each message; the upstream's JSON is parsed
once and the value written once, and the reply is the very bytes a whole dump would be."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import types

from naftiko_runtime import jsoncodec
from naftiko_runtime.adapters.mcp import results
from naftiko_runtime.adapters.mcp.endpoint import McpServerSet
from naftiko_runtime.adapters.mcp.fast import FastCalls
from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.secrets.bindings import Redactor
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.upstream.base import UpstreamReply, UpstreamRequest
from tests.conftest import CAPABILITIES

VERSION = "2026-07-28"
JOB = b'{"id": "job-1", "status": "completed", "title": "say \\"hi\\"", "n": 1.5e-7}'


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


class _Upstream:
    """Answers every request with JOB, in process."""

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        return UpstreamReply(200, "application/json", JOB)

    async def close(self) -> None:
        pass


def _counted(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """The arguments of every `jsoncodec.<name>` call from now on."""
    calls: list[Any] = []
    real: Callable[[Any], Any] = getattr(jsoncodec, name)

    def counting(value: Any) -> Any:
        calls.append(value)
        return real(value)

    monkeypatch.setattr(jsoncodec, name, counting)
    return calls


def _fast() -> FastCalls:
    async def call(*_: Any) -> types.CallToolResult:
        raise AssertionError("not called")

    return FastCalls(lambda _: True, lambda _: None, call, lambda: {"name": "s"}, None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_passed_through_body_is_parsed_once_and_written_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capabilities = load_paths([CAPABILITIES]).capabilities
    runtime = compile_runtime(
        capabilities, {"LETTA_API_KEY": "k-1234"}, ServeOptions(), upstream=_Upstream()
    )
    server_set = runtime.mcp_servers[9090].server_set
    document = jsoncodec.loads(JOB)
    loads, dumps = _counted(monkeypatch, "loads"), _counted(monkeypatch, "dumps")
    result = await server_set.call("retrieve-job", {"job_id": "job-1"})
    reply = _fast()._reply(3, VERSION, result)
    assert loads == [JOB]
    assert dumps == [document]
    assert result.structured_content == document and not result.is_error
    assert isinstance(result, results.ToolResult) and result.structured_json is not None
    assert result.structured_json in reply


def _plain(result: types.CallToolResult) -> types.CallToolResult:
    """The same result without its written JSON: the fast path dumps it whole."""
    return types.CallToolResult(
        content=result.content,
        structured_content=result.structured_content,
        is_error=result.is_error,
        _meta=result.meta,
    )


BIG = 123456789012345678901234567890
VALUES = {
    "object": {"a": 1, "b": [True, None], "c": 'é\u2028\x00"\\/'},
    "wide integer and floats": {"id": BIG, "f": 1e-7, "g": 1e16, "h": -0.0},
    "array": [1, 2.5, "x"],
    "wide integer in an array": [BIG],
    "string": "plain",
    "null": None,
    "empty object": {},
}


@pytest.mark.parametrize("value", list(VALUES))
@pytest.mark.parametrize("wrap", [False, True])
@pytest.mark.parametrize("request_id", [7, "abc", 2**70])
def test_the_reply_embeds_the_written_json_byte_for_byte(
    value: str, wrap: bool, request_id: int | str
) -> None:
    result = results.tool_result("t", VALUES[value], Redactor(), wrap=wrap, typed=False, after=None)
    assert isinstance(result, results.ToolResult) and result.structured_json is not None
    fast = _fast()
    assert fast._reply(request_id, VERSION, result) == fast._reply(
        request_id, VERSION, _plain(result)
    )


def test_a_paged_or_redacted_result_is_written_whole() -> None:
    paged = results.tool_result("t", {"a": 1}, Redactor(), wrap=False, typed=False, after={"p": 2})
    redactor = Redactor()
    redactor.add(["s3cret-token-value"])
    redacted = results.tool_result(
        "t", {"a": "s3cret-token-value"}, redactor, wrap=False, typed=False, after=None
    )
    assert redacted.structured_content == {"a": "***"}
    fast = _fast()
    for result in (paged, redacted):
        assert isinstance(result, results.ToolResult) and result.structured_json is None
        assert fast._reply(1, VERSION, result) == fast._reply(1, VERSION, _plain(result))
