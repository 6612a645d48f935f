"""Handshake-era MCP sessions are bounded in time and per client (hardening item 7): one
client at its bound is refused new sessions while another client is served, and sessions
left idle expire so the client can open new ones."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.process import ServeProcess, serve_bundled

pytestmark = pytest.mark.e2e

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "session-test", "version": "1"},
    },
}
HEADERS = {"accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def letta() -> Iterator[ServeProcess]:
    limits = ("--mcp-sessions-per-client", "3", "--mcp-session-idle", "1")
    with serve_bundled(*limits, control=True) as process:
        yield process


@pytest.fixture(scope="module")
def mcp_url(letta: ServeProcess) -> str:
    return letta.mcp


def metric(letta: ServeProcess, name: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(letta.control + "/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    )


def open_session(client: httpx.Client, url: str) -> httpx.Response:
    return client.post(url, json=INITIALIZE, headers=HEADERS, timeout=10)


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address))


def test_one_client_at_its_bound_does_not_lock_others_out(
    letta: ServeProcess, mcp_url: str
) -> None:
    with client_from("127.0.0.1") as greedy, client_from("127.0.0.2") as other:
        opened = [open_session(greedy, mcp_url) for _ in range(3)]
        assert all(r.status_code == 200 and r.headers.get("mcp-session-id") for r in opened), [
            (r.status_code, r.text[:200]) for r in opened
        ]
        refused = open_session(greedy, mcp_url)
        assert refused.status_code == 429
        assert "3 open MCP sessions" in refused.json()["error"]["message"]
        served = open_session(other, mcp_url)
        assert served.status_code == 200 and served.headers.get("mcp-session-id")
        assert metric(letta, "naftiko_mcp_sessions") >= 4
        assert metric(letta, "naftiko_mcp_sessions_refused_total") >= 1


def test_idle_sessions_expire_and_free_the_bound(mcp_url: str) -> None:
    with client_from("127.0.0.3") as client:
        for _ in range(3):
            assert open_session(client, mcp_url).status_code == 200
        assert open_session(client, mcp_url).status_code == 429
        deadline = time.monotonic() + 15
        status: Any = None
        while time.monotonic() < deadline:
            time.sleep(0.5)
            status = open_session(client, mcp_url).status_code
            if status == 200:
                break
        assert status == 200  # the idle ones were closed by --mcp-session-idle


def test_concurrent_openings_cannot_pass_the_bound_together(mcp_url: str) -> None:
    import asyncio

    async def burst() -> list[int]:
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.4")
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            replies = await asyncio.gather(
                *(client.post(mcp_url, json=INITIALIZE, headers=HEADERS) for _ in range(12))
            )
        return [r.status_code for r in replies]

    statuses = asyncio.run(burst())
    assert statuses.count(200) <= 3 and statuses.count(429) >= 9, statuses
