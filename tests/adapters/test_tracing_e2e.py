"""Tracing over real loopback HTTP (follows the reference's ObservabilityRestIntegrationTest
and ContextPropagationTest): an OTLP/HTTP receiver decodes what the runtime exports with
`opentelemetry-proto`; one trace per request continues the client's `traceparent`, holds the
upstream and step spans, and the upstream saw the context; `/traces` lists the same."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp import Client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.fixtures.process import serve
from tests.fixtures.specs import api_header
from tests.fixtures.upstream import RecordingUpstream, read_body, running

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"
SPEC = (
    api_header()
    + """\
        - name: users
          path: "/users"
          operations:
            - name: list-users
              method: GET
        - name: teams
          path: "/teams"
          operations:
            - name: list-teams
              method: GET
  exposes:
    - type: rest
      namespace: traced
      port: 8080
      resources:
        - path: "/users"
          operations:
            - method: GET
              name: users
              call: api.list-users
        - path: "/both"
          operations:
            - method: GET
              name: both
              steps:
                - type: call
                  name: fetch-users
                  call: api.list-users
                - type: call
                  name: fetch-teams
                  call: api.list-teams
              mappings:
                - targetName: users
                  value: "$.fetch-users.path"
                - targetName: teams
                  value: "$.fetch-teams.path"
              outputParameters:
                - name: users
                  type: string
                - name: teams
                  type: string
    - type: mcp
      namespace: traced-mcp
      port: 9090
      tools:
        - name: users
          description: "The users"
          call: api.list-users
    - type: control
      port: 9191
      observability:
        traces:
          local:
            buffer-size: 50
        exporters:
          otlp:
            endpoint: "OTLP_URL"
