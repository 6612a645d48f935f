"""The reference's MCP protocol tests, mirrored over real HTTP (each test named after the
Java test it follows: ProtocolDispatcherNegativeTest, ProtocolDispatcherCoverageTest,
McpServerResourceTest). Where the reference's answer differs on purpose, the test says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.process import serve_bundled

HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@pytest.fixture(scope="module")
def mcp() -> Iterator[str]:
    with serve_bundled() as process:
        yield process.mcp


def post(url: str, body: bytes | dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = httpx.post(url, content=content, headers=HEADERS, timeout=10)
    text = reply.text
    if text.startswith("event:"):  # an SSE answer: its data line
        text = next(line[6:] for line in text.splitlines() if line.startswith("data: "))
    return reply.status_code, (json.loads(text) if text.strip() else None)


def error_of(message: dict[str, Any] | None) -> tuple[int, str]:
    assert message is not None and "error" in message, message
    return message["error"]["code"], message["error"]["message"]


def test_jsonRpcVersionOtherThan2ShouldReturnInvalidRequest(mcp: str) -> None:
    status, message = post(mcp, {"jsonrpc": "1.0", "id": 1, "method": "tools/list"})
    assert status == 400 and error_of(message)[0] == -32600


def test_unknownMethodShouldReturnMethodNotFound(mcp: str) -> None:
    _, message = post(mcp, {"jsonrpc": "2.0", "id": 1, "method": "unknown/method"})
    assert error_of(message)[0] == -32601


@pytest.mark.parametrize(
    ("method", "params"),
    [("tools/call", None), ("resources/read", {}), ("prompts/get", {})],
    ids=["toolsCallWithoutParams", "resourcesReadWithoutUri", "promptsGetWithoutName"],
)
def test_missingParamsShouldReturnInvalidParams(
    mcp: str, method: str, params: dict[str, Any] | None
) -> None:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        body["params"] = params
    assert error_of(post(mcp, body)[1])[0] == -32602


def test_toolsCallUnknownToolShouldReturnInvalidParams(mcp: str) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "no-such-tool", "arguments": {}},
    }
    assert error_of(post(mcp, body)[1]) == (-32602, "Invalid params: Unknown tool: no-such-tool")


def test_resourcesReadUnknownUriReturnsError(mcp: str) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "resources/read",
        "params": {"uri": "data://does-not-exist"},
    }
    code, text = error_of(post(mcp, body)[1])
    assert (code, text) == (-32602, "Invalid params: Unknown resource URI: data://does-not-exist")


@pytest.mark.parametrize("body", [b"", b"{"], ids=["emptyBody", "truncatedJson"])
def test_malformedBodyShouldReturnParseError(mcp: str, body: bytes) -> None:
    status, message = post(mcp, body)
    assert status == 400 and error_of(message)[0] == -32700


def test_notificationsInitializedShouldReturn202WithEmptyBody(mcp: str) -> None:
    status, message = post(mcp, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert (status, message) == (202, None)


def test_initializeShouldReturnSessionIdAndProtocolVersion(mcp: str) -> None:
    reply = httpx.post(
        mcp,
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
        headers=HEADERS,
        timeout=10,
    )
    assert reply.status_code == 200 and reply.headers["mcp-session-id"]
    data = next(line[6:] for line in reply.text.splitlines() if line.startswith("data: "))
    result = json.loads(data)
    assert result["id"] == 1 and result["result"]["protocolVersion"] == "2025-11-25"


def test_toolsCallShouldReturnIsErrorResultOnUnexpectedExecutionFailure(mcp: str) -> None:
    """A call the upstream cannot serve is a tool result with `isError`, not a protocol
    error (here: an id the simulator does not know)."""
    body = {
        "jsonrpc": "2.0",
        "id": 15,
        "method": "tools/call",
        "params": {"name": "retrieve-job", "arguments": {"job_id": "job-missing"}},
    }
    _, message = post(mcp, body)
    assert message is not None and message["id"] == 15
    assert message["result"]["isError"] is True
    assert message["result"]["content"][0]["type"] == "text"
