"""Beta5 constructs served: `info.version` as the MCP server's version, `display` as a tool's
`title`, keyed mock outputs, and the endpoint at the adapter root as well as `/mcp`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.process import serve

pytestmark = pytest.mark.e2e

FLEET = """\
ikanos: "1.0.0-beta5"
info:
  display: "Fleet"
  description: "Ships, mocked."
  version: "2.1.0"
capability:
  exposes:
    - type: mcp
      port: 3001
      namespace: fleet-tools
      description: "Fleet tools."
      tools:
        get-ship:
          display: "Get ship"
          description: "One ship by IMO number."
          inputParameters:
            imo:
              type: string
              required: true
              description: "IMO number."
          outputParameters:
            imo:
              type: string
              value: "{{imo}}"
            name:
              type: string
              value: "Northern Star"
"""
HEADERS = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18"}


def _rpc(url: str, method: str, params: dict[str, object]) -> dict[str, object]:
    reply = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
        headers=HEADERS,
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    body = reply.text
    if body.startswith(("event:", "data:")):
        body = next(line[5:] for line in body.splitlines() if line.startswith("data:"))
    result: dict[str, object] = json.loads(body)["result"]
    return result


@pytest.fixture
def fleet(write_spec: Callable[..., Path]) -> Iterator[str]:
    with serve(write_spec(FLEET, "fleet.yaml"), ports=[3001], ready="/mcp") as served:
        yield served.url(3001)


def test_ServerDataAppenderTest_info_version_is_the_server_version(fleet: str) -> None:
    """Ikanos answers with the capability's `info.version` as its server version; at the
    adapter root, as Ikanos serves MCP, and at `/mcp`."""
    hello = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    for path in ("/", "/mcp"):
        info = _rpc(fleet + path, "initialize", hello)["serverInfo"]
        assert info == {"name": "fleet-tools", "version": "2.1.0"}


def test_McpServerToolSpecTest_display_is_the_tool_title_and_mock_outputs_answer(
    fleet: str,
) -> None:
    tools = _rpc(fleet + "/", "tools/list", {})["tools"]
    assert [(t["name"], t.get("title")) for t in tools] == [("get-ship", "Get ship")]  # type: ignore[union-attr]
    called = _rpc(fleet + "/", "tools/call", {"name": "get-ship", "arguments": {"imo": "IMO-1"}})
    assert called["isError"] is False
    assert json.loads(called["content"][0]["text"]) == {"imo": "IMO-1", "name": "Northern Star"}  # type: ignore[index]