"""
)


class OtlpReceiver:
    """OTLP/HTTP (protobuf) trace receiver: every exported span, flattened."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await read_body(receive)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.lock:
            for resource in request.resource_spans:
                for scoped in resource.scope_spans:
                    for span in scoped.spans:
                        self.spans.append(
                            {
                                "trace": span.trace_id.hex(),
                                "id": span.span_id.hex(),
                                "parent": span.parent_span_id.hex(),
                                "name": span.name,
                                "kind": span.kind,
                                "attributes": {
                                    a.key: a.value.string_value or a.value.int_value
                                    for a in span.attributes
                                },
                            }
                        )
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def of_trace(self, trace_id: str, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with self.lock:
                found = [s for s in self.spans if s["trace"] == trace_id]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        return found


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    receiver, upstream = OtlpReceiver(), RecordingUpstream()
    with running(receiver) as otlp, running(upstream) as base:
        spec = tmp_path_factory.mktemp("traced") / "traced.yaml"
        spec.write_text(SPEC.replace("OTLP_URL", f"{otlp}/v1/traces"))
        with serve(spec, "--upstream", f"api={base}", ports=[8080, 9090, 9191]) as process:
            urls = {**process.urls, "control": process.url(9191)}
            yield {**urls, "receiver": receiver, "upstream": upstream}


def test_a_request_continues_the_clients_trace_to_the_upstream(traced: dict[str, Any]) -> None:
    reply = httpx.get(traced["rest"] + "/users", headers={"traceparent": TRACEPARENT})
    assert reply.status_code == 200
    sent = traced["upstream"].seen[-1].headers["traceparent"]
    assert sent.split("-")[1] == TRACE_ID  # the upstream is in the client's trace
    spans = {s["name"]: s for s in traced["receiver"].of_trace(TRACE_ID, 2)}
    server, client = spans["rest.request"], spans["http.client.GET"]
    assert server["parent"] == PARENT
    assert server["attributes"]["naftiko.operation.id"] == "/users GET"
    assert server["attributes"]["http.response.status_code"] == 200
    assert client["parent"] == server["id"]
    assert sent.split("-")[2] == client["id"]  # the upstream's parent is the client span
    assert client["attributes"]["naftiko.namespace"] == "api"


def test_steps_are_spans_under_the_request(traced: dict[str, Any]) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    traceparent = f"00-{trace_id}-b7ad6b7169203331-01"
    reply = httpx.get(traced["rest"] + "/both", headers={"traceparent": traceparent})
    assert reply.status_code == 200, reply.text
    spans = traced["receiver"].of_trace(trace_id, 5)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_name.setdefault(span["name"], []).append(span)
    (server,) = by_name["rest.request"]
    steps = by_name["step.call"]
    assert {s["attributes"]["naftiko.step.name"] for s in steps} == {"fetch-users", "fetch-teams"}
    assert all(s["parent"] == server["id"] for s in steps)
    step_ids = {s["id"] for s in steps}
    assert len(by_name["http.client.GET"]) == 2
    assert all(s["parent"] in step_ids for s in by_name["http.client.GET"])


async def test_an_mcp_tool_call_continues_the_trace_in_meta(traced: dict[str, Any]) -> None:
    """Follows ObservabilityMcpIntegrationTest (`mcp.tool` with its attributes), plus the
    `_meta` context the reference does not read."""
    trace_id = "1af7651916cd43dd8448eb211c80319d"
    meta = {"traceparent": f"00-{trace_id}-c7ad6b7169203332-01"}
    async with Client(traced["mcp"]) as client:
        result = await client.call_tool("users", {}, meta=meta)
    assert not result.is_error
    spans = {s["name"]: s for s in traced["receiver"].of_trace(trace_id, 2)}
    assert spans["mcp.tool"]["parent"] == "c7ad6b7169203332"
    assert spans["mcp.tool"]["attributes"]["naftiko.operation.id"] == "users"
    assert spans["http.client.GET"]["parent"] == spans["mcp.tool"]["id"]


def test_the_control_port_lists_recent_traces(traced: dict[str, Any]) -> None:
    httpx.get(traced["rest"] + "/users", headers={"traceparent": TRACEPARENT})
    listing = httpx.get(traced["control"] + "/traces", params={"operation": "rest"}).json()
    assert listing["bufferSize"] == 50 and listing["bufferUsed"] >= 1
    latest = listing["traces"][0]
    assert set(latest) == {"traceId", "operation", "durationMs", "status", "spanCount", "timestamp"}
    assert latest["operation"] == "rest.request" and latest["status"] == "OK"
    detail = httpx.get(traced["control"] + f"/traces/{latest['traceId']}").json()
    assert {s["name"] for s in detail["spans"]} >= {"rest.request", "http.client.GET"}
    missing = httpx.get(traced["control"] + "/traces/" + "0" * 32)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    assert httpx.get(traced["control"] + "/traces", params={"status": "error"}).json()[
        "traces"
    ] == [t for t in listing["traces"] if t["status"] == "ERROR"]


def test_the_cli_prints_recent_traces(traced: dict[str, Any]) -> None:
    """Follows TracesCommandTest: the `traces` verb reads the control port."""
    httpx.get(traced["rest"] + "/users")
    args = [sys.executable, "-m", "naftiko_runtime", "traces", "--control", traced["control"]]
    text = subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout
    assert "traces kept" in text and "rest.request" in text
    as_json = subprocess.run(
        [*args, "--format", "json", "--status", "OK"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert all(t["status"] == "OK" for t in json.loads(as_json)["traces"])


def test_the_standard_otel_variable_turns_tracing_on_without_a_control_adapter(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    receiver, upstream = OtlpReceiver(), RecordingUpstream()
    spec_text = SPEC.split("    - type: control")[0]
    with running(receiver) as otlp, running(upstream) as base:
        spec = tmp_path_factory.mktemp("otel-env") / "traced.yaml"
        spec.write_text(spec_text)
        env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{otlp}/v1/traces"}
        with serve(spec, "--upstream", f"api={base}", env=env) as process:
            trace_id = "2af7651916cd43dd8448eb211c80319e"
            traceparent = f"00-{trace_id}-d7ad6b7169203333-01"
            httpx.get(process.rest + "/users", headers={"traceparent": traceparent})
            names = {s["name"] for s in receiver.of_trace(trace_id, 2)}
    assert names >= {"rest.request", "http.client.GET"}


def test_without_configuration_nothing_is_traced(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """No control adapter, no OTel variable: tracing is off and nothing is wrapped, so no
    trace context reaches the upstream."""
    upstream = RecordingUpstream()
    with running(upstream) as base:
        spec = tmp_path_factory.mktemp("untraced") / "untraced.yaml"
        spec.write_text(SPEC.split("    - type: control")[0])
        with serve(spec, "--upstream", f"api={base}") as process:
            reply = httpx.get(process.rest + "/users", headers={"traceparent": TRACEPARENT})
            assert reply.status_code == 200
    assert "traceparent" not in upstream.seen[-1].headers
