"""The slim install: without any extra, a JSON capability serves REST and MCP (tracing off,
said once); a spec that needs a missing extra is refused by `validate` and by `serve` with a
diagnostic at the line that needs it, naming the extra, never an ImportError traceback.

The extras' modules are made unimportable in the child interpreter
(tests/fixtures/without_extras.py), as after a plain `pip install naftiko-runtime`;
scripts/check-wheel does the same with a real core-only install of the built wheel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.fixtures.ports import free_port
from tests.fixtures.process import serve
from tests.fixtures.upstream import RecordingUpstream, running

pytestmark = pytest.mark.e2e

EXAMPLES = REPO / "docs" / "examples"
WITHOUT = ("-m", "tests.fixtures.without_extras")


def without_extras(*args: str, block: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **({"NAFTIKO_TEST_BLOCK": block} if block else {})}
    return subprocess.run(
        [sys.executable, *WITHOUT, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize(
    ("example", "needle", "extra"),
    [
        ("formats.yaml", "outputRawFormat: xml", "formats"),
        ("script.yaml", "language: javascript", "scripting"),
        ("forward.yaml", "forward:", "clients"),
    ],
)
def test_validate_names_the_missing_extra_at_the_line_that_needs_it(
    example: str, needle: str, extra: str
) -> None:
    path = EXAMPLES / example
    done = without_extras("validate", "--format", "json", str(path))
    assert done.returncode == 1, done.stderr
    [found] = json.loads(done.stdout)["diagnostics"]
    assert found["rule"] == "extra-missing" and found["line"] == line_of(path, needle)
    assert f"'{extra}' extra" in found["message"]
    assert f"pip install 'naftiko-runtime[{extra}]'" in found["hint"]
    assert "Traceback" not in done.stderr


def test_serve_refuses_the_spec_before_binding_with_the_same_diagnostic() -> None:
    path = EXAMPLES / "formats.yaml"
    port = free_port()
    done = without_extras("serve", str(path), "--port", f"8080={port}", block="lxml")
    assert done.returncode == 1
    assert f"formats.yaml:{line_of(path, 'outputRawFormat: xml')}:" in done.stderr
    assert "[extra-missing]" in done.stderr and "naftiko-runtime[formats]" in done.stderr
    assert "Traceback" not in done.stderr and "serving" not in done.stderr


def test_an_alternative_client_without_its_extra_is_a_usage_error() -> None:
    done = without_extras("serve", str(EXAMPLES / "minimal.yaml"), "--http-client", "pyreqwest")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "naftiko-runtime: error: --http-client pyreqwest needs the 'clients' extra: "
        "pip install 'naftiko-runtime[clients]'"
    )


def test_the_core_serves_json_over_rest_and_the_control_plane_without_any_extra() -> None:
    """control.yaml turns tracing on by default: without OpenTelemetry it is off, said once,
    and health, status and metrics are served."""
    upstream = RecordingUpstream()
    with running(upstream) as url:
        args = [EXAMPLES / "control.yaml", "--upstream", f"*={url}"]
        ports, command = [8080, 9191], (*WITHOUT, "serve")
        with serve(*args, ports=ports, ready="/", command=command) as process:
            reply = httpx.get(process.rest + "/items", timeout=10)
            assert reply.json() == {"path": "/items", "method": "GET"}
            ready = httpx.get(process.url(9191) + "/health/ready", timeout=10)
            assert ready.json()["status"] == "UP"
            assert "traceparent" not in upstream.seen[0].headers  # not traced
            log = process.output()
    assert log.count("tracing is off: OpenTelemetry is not installed") == 1
    assert "pip install 'naftiko-runtime[otel]'" in log and "Traceback" not in log
