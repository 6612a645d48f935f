"""Live reload: SIGHUP (or --watch) applies a valid change without dropping the server; a bad
change is reported with the same diagnostics as `validate` and the last good config serves."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from tests.conftest import CAPABILITIES
from tests.fixtures.process import serve, serve_bundled

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
REST_LIST_OUTPUT = '''              outputParameters:
                - type: object
                  mapping: "$."'''
ONLY_IDS = '''              outputParameters:
                - type: array
                  mapping: "$."
                  items:
                    type: object
                    properties:
                      id:
                        type: string
                        mapping: "$.id"'''


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(params=[False, True], ids=["sighup", "watch"])
def live(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    spec = tmp_path / "letta-jobs.yaml"
    spec.write_text((CAPABILITIES / "letta-jobs.yaml").read_text())
    extra = ["--watch"] if request.param else []
    with serve_bundled(*extra, path=tmp_path) as process:
        yield {"spec": spec, "process": process, "watch": request.param, **process.urls}


def change(live: dict[str, Any], old: str, new: str) -> None:
    spec: Path = live["spec"]
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new, 1))
    if not live["watch"]:
        live["process"].process.send_signal(signal.SIGHUP)


def jobs(live: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = httpx.get(live["rest"] + "/v1/jobs/?limit=2", timeout=10).json()
    return result


async def test_valid_change_is_applied_and_bad_one_is_rejected(live: dict[str, Any]) -> None:
    assert len(jobs(live)[0]) > 5  # the whole job object
    change(live, REST_LIST_OUTPUT, ONLY_IDS)
    wait_for(lambda: list(jobs(live)[0]) == ["id"], "the new mapping")
    change(
        live,
        'description: "List Jobs"\n          hints',
        'description: "List every job"\n          hints',
    )
    async with Client(live["mcp"]) as client:
        for _ in range(150):
            tools = {t.name: t for t in (await client.list_tools()).tools}
            if tools["list-jobs"].description == "List every job":
                break
            time.sleep(0.1)
        assert tools["list-jobs"].description == "List every job"
        result = await client.call_tool("list-jobs", {"limit": "1"})  # same session still works
        assert result.is_error is False
    change(live, 'call: "letta-jobs.list_jobs"', 'call: "letta-jobs.list_jbos"')
    wait_for(lambda: "reload rejected" in live["process"].output(), "the rejection")
    output = live["process"].output()
    assert "[call-target]" in output and "did you mean 'letta-jobs.list_jobs'" in output
    assert "still serving the previous configuration" in output
    assert list(jobs(live)[0]) == ["id"]  # the last good configuration still serves


def test_signals_during_a_reload_are_not_lost(tmp_path: Path) -> None:
    """Reloads run off the event loop one at a time; a SIGHUP that arrives while one is
    running triggers another afterwards, so the last edit on disk is what serves."""
    spec = tmp_path / "letta-jobs.yaml"
    text = (CAPABILITIES / "letta-jobs.yaml").read_text()
    spec.write_text(text)
    only_status = ONLY_IDS.replace("id:", "status:").replace("$.id", "$.status")
    with serve_bundled(path=tmp_path) as process:
        live = {"spec": spec, "process": process, "watch": False, **process.urls}
        spec.write_text(text.replace(REST_LIST_OUTPUT, ONLY_IDS, 1))
        process.process.send_signal(signal.SIGHUP)
        time.sleep(0.02)  # the first reload is now reading and compiling
        spec.write_text(text.replace(REST_LIST_OUTPUT, only_status, 1))
        process.process.send_signal(signal.SIGHUP)
        wait_for(lambda: list(jobs(live)[0]) == ["status"], "the last edit")
        time.sleep(1.0)  # no stale reload may land afterwards
        assert list(jobs(live)[0]) == ["status"]
        assert "Traceback" not in process.output()
        # the log counts what now serves (the MCP tools the reload handed over included)
        assert re.search(r"reloaded .*: \d+ REST operations, 5 MCP tools", process.output())


def _rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_memory_stays_flat_across_repeated_reloads(tmp_path: Path) -> None:
    """Each reload builds the new configuration beside the old one, so RSS rises once to
    about two configurations' worth; after that, more reloads must not add to it."""
    from tests.fixtures.specs import many_operations

    (tmp_path / "many.yaml").write_text(many_operations(300))
    with serve(tmp_path, ready=None) as process:
        process.wait_ready(process.rest + "/openapi.json", 60)
        samples = {}
        for count in range(1, 31):
            done = process.output().count("reloaded ")
            process.process.send_signal(signal.SIGHUP)
            wait_for(lambda done=done: process.output().count("reloaded ") > done, "reload", 30)
            if count in (10, 30):
                samples[count] = _rss_mib(process.process.pid)
        assert httpx.get(process.rest + "/items/7/x", timeout=10).status_code == 502
    growth = samples[30] - samples[10]
    assert growth < 20, f"RSS grew {growth} MiB over 20 reloads: {samples}"


def test_sighup_reloads_every_worker_rest_and_mcp(tmp_path: Path) -> None:
    """`--workers 2`: one SIGHUP to the instance reloads each worker (the parent passes it on
    once its own reload succeeded); afterwards every new connection, whichever worker it
    lands on, sees the new mapping over REST and the new description over MCP."""
    spec = tmp_path / "letta-jobs.yaml"
    spec.write_text((CAPABILITIES / "letta-jobs.yaml").read_text())
    with serve_bundled("--workers", "2", path=tmp_path) as process:
        live = {"spec": spec, "process": process, "watch": False, **process.urls}
        change(live, REST_LIST_OUTPUT, ONLY_IDS)
        change(
            live,
            'description: "List Jobs"\n          hints',
            'description: "List every job"\n          hints',
        )

        def everywhere() -> bool:  # fresh connections spread over both workers
            return all(list(jobs(live)[0]) == ["id"] for _ in range(12))

        wait_for(everywhere, "the new mapping in both workers")
        time.sleep(0.5)
        assert all(list(jobs(live)[0]) == ["id"] for _ in range(20))

        async def descriptions() -> set[str | None]:
            found = set()
            for _ in range(8):
                async with Client(live["mcp"], mode="2026-07-28") as client:
                    tools = (await client.list_tools()).tools
                    found |= {t.description for t in tools if t.name == "list-jobs"}
            return found

        import asyncio

        assert asyncio.run(descriptions()) == {"List every job"}
