"""Access lines and JSON logs (`--access-log --log-format json`): one JSON line per request
with the request id echoed as X-Request-Id, the route template, status, duration and upstream
time, and never the query string; every other log line is JSON too."""

from __future__ import annotations

import json
import signal

import httpx
import pytest

from tests.fixtures.process import serve_bundled

pytestmark = pytest.mark.e2e


def test_json_access_lines_name_the_route_and_echo_the_request_id() -> None:
    with serve_bundled("--access-log", "--log-format", "json") as process:
        given = httpx.get(
            process.rest + "/v1/jobs/job-secretish-id",
            params={"limit": "3", "token": "should-not-be-logged"},
            headers={"X-Request-Id": "req-42"},
            timeout=10,
        )
        made = httpx.get(process.rest + "/v1/jobs/", timeout=10)
        assert given.headers["x-request-id"] == "req-42"
        assert len(made.headers["x-request-id"]) == 16
        bad = httpx.get(process.rest + "/nowhere", headers={"X-Request-Id": "a b;c"})
        assert bad.headers["x-request-id"] != "a b;c"  # not a plain token: replaced
        process.process.send_signal(signal.SIGTERM)
        process.process.wait(timeout=20)
        lines = [line for line in process.output().splitlines() if line.startswith("{")]
        records = [json.loads(line) for line in lines]
        access = {r["request_id"]: r for r in records if r["logger"] == "naftiko_runtime.access"}
        line = access["req-42"]
        assert line["route"] == "/v1/jobs/{job-id}" and line["method"] == "GET"
        assert line["status"] == given.status_code and line["adapter"] == "rest"
        assert line["duration_ms"] > 0 and line["upstream_ms"] > 0
        assert access[made.headers["x-request-id"]]["route"] == "/v1/jobs/"
        assert access[bad.headers["x-request-id"]]["route"] == "-"
        output = process.output()
        assert "should-not-be-logged" not in output and "limit=3" not in output
        assert "job-secretish-id" not in output  # path values stay out of access lines
        others = [r for r in records if r["logger"] != "naftiko_runtime.access"]
        assert all({"time", "level", "message"} <= set(r) for r in others)
