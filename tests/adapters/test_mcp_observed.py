"""An MCP tool call is counted as every adapter's calls are: under the class of its HTTP
status, so a caller's mistake (a missing required argument) is a 4xx, never the server's
5xx. Over loopback, on both paths a call takes: the 2026-07-28 fast path and the SDK's
(a handshake-era call, answered by the SDK's stateless manager)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.process import serve_bundled

pytestmark = pytest.mark.e2e

MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
ACCEPT = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def letta() -> Iterator[dict[str, str]]:
    with serve_bundled(control=True) as process:
        yield {**process.urls, "control": process.control}


def _counts(control: str) -> dict[tuple[str, str], float]:
    """`naftiko_requests_total` of MCP tools, by (tool, outcome)."""
    text = httpx.get(control + "/metrics", timeout=10).text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "naftiko_requests_total" and labels["adapter"] == "mcp":
                found[(labels["operation"], labels["outcome"])] = sample.value
    return found


def _modern(url: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A 2026-07-28 call, the fast path's kind."""
    headers = {
        **ACCEPT,
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
        "mcp-name": tool,
    }
    params = {"name": tool, "arguments": arguments, "_meta": META}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    reply = httpx.post(url, json=body, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()["result"]
    return result


def _handshake_era(url: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A call that names no protocol version and no session: the SDK's to answer."""
    params = {"name": tool, "arguments": arguments}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    reply = httpx.post(url, json=body, headers=ACCEPT, timeout=10)
    assert reply.status_code == 200, reply.text
    if reply.headers["content-type"].startswith("text/event-stream"):
        data = next(line for line in reply.text.splitlines() if line.startswith("data:"))
        result: dict[str, Any] = httpx.Response(200, content=data[5:]).json()["result"]
        return result
    result = reply.json()["result"]
    return result


@pytest.mark.parametrize("call", [_modern, _handshake_era], ids=["fast-path", "sdk"])
def test_a_missing_argument_is_the_callers_4xx_and_a_good_call_a_2xx(
    letta: dict[str, str], call: Any
) -> None:
    before = _counts(letta["control"])
    good = call(letta["mcp"], "list-jobs", {"limit": "1"})
    assert good["isError"] is False
    missing = call(letta["mcp"], "retrieve-job", {})
    assert missing["isError"] is True and "job_id (required)" in missing["content"][0]["text"]
    after = _counts(letta["control"])
    added = {key: value - before.get(key, 0.0) for key, value in after.items()}
    assert added.get(("list-jobs", "2xx")) == 1
    assert added.get(("retrieve-job", "4xx")) == 1
    assert not any(value for (_, outcome), value in added.items() if outcome == "5xx")
