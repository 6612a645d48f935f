"""`--workers 2`: both processes answer, and SIGTERM to the first stops every worker."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from tests.fixtures.process import serve_bundled


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
