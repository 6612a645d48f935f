"""The official letta-client SDK uses our REST adapter as if it were the Letta API.

Each SDK major version lives in its own virtualenv under .cache/ (created on first run):
0.1.324 has the Jobs surface, 1.x the current Runs surface.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import REPO
from tests.fixtures.process import serve_bundled
from tests.fixtures.sdk_venvs import sdk_python

pytestmark = pytest.mark.contract

DRIVER = REPO / "tests" / "fixtures" / "letta_sdk_driver.py"


@pytest.fixture
def letta_url() -> Iterator[str]:
    with serve_bundled() as process:
        yield process.rest


def drive(major: str, base: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(sdk_python(major)), str(DRIVER), base, major],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.timeout(900)
def test_letta_client_0x_jobs_and_runs(letta_url: str) -> None:
    r = drive("0", letta_url)
    assert r["jobs.list"]["type"] == "list[Job]" and r["jobs.list"]["n"] == 6
    assert r["jobs.list.page"]["n"] == 2
    assert r["jobs.list.page"]["ids"] == sorted(r["jobs.list"]["ids"])[:2]
    assert r["jobs.list_active"]["n"] == 2
    assert {s.split(".")[-1].lower() for s in r["jobs.list_active"]["statuses"]} <= {
        "created",
        "pending",
        "running",
    }
    assert r["jobs.retrieve"]["type"] == "Job" and r["jobs.retrieve"]["status"].endswith(
        "completed"
    )
    assert r["jobs.retrieve.missing"] == {"ok": False, "error": "ApiError", "status": 404}
    assert r["jobs.cancel_job"]["status"].endswith("cancelled")
    assert r["jobs.cancel_job.finished"] == {"ok": False, "error": "ApiError", "status": 409}
    assert r["jobs.delete"]["type"] == "Job"
    assert r["jobs.retrieve.deleted"]["status"] == 404
    assert r["runs.list"]["type"] == "list[Run]" and r["runs.list"]["n"] == 5
    assert 1 <= r["runs.list.agents"]["n"] < 5
    assert r["runs.list_active"]["n"] == 2
    assert r["runs.retrieve"]["type"] == "Run"
    assert r["runs.messages.list"]["n"] == 2
    assert r["runs.usage.retrieve"]["total_tokens"] > 0
    assert r["runs.steps.list"]["type"] == "list[Step]" and r["runs.steps.list"]["n"] == 2
    # `runs.stream` sends no body (the Letta OpenAPI's body is optional; the seed file said
    # required, which answered this call 400 before `check --against` found it)
    assert r["runs.stream"]["ok"] is True, r["runs.stream"]
    assert r["runs.stream"]["kinds"][:2] == ["user_message", "assistant_message"]
    assert r["runs.delete"]["ok"] is True
    assert r["runs.retrieve.deleted"]["status"] == 404


@pytest.mark.timeout(900)
def test_letta_client_1x_runs(letta_url: str) -> None:
    r = drive("1", letta_url)
    assert r["runs.list"]["type"] == "list[Run]" and r["runs.list"]["n"] == 5
    assert r["runs.list.iterated"]["n"] == 5  # cursor pagination ends
    assert r["runs.list.active"]["n"] == 2
    assert r["runs.retrieve"]["type"] == "Run"
    assert r["runs.retrieve.missing"] == {"ok": False, "error": "NotFoundError", "status": 404}
    assert r["runs.messages.list"]["n"] == 2
    assert r["runs.steps.list"]["n"] == 2
    assert r["runs.usage.retrieve"]["total_tokens"] > 0
    assert r["runs.trace.retrieve"]["ok"] is True
    assert r["runs.messages.stream"]["kinds"][:2] == ["user_message", "assistant_message"]
