"""Three instances behind a real HAProxy (Debian's package) running the shipped
`deploy/haproxy/haproxy.cfg`: REST and `2026-07-28` MCP traffic keeps flowing while one
instance gets SIGTERM (no request fails) and another SIGKILL (only requests in flight on it
fail); handshake-era MCP sessions stay on the instance that opened them."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx
import pytest
from mcp import Client

from bench.haproxy import HAPROXY, render, running_haproxy
from tests.conftest import CAPABILITIES
from tests.fixtures.ports import free_port
from tests.fixtures.process import ServeProcess, serve
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = [
    pytest.mark.contract,
    pytest.mark.skipif(
        HAPROXY is None, reason="haproxy is not installed (apt-get install haproxy; .ci/run does)"
    ),
]


@dataclass
class Instance:
    process: ServeProcess
    rest: int
    mcp: int
    control: int


@dataclass
class Cluster:
    instances: list[Instance]
    rest: str
    mcp: str


@contextmanager
def cluster(count: int = 3) -> Iterator[Cluster]:
    upstream = RecordingUpstream()
    upstream.script["/v1/jobs/"] = Reply(body=b'[{"id": "job-1"}]', delay=0.05)
    with ExitStack() as stack:
        url = stack.enter_context(running(upstream))
        instances = []
        for _ in range(count):
            args = [CAPABILITIES, "--upstream", f"*={url}"]
            args += ["--access-log", "--log-format", "json", "--drain-delay", "1.5", "--grace", "5"]
            env = {"LETTA_API_KEY": "sk-lb"}
            process = stack.enter_context(serve(*args, env=env, control=True, ready=None))
            ports, control = process.ports, process.control_port
            assert control is not None
            instances.append(Instance(process, ports[8080], ports[9090], control))
        for instance in instances:  # all three start at once; then each is waited for
            instance.process.wait_ready(f"http://127.0.0.1:{instance.control}/health/ready")
        front_rest, front_mcp = free_port(), free_port()
        config = render(
            {"rest": front_rest, "mcp": front_mcp},
            {
                "naftiko-rest": [(i.rest, i.control) for i in instances],
                "naftiko-mcp": [(i.mcp, i.control) for i in instances],
            },
        )
        stack.enter_context(running_haproxy(config, [front_rest, front_mcp]))
        time.sleep(0.6)  # two passing checks (rise 2 at 200 ms) on every instance
        yield Cluster(
            instances, f"http://127.0.0.1:{front_rest}", f"http://127.0.0.1:{front_mcp}/mcp"
        )


@dataclass
class Outcome:
    started: float
    ended: float
    ok: bool


class Load:
    """Client threads calling through the balancer until stopped, each outcome recorded."""

    def __init__(self, front: Cluster, rest_threads: int = 6) -> None:
        self.front = front
        self.rest: list[Outcome] = []
        self.mcp: list[Outcome] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.rest_loop) for _ in range(rest_threads)]
        self.threads.append(threading.Thread(target=self.mcp_loop))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def rest_loop(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    ok = client.get(self.front.rest + "/v1/jobs/?limit=1").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.rest.append(Outcome(started, time.monotonic(), ok))

    def mcp_loop(self) -> None:
        """One modern-era client calling in a loop; if a transport failure ends the client
        (its connection was on the instance that died), a new one takes over."""

        async def calls() -> None:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    async with Client(self.front.mcp, mode="2026-07-28") as client:
                        while not self.stopping.is_set():
                            started = time.monotonic()
                            found = await client.call_tool("list-jobs", {"limit": 1})
                            self.mcp.append(Outcome(started, time.monotonic(), not found.is_error))
                except Exception as exc:  # noqa: BLE001 - recorded as a failed call
                    self.mcp.append(Outcome(started, time.monotonic(), False))
                    self.errors.append(repr(exc))

        asyncio.run(calls())


@pytest.mark.slow
def test_sigterm_loses_nothing_and_sigkill_only_what_was_in_flight() -> None:
    with cluster(3) as front:
        with Load(front) as load:
            time.sleep(1.0)
            drained = front.instances[0].process.process
            drained.send_signal(signal.SIGTERM)
            assert drained.wait(timeout=20) == 0
            time.sleep(1.0)
            killed_at = time.monotonic()
            front.instances[1].process.process.kill()
            front.instances[1].process.process.wait(timeout=10)
            dead_at = time.monotonic()  # SIGKILL is not instant: reaped, it is gone
            time.sleep(1.5)
        logs = [i.process.output() for i in front.instances]
    for kind, outcomes in (("REST", load.rest), ("MCP", load.mcp)):
        assert len([o for o in outcomes if o.ok]) > 20, kind
        before = [o for o in outcomes if o.started < killed_at and o.ended < killed_at]
        assert all(o.ok for o in before), f"{kind}: a request failed around SIGTERM"
        failed = [o for o in outcomes if not o.ok]
        # only requests already running when the instance died (six REST threads, one MCP)
        assert all(o.started <= dead_at and o.ended >= killed_at for o in failed), kind
        assert len(failed) <= (6 if kind == "REST" else 1), kind
        assert [o for o in outcomes if o.started > killed_at + 0.1 and o.ok], kind
    assert "draining" in logs[0]
    served_mcp = [log for log in logs if '"adapter": "mcp"' in log or "adapter=mcp" in log]
    assert len(served_mcp) >= 2  # no stickiness: modern-era calls spread over instances


@pytest.mark.slow
def test_handshake_sessions_stay_on_the_instance_that_opened_them() -> None:
    with cluster(3) as front:

        async def sessions() -> list[int]:
            counts = []
            for _ in range(4):
                async with Client(front.mcp, mode="legacy") as client:
                    for _ in range(3):
                        found = await client.call_tool("list-jobs", {"limit": 1})
                        assert not found.is_error
                    counts.append(len((await client.list_tools()).tools))
            return counts

        assert asyncio.run(sessions()) == [15] * 4
        # without the stick table a session's next request may reach another instance:
        headers = {"accept": "application/json, text/event-stream"}
        first, second = front.instances[0], front.instances[1]
        opened = httpx.post(
            f"http://127.0.0.1:{first.mcp}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
            headers=headers,
            timeout=10,
        )
        session = opened.headers["mcp-session-id"]
        elsewhere = httpx.post(
            f"http://127.0.0.1:{second.mcp}/mcp",
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            headers={**headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"},
            timeout=10,
        )
        assert elsewhere.status_code == 404
