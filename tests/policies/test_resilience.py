"""Upstream faults over real loopback with `serve --policies`: a 503 with Retry-After is
retried after the wait; POSTs without an Idempotency-Key never are; the retry budget holds
during an outage; a dead or flapping upstream opens its circuit (an immediate 503 with
Retry-After, nothing sent), probes, and closes again; timeouts per operation and the first
byte bound the wait. Every attempt shows in the metrics and the traces."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.ports import free_port
from tests.fixtures.upstream import Reply, running
from tests.policies.served import (
    Scripted,
    fast_call,
    json_rpc,
    metric,
    running_on,
    serve_with_policies,
    write,
)

pytestmark = pytest.mark.e2e
RETRY = """\
naftikoPolicies: "1"
upstreams:
  api:
    retry:
      attempts: 3
      backoff: {initial: 0.01, max: 0.05}
      retryAfterMax: 2
"""


def test_a_503_with_retry_after_is_retried_after_the_wait_and_each_attempt_counted(
    tmp_path: Path,
) -> None:
    busy = Reply(status=503, body=b'{"busy": true}', headers=[("Retry-After", "1")])
    upstream = Scripted(
        {"/items/": [busy, Reply()], "/slow/": [Reply(status=503, headers=[("Retry-After", "30")])]}
    )
    spec, policy = write(tmp_path, RETRY)
    with running(upstream) as base, serve_with_policies(spec, policy, base) as (_, urls):
        started = time.monotonic()
        answer = httpx.get(urls["rest"] + "/items/1", timeout=10)
        took = time.monotonic() - started
        assert answer.status_code == 200 and upstream.hits("/items/") == 2
        assert 1.0 <= took < 3.0  # Retry-After: 1 was honoured, not the 10 ms backoff
        # a Retry-After past retryAfterMax is not waited for: the client gets the failure
        started = time.monotonic()
        refused = httpx.get(urls["rest"] + "/slow/1", timeout=10)
        assert refused.status_code == 502 and upstream.hits("/slow/") == 1
        assert time.monotonic() - started < 1.0
        metrics = httpx.get(urls["control"] + "/metrics", timeout=10).text
        traces = httpx.get(urls["control"] + "/traces", timeout=10).json()["traces"]
        retried = next(t for t in traces if t["status"] == "OK")
        trace = httpx.get(urls["control"] + f"/traces/{retried['traceId']}", timeout=10).json()
    assert metric(metrics, "naftiko_upstream_retries_total", namespace="api", reason="503") == 1
    assert metric(metrics, "naftiko_upstream_requests_total", namespace="api", status="5xx") == 2
    assert metric(metrics, "naftiko_upstream_requests_total", namespace="api", status="2xx") == 1
    denied = metric(metrics, "naftiko_upstream_retries_denied_total", reason="retry_after")
    assert denied == 1
    clients = [s for s in trace["spans"] if s["kind"] == "CLIENT"]
    assert len(clients) == 2  # one client span per attempt
    assert [s["status"] for s in clients] == ["ERROR", "OK"]


def test_a_post_is_retried_only_with_an_idempotency_key(tmp_path: Path) -> None:
    upstream = Scripted({"/items/": [Reply(status=503), Reply(status=201)]})
    spec, policy = write(tmp_path, RETRY)
    with running(upstream) as base, serve_with_policies(spec, policy, base) as (_, urls):
        plain = httpx.post(urls["rest"] + "/items/1", timeout=10)
        assert plain.status_code == 502 and upstream.hits("/items/", "POST") == 1
        upstream.plan["/items/"] = [Reply(status=503), Reply(status=201)]
        keyed = httpx.post(
            urls["rest"] + "/items/2", headers={"Idempotency-Key": "k-1"}, timeout=10
        )
        assert keyed.status_code == 201 and upstream.hits("/items/", "POST") == 3
    assert [s.headers.get("idempotency-key") for s in upstream.seen] == [None, "k-1", "k-1"]


def test_the_retry_budget_holds_during_an_outage(tmp_path: Path) -> None:
    upstream = Scripted({"/items/": [Reply(status=503)]})
    policies = RETRY + "      budget: {ratio: 0.2, minRetries: 2, window: 60}\n"
    spec, policy = write(tmp_path, policies)
    with running(upstream) as base, serve_with_policies(spec, policy, base) as (_, urls):
        statuses = {
            httpx.get(urls["rest"] + f"/items/{n}", timeout=10).status_code for n in range(40)
        }
        metrics = httpx.get(urls["control"] + "/metrics", timeout=10).text
    assert statuses == {502}
    # 40 requests at 3 attempts each would be 120 calls; the budget allows 2 + 20 % of 40
    assert 40 + 8 <= upstream.hits("/items/") <= 40 + 10
    assert metric(metrics, "naftiko_upstream_retries_denied_total", reason="budget") >= 20


BREAKER = """\
naftikoPolicies: "1"
upstreams:
  api:
    circuitBreaker: {failureRatio: 0.5, minimumCalls: 4, window: 10, openFor: 1}
