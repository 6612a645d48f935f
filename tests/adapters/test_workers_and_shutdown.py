"""`--workers 2`: both processes answer, and SIGTERM to the first stops every worker; requests
in flight get the grace period (`--grace`, by default `--timeout`) to finish; a worker that
dies stops the instance (exit 1, for its supervisor to restart), and so does a parent that
dies (its workers do not linger)."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import CAPABILITIES
from tests.fixtures.process import ServeProcess, serve_bundled
from tests.fixtures.upstream import RecordingUpstream, Reply, free_port, running


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
    with serve_bundled("--workers", "2") as (process, urls):
        base = urls["rest"]
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
    with serve_bundled("--workers", "2") as (process, _):
        (worker,) = children(process.process.pid)
        os.kill(worker, signal.SIGKILL)
        assert process.process.wait(timeout=20) == 1
        assert f"pid {worker}) exited with status -9" in process.output()
        assert "stopping this instance" in process.output()


def test_workers_do_not_outlive_a_killed_parent() -> None:
    with serve_bundled("--workers", "2") as (process, _):
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
        rest = free_port()
        args = [str(CAPABILITIES), "--upstream", f"*={url}", "--port", f"8080={rest}"]
        args += ["--port", f"9090={free_port()}", *extra]
        with ServeProcess(args, env={"LETTA_API_KEY": "sk-grace"}) as process:
            base = f"http://127.0.0.1:{rest}"
            process.wait_ready(base + "/openapi.json")
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
