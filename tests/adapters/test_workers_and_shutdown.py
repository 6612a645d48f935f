"""`--workers 2`: both processes answer, and SIGTERM to the first stops every worker; requests
in flight get the grace period (`--grace`, by default `--timeout`) to finish; a worker that
dies stops the instance (exit 1, for its supervisor to restart), and so does a parent that
dies (its workers do not linger)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from tests.conftest import CAPABILITIES
from tests.fixtures.ports import free_port
from tests.fixtures.process import serve, serve_bundled
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = pytest.mark.e2e


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_two_workers_serve_and_stop_together() -> None:
    with serve_bundled("--workers", "2") as process:
        base = process.rest
        workers = children(process.process.pid)
        assert len(workers) == 1  # the first process serves too
        with httpx.Client(timeout=10) as client:  # new connections spread over both sockets
            statuses = {
                httpx.get(base + "/v1/jobs/?limit=1", timeout=10).status_code for _ in range(20)
            }
            assert statuses == {200}
            assert client.get(base + "/v1/runs/active").status_code == 200
        assert "2 workers" in process.output()
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=20) == 0
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in workers)
        assert "Traceback" not in process.output()


def wait_gone(pids: list[int], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(pid) for pid in pids)


def test_a_worker_that_dies_stops_the_instance_with_status_1() -> None:
    with serve_bundled("--workers", "2") as process:
        (worker,) = children(process.process.pid)
        os.kill(worker, signal.SIGKILL)
        assert process.process.wait(timeout=20) == 1
        assert f"pid {worker}) exited with status -9" in process.output()
        assert "stopping this instance" in process.output()


def test_workers_do_not_outlive_a_killed_parent() -> None:
    with serve_bundled("--workers", "2") as process:
        workers = children(process.process.pid)
        process.process.kill()
        process.process.wait(timeout=10)
        assert wait_gone(workers)


def request_during_sigterm(extra: list[str], delay: float, signal_after: float = 0.5) -> Any:
    """One slow upstream request in flight when SIGTERM arrives: what the client gets back and
    how long the server took to exit."""
    upstream = RecordingUpstream()
    upstream.script["/v1/jobs/"] = Reply(body=b"[]", delay=delay)
    with running(upstream) as url:
        args = [CAPABILITIES, "--upstream", f"*={url}", *extra]
        with serve(*args, env={"LETTA_API_KEY": "sk-grace"}) as process:
            base = process.rest
            with ThreadPoolExecutor(1) as pool:
                answer = pool.submit(httpx.get, base + "/v1/jobs/", timeout=30)
                time.sleep(signal_after)
                started = time.monotonic()
                process.process.send_signal(signal.SIGTERM)
                try:
                    response = answer.result()
                    status: Any = (response.status_code, response.headers["content-type"])
                    if response.status_code != 200:
                        status += (response.json()["error"]["type"],)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                code = process.process.wait(timeout=30)
                return status, code, time.monotonic() - started


def test_sigterm_lets_requests_in_flight_finish_within_the_timeout() -> None:
    """By default the grace period is `--timeout`: a 6 s upstream call (longer than uvicorn's
    usual 5 s) still gets its answer after SIGTERM."""
    status, code, _ = request_during_sigterm(["--timeout", "10"], delay=6.0)
    assert (status, code) == ((200, "application/json"), 0)


def test_grace_bounds_how_long_shutdown_waits() -> None:
    """`--grace 1`: a request still running then is answered 503 JSON `shutting_down` (not
    the server's bare plain-text 500) and the process exits at once."""
    status, code, took = request_during_sigterm(["--timeout", "10", "--grace", "1"], delay=8.0)
    assert status == (503, "application/json", "shutting_down") and code == 0
    assert took < 6.0  # cut at the grace period, not at the upstream's pace


def test_drain_delay_keeps_serving_with_readiness_503_then_closes() -> None:
    """`--drain-delay 2`: right after SIGTERM `/health/ready` is 503 while new connections
    are still served (a balancer has time to notice); after the delay the listeners close and
    the process exits 0."""
    control = free_port()
    with serve_bundled("--drain-delay", "2", "--control", f"127.0.0.1:{control}") as process:
        ready = f"http://127.0.0.1:{control}/health/ready"
        assert httpx.get(ready, timeout=5).status_code == 200
        process.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert httpx.get(ready, timeout=5).status_code == 503
        with httpx.Client(timeout=5) as fresh:  # a new connection, still accepted
            assert fresh.get(process.rest + "/v1/jobs/?limit=1").status_code == 200
        assert process.process.poll() is None
        assert process.process.wait(timeout=15) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(process.rest + "/v1/jobs/", timeout=2)


def test_sigint_does_not_wait_for_the_drain_delay() -> None:
    with serve_bundled("--drain-delay", "30") as process:
        started = time.monotonic()
        process.process.send_signal(signal.SIGINT)
        assert process.process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10


def test_every_worker_serves_mcp_without_sessions() -> None:
    """`--workers 2`: both processes listen on the MCP port, and handshake-era clients are
    served statelessly, so a client whose connections land on different workers never meets
    an unknown session."""
    with serve_bundled("--workers", "2") as process:
        urls = process.urls
        port = int(urls["mcp"].rsplit(":", 1)[1].split("/")[0])
        (worker,) = children(process.process.pid)
        assert {process.process.pid, worker} <= listeners(port)

        async def calls() -> list[bool]:
            results = []
            for mode in ("legacy", "2026-07-28"):
                for _ in range(4):
                    async with Client(urls["mcp"], mode=mode) as client:
                        found = await client.call_tool("list-jobs", {"limit": 1})
                        results.append(not found.is_error)
            return results

        assert asyncio.run(calls()) == [True] * 8
        opened = httpx.post(
            urls["mcp"],
            json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
            headers={"accept": "application/json, text/event-stream"},
            timeout=10,
        )
        assert opened.status_code == 200 and "mcp-session-id" not in opened.headers
        assert "stateless" in process.output()


def listeners(port: int) -> set[int]:
    """PIDs holding a listening socket on `port` (from /proc, no tools needed)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    pids = set()
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:[") and target[8:-1] in inodes:
                pids.add(int(fd.parts[2]))
    return pids


def test_sigterm_lets_an_open_event_stream_finish() -> None:
    """An event stream still flowing when SIGTERM arrives is passed through to its end (the
    grace period covers streams as well as plain requests), then the process exits 0."""
    upstream = RecordingUpstream()
    events = [f'data: {{"n": {n}}}\n\n'.encode() for n in range(30)]  # ~1.5 s of events
    upstream.script["/v1/runs/"] = Reply(content_type="text/event-stream", chunks=events)
    with running(upstream) as url:
        args = [CAPABILITIES, "--upstream", f"*={url}", "--grace", "10"]
        with serve(*args, env={"LETTA_API_KEY": "sk-stream"}) as process:
            base = process.rest
            received = b""
            with httpx.stream(
                "POST", base + "/v1/runs/run-1/stream", json={}, timeout=10
            ) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                for n, chunk in enumerate(response.iter_bytes()):
                    received += chunk
                    if n == 2:
                        process.process.send_signal(signal.SIGTERM)
            assert received == b"".join(events)
            assert process.process.wait(timeout=20) == 0


def test_a_sigterm_to_the_whole_process_group_drains_workers_for_the_full_delay() -> None:
    """systemd (and `kill -TERM -PGID`) signal every process of the group at once: a worker
    then gets SIGTERM itself and its parent's drain request too, which must not count as a
    second signal. Every worker keeps serving for the whole `--drain-delay`."""
    args = [CAPABILITIES, "--simulate", "always", "--workers", "2", "--drain-delay", "2"]
    with serve(*args, control=True, ready="control", new_session=True) as served:
        process = served.process
        (worker,) = children(process.pid)
        os.killpg(process.pid, signal.SIGTERM)
        time.sleep(1.0)  # half the delay
        assert alive(worker) and process.poll() is None
        statuses = {
            httpx.get(served.rest + "/v1/jobs/?limit=1", timeout=5).status_code for _ in range(10)
        }
        assert statuses == {200}
        assert process.wait(timeout=20) == 0
        assert wait_gone([worker])
