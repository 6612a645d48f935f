"""Rate limits per route or tool and per caller, as token buckets: exact counts, the IETF
`RateLimit`/`RateLimit-Policy` fields on every answer of a limited route and a 429 JSON
with `Retry-After` past the limit over REST; a JSON-RPC error carrying the same facts over
MCP, on the 2026-07-28 fast path and on the SDK's path alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.fixtures.upstream import RecordingUpstream, running
from tests.policies.served import fast_call, json_rpc, metric, serve_with_policies, write

pytestmark = pytest.mark.e2e

POLICIES = """\
naftikoPolicies: "1"
rateLimits:
  - name: items-per-key
    limit: 3
    window: 60
    per: api-key
    header: X-Api-Key
    routes: ["GET /items/{id}"]
  - name: tool-per-address
    limit: 2
    window: 60
    tools: [get-item]
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    upstream = RecordingUpstream()
    spec, policy = write(tmp_path_factory.mktemp("limits"), POLICIES)
    with running(upstream) as base, serve_with_policies(spec, policy, base) as (_, urls):
        yield {**urls, "upstream": upstream}


def test_a_caller_gets_exactly_its_limit_then_429_with_the_ietf_fields(
    served: dict[str, Any],
) -> None:
    url = served["rest"] + "/items/7"
    seen_before = len(served["upstream"].seen)
    answers = [httpx.get(url, headers={"X-Api-Key": "alice"}, timeout=10) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert len(served["upstream"].seen) - seen_before == 3  # refused calls never go up
    assert [a.headers["ratelimit"] for a in answers[:3]] == [
        '"items-per-key";r=2;t=20',
        '"items-per-key";r=1;t=40',
        '"items-per-key";r=0;t=60',
    ]
    refused = answers[3]
    assert refused.headers["ratelimit-policy"] == '"items-per-key";q=3;w=60'
    assert refused.headers["ratelimit"] == '"items-per-key";r=0;t=60'
    assert refused.headers["retry-after"] == "20"  # one request back every 60/3 s
    assert refused.headers["content-type"] == "application/json"
    error = refused.json()["error"]
    assert error["type"] == "rate_limited" and error["policy"] == "items-per-key"
    assert (error["limit"], error["window"], error["retry_after"]) == (3, 60, 20)
    assert "alice" not in refused.text
    # another key has a bucket of its own; no key at all counts against the address
    assert httpx.get(url, headers={"X-Api-Key": "bob"}, timeout=10).status_code == 200
    anonymous = [httpx.get(url, timeout=10).status_code for _ in range(4)]
    assert anonymous == [200, 200, 200, 429]
    # an unlimited route carries no fields
    other = httpx.get(served["rest"] + "/slow/1", headers={"X-Api-Key": "alice"}, timeout=10)
    assert other.status_code == 200 and "ratelimit" not in other.headers
    metrics = httpx.get(served["control"] + "/metrics", timeout=10).text
    assert metric(metrics, "naftiko_rate_limited_total", policy="items-per-key") == 3


def _sdk_call(url: str, request_id: int) -> httpx.Response:
    """A handshake-era call without a session (the SDK's own path answers it)."""
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "get-item", "arguments": {"id": "1"}},
    }
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2025-06-18",
    }
    return httpx.post(url, content=orjson.dumps(body), headers=headers, timeout=10)


@pytest.mark.parametrize("path", ["fast", "sdk"])
def test_an_mcp_tool_past_its_limit_is_ajson_rpc_error_with_the_same_facts(
    tmp_path: Path, path: str
) -> None:
    upstream = RecordingUpstream()
    spec, policy = write(tmp_path, POLICIES)
    call = fast_call if path == "fast" else _sdk_call
    with running(upstream) as base, serve_with_policies(spec, policy, base) as (_, urls):
        replies = [json_rpc(call(urls["mcp"], n)) for n in range(1, 4)]
    assert ["result" in r for r in replies] == [True, True, False]
    assert not replies[0]["result"]["isError"]
    error = replies[2]["error"]
    assert error["code"] == -32029
    assert "rate limit 'tool-per-address' reached" in error["message"]
    data = error["data"]
    assert data["type"] == "rate_limited" and data["policy"] == "tool-per-address"
    assert (data["limit"], data["window"], data["remaining"], data["retryAfter"]) == (
        2,
        60,
        0,
        30,
    )
    assert data["rateLimitPolicy"] == '"tool-per-address";q=2;w=60'
    assert data["rateLimit"] == '"tool-per-address";r=0;t=60'
    assert len(upstream.seen) == 2
