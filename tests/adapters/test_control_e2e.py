"""The control adapter over loopback: health, readiness, status, Prometheus metrics while
traffic runs (parsed with prometheus_client's own parser), and the script settings endpoint
with the reference's validation and the adapter's authentication."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CAPABILITIES
from tests.fixtures.ports import free_port
from tests.fixtures.process import serve, serve_bundled

pytestmark = pytest.mark.e2e

JOB = "job-00000000-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def letta() -> Iterator[dict[str, str]]:
    with serve_bundled(control=True) as process:
        yield process.urls


def test_health_ready_and_status(letta: dict[str, str]) -> None:
    live = httpx.get(letta["control"] + "/health/live", timeout=10)
    assert (live.status_code, live.json()) == (200, {"status": "UP"})
    ready = httpx.get(letta["control"] + "/health/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "UP"
    kinds = {(a["type"], a.get("namespace")) for a in ready.json()["adapters"]}
    assert ("rest", "letta-jobs-rest") in kinds or any(k == "rest" for k, _ in kinds)
    status = httpx.get(letta["control"] + "/status", timeout=10).json()
    assert {c["specVersion"] for c in status["capabilities"]} == {"1.0.0-alpha2"}
    assert status["engine"]["name"] == "naftiko-runtime" and status["draining"] is False


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_requests_by_route_template_never_by_value(letta: dict[str, str]) -> None:
    for _ in range(5):
        assert httpx.get(letta["rest"] + "/v1/jobs/", params={"limit": "1"}, timeout=10).is_success
    for _ in range(3):
        httpx.get(letta["rest"] + f"/v1/jobs/{JOB}", timeout=10)
    text = httpx.get(letta["control"] + "/metrics", timeout=10).text
    samples = _samples(text)
    listed = samples[
        (
            "naftiko_requests_total",
            (("adapter", "rest"), ("operation", "GET /v1/jobs/"), ("outcome", "2xx")),
        )
    ]
    assert listed == 5
    by_id = sum(
        value
        for (name, labels), value in samples.items()
        if name == "naftiko_requests_total" and ("operation", "GET /v1/jobs/{job-id}") in labels
    )
    assert by_id == 3
    upstream = sum(v for (n, _), v in samples.items() if n == "naftiko_upstream_requests_total")
    assert upstream >= 8
    assert JOB not in text and "limit=1" not in text  # no request value is ever a label


SPEC = """\
naftiko: "1.0.0-alpha2"
binds:
  - namespace: env
    keys:
      CONTROL_TOKEN: CONTROL_TOKEN
capability:
  exposes:
    - type: mcp
      namespace: tools
      port: 9090
      tools:
        - name: hello
          description: "Say hello"
          outputParameters:
            - name: message
              type: string
              value: "hi"
    - type: control
      port: 9191
      address: localhost
      authentication:
        type: bearer
        token: "{{CONTROL_TOKEN}}"
      management:
        health: true
        info: true
        scripting:
          enabled: true
          defaultLanguage: javascript
          timeout: 3000
          statementLimit: 50000
          allowedLanguages: [javascript, python]