"""


def test_a_dead_upstream_opens_the_circuit_which_probes_and_closes(tmp_path: Path) -> None:
    port = free_port()
    spec, policy = write(tmp_path, BREAKER)
    with serve_with_policies(spec, policy, f"http://127.0.0.1:{port}") as (process, urls):
        item = urls["rest"] + "/items/1"
        kinds = [httpx.get(item, timeout=10).json()["error"]["type"] for _ in range(4)]
        assert kinds == ["upstream_connect"] * 4
        with httpx.Client(timeout=10) as client, concurrent.futures.ThreadPoolExecutor(10) as pool:
            refused = list(pool.map(lambda _: client.get(item), range(20)))
        assert max(r.elapsed.total_seconds() for r in refused) < 0.25  # nobody waits
        assert {r.status_code for r in refused} == {503}
        assert {r.headers["retry-after"] for r in refused} == {"1"}
        error = refused[0].json()["error"]
        assert error["type"] == "upstream_circuit_open" and error["retry_after"] == 1
        tool = json_rpc(fast_call(urls["mcp"], 1))["result"]  # an MCP tool: an error result
        assert tool["isError"] and "circuit is open" in tool["content"][0]["text"]
        upstream = Scripted({"/items/": [Reply()]})
        with running_on(upstream, port):
            time.sleep(1.1)
            assert httpx.get(item, timeout=10).status_code == 200  # the probe
            assert [httpx.get(item, timeout=10).status_code for _ in range(3)] == [200] * 3
            metrics = httpx.get(urls["control"] + "/metrics", timeout=10).text
        log = process.output()
    assert upstream.hits("/items/") == 4
    assert "circuit of upstream api is open: 4 of the last 4 calls failed within 10 s" in log
    assert "last: connect; refusing calls for 1 s" in log
    assert "circuit of upstream api is half-open" in log
    assert "circuit of upstream api is closed: 1 probe call(s) succeeded" in log
    assert log.count("circuit of upstream api is") == 3  # one line per state change
    assert metric(metrics, "naftiko_circuit_state", namespace="api") == 0
    assert metric(metrics, "naftiko_circuit_transitions_total", namespace="api", state="open") == 1


def test_a_flapping_upstream_opens_again_when_a_probe_fails(tmp_path: Path) -> None:
    ok, failing = Reply(), Reply(status=503)
    upstream = Scripted({"/items/": [ok, failing, ok, failing, ok, failing, failing, ok]})
    breaker = BREAKER.replace("minimumCalls: 4", "minimumCalls: 6")
    spec, policy = write(tmp_path, breaker)
    with running(upstream) as base, serve_with_policies(spec, policy, base) as (process, urls):
        item = urls["rest"] + "/items/1"
        assert [httpx.get(item, timeout=10).status_code for _ in range(6)] == [200, 502] * 3
        assert httpx.get(item, timeout=10).status_code == 503  # open: 3 of 6 failed
        time.sleep(1.1)
        assert httpx.get(item, timeout=10).status_code == 502  # the probe fails
        assert httpx.get(item, timeout=10).status_code == 503  # open again at once
        time.sleep(1.1)
        assert httpx.get(item, timeout=10).status_code == 200  # this probe passes
        assert httpx.get(item, timeout=10).status_code == 200
        log = process.output()
    assert upstream.hits("/items/") == 9
    assert "circuit of upstream api is open: 3 of the last 6 calls failed" in log
    assert "circuit of upstream api is open: a probe call failed (status 503)" in log


TIMEOUTS = """\
naftikoPolicies: "1"
upstreams:
  api:
    timeouts: {firstByte: 0.3, total: 5}
    operations:
      get-slow:
        timeouts: {firstByte: 3, total: 1.5}
"""


def test_timeouts_per_namespace_and_operation_override_the_flags(tmp_path: Path) -> None:
    upstream = Scripted({"/items/": [Reply(delay=1.0)], "/slow/": [Reply(delay=1.0)]})
    spec, policy = write(tmp_path, TIMEOUTS)
    with (
        running(upstream) as base,
        serve_with_policies(spec, policy, base, "--timeout", "0.5") as (_, urls),
    ):
        started = time.monotonic()
        silent = httpx.get(urls["rest"] + "/items/1", timeout=10)
        took = time.monotonic() - started
        assert silent.status_code == 504 and 0.3 <= took < 2.0
        assert "sent no byte of its answer to api.get-item within 0.3 s" in silent.text
        # its operation waits up to 3 s for a first byte and 1.5 s in all: over the flag's 0.5
        assert httpx.get(urls["rest"] + "/slow/1", timeout=10).status_code == 200
        upstream.plan["/slow/"] = [Reply(delay=2.5)]
        started = time.monotonic()
        slow = httpx.get(urls["rest"] + "/slow/2", timeout=10)
        assert slow.status_code == 504 and 1.4 <= time.monotonic() - started < 2.4