"""
TOKEN = "control-secret-0123456789"


@pytest.fixture(scope="module")
def controlled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    spec = tmp_path_factory.mktemp("control") / "spec.yaml"
    spec.write_text(SPEC)
    with serve(
        spec, env={"CONTROL_TOKEN": TOKEN}, ports=[9191, 9090], ready="/health/live"
    ) as process:
        yield process.url(9191)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_scripting_settings_read_and_change_with_validation(controlled: str) -> None:
    """ScriptingIntegrationTest: GET gives the spec's settings and stats; PUT changes them,
    each field validated; a bad value changes nothing."""
    assert httpx.get(controlled + "/scripting", timeout=10).status_code == 401
    settings = httpx.get(controlled + "/scripting", headers=AUTH, timeout=10).json()
    assert settings["enabled"] is True and settings["defaultLanguage"] == "javascript"
    assert (settings["timeout"], settings["statementLimit"]) == (3000, 50000)
    assert settings["allowedLanguages"] == ["javascript", "python"]
    assert settings["stats"] == {"totalExecutions": 0, "totalErrors": 0, "averageDurationMs": 0.0}
    changed = httpx.put(
        controlled + "/scripting",
        headers=AUTH,
        json={"enabled": False, "timeout": 7000, "statementLimit": 75000},
        timeout=10,
    )
    assert changed.status_code == 200
    assert (changed.json()["enabled"], changed.json()["timeout"]) == (False, 7000)
    for bad, message in (
        ({"timeout": 0}, "'timeout' must be greater than or equal to 1"),
        ({"timeout": "soon"}, "'timeout' must be an integer greater than or equal to 1"),
        ({"defaultLanguage": "cobol"}, "Unsupported language 'cobol'"),
        ({"defaultLocation": "relative/dir"}, "must be an absolute file:/// URI"),
        ({"allowedLanguages": "js"}, "must be an array"),
    ):
        reply = httpx.put(controlled + "/scripting", headers=AUTH, json=bad, timeout=10)
        assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request"
        assert message in reply.json()["error"]["message"]
    refused = httpx.delete(controlled + "/scripting", headers=AUTH, timeout=10)
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD, PUT"
    assert refused.json()["error"] == {"type": "method_not_allowed", "message": "GET or PUT"}
    after = httpx.get(controlled + "/scripting", headers=AUTH, timeout=10).json()
    assert after["timeout"] == 7000 and after["defaultLanguage"] == "javascript"
    assert httpx.get(controlled + "/status", headers=AUTH, timeout=10).status_code == 200


def test_control_without_scripting_management_has_no_scripting_endpoint(
    letta: dict[str, str],
) -> None:
    assert httpx.get(letta["control"] + "/scripting", timeout=10).status_code == 404
    Path  # noqa: B018 - (imported for the fixtures above)


def test_cli_verbs_read_the_control_port(letta: dict[str, str]) -> None:
    import json as json_

    from tests.conftest import cli

    health = cli("health", "--control", letta["control"])
    assert health.code == 0 and health.out.startswith("UP\n") and "rest" in health.out
    status = cli("status", "--control", letta["control"], "--format", "json")
    assert status.code == 0 and json_.loads(status.out)["engine"]["name"] == "naftiko-runtime"
    metrics = cli("metrics", "--control", letta["control"], "--format", "json")
    assert metrics.code == 0
    assert any(
        s["name"] == "naftiko_reloads_total" or s["name"].startswith("naftiko_")
        for s in json_.loads(metrics.out)
    )
    down = cli("health", "--control", "http://127.0.0.1:9")
    assert down.code == 2 and "cannot reach" in down.err


def test_trace_sampling_zero_serves_probes_without_tracing() -> None:
    """`--control` traces every request by default (as the reference's control adapter);
    `--trace-sampling 0` keeps health, status and metrics but turns tracing off, so a
    container's probes cost the hot path nothing for spans."""
    control = free_port()
    with serve_bundled("--control", f"127.0.0.1:{control}", "--trace-sampling", "0") as process:
        base = f"http://127.0.0.1:{control}"
        assert httpx.get(process.rest + "/v1/jobs/?limit=1", timeout=10).status_code == 200
        assert httpx.get(base + "/health/ready", timeout=10).status_code == 200
        assert httpx.get(base + "/traces", timeout=10).status_code == 404
        assert "naftiko_requests_total" in httpx.get(base + "/metrics", timeout=10).text


def test_control_rejects_a_bad_address() -> None:
    from naftiko_runtime.cli import run

    err = io.StringIO()
    code = run(["serve", str(CAPABILITIES), "--control", "somewhere:http"], io.StringIO(), err, {})
    assert code == 2 and "--control must be PORT or HOST:PORT" in err.getvalue()
