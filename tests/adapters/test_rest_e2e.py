"""The REST adapter over real loopback HTTP: a real `serve` process in front of a recording
upstream. What the client gets back, and exactly what the upstream received."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import CAPABILITIES, cli
from tests.fixtures.ports import free_port
from tests.fixtures.process import ServeProcess, serve
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = pytest.mark.e2e

TOKEN = "tok-e2e-0123456789abcdef"


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[RecordingUpstream, str]]:
    app = RecordingUpstream()
    with running(app) as url:
        yield app, url


@pytest.fixture(scope="module", params=["pyreqwest", "aiohttp", "h1"])
def served(
    upstream: tuple[RecordingUpstream, str], request: pytest.FixtureRequest
) -> Iterator[tuple[str, ServeProcess]]:
    _, url = upstream
    args = [CAPABILITIES, "--http-client", request.param, "--upstream", f"*={url}"]
    args += ["--timeout", "1", "--access-log"]
    with serve(*args, env={"LETTA_API_KEY": TOKEN}) as process:
        yield process.rest, process


@pytest.fixture
def recorder(upstream: tuple[RecordingUpstream, str]) -> RecordingUpstream:
    app = upstream[0]
    app.seen.clear()
    app.script.clear()
    return app


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, timeout=10, **kwargs)


def test_upstream_receives_exactly_the_expected_request(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream
) -> None:
    base, _ = served
    response = get(base + "/v1/jobs/?ascending=false&limit=5&active=true&unknown=zzz")
    assert response.status_code == 200
    [seen] = recorder.seen
    assert (seen.method, seen.raw_path) == ("GET", "/v1/jobs/")
    assert seen.query == "limit=5&active=true&ascending=false"  # declared order; unknown dropped
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert response.json() == {"path": "/v1/jobs/", "method": "GET"}


def test_parameters_the_client_did_not_send_are_not_sent(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream
) -> None:
    get(served[0] + "/v1/jobs/")
    assert recorder.seen[0].query == ""


def test_path_values_are_percent_encoded(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream
) -> None:
    response = get(
        served[0] + "/v1/jobs/job%201%3Fx%23y/cancel",
    )
    assert response.status_code == 405  # cancel is PATCH
    response = httpx.patch(served[0] + "/v1/jobs/job%201%3Fx%23y/cancel", timeout=10)
    assert response.status_code == 200
    assert recorder.seen[-1].raw_path == "/v1/jobs/job%201%3Fx%23y/cancel"
    assert recorder.seen[-1].method == "PATCH"


def test_dot_segments_and_encoded_slashes_never_change_the_upstream_path(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream
) -> None:
    host, port = served[0].removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/v1/jobs/%2E%2E")
    response = connection.getresponse()
    assert response.status == 400 and b"cannot be '.' or '..'" in response.read()
    connection.request("GET", "/v1/jobs/..%2F..%2Fadmin")  # one segment holding `../../admin`
    response = connection.getresponse()
    assert response.status == 400 and b"nor hold them between slashes" in response.read()
    assert recorder.seen == []  # neither request reached the upstream


def test_repeated_query_keys_are_forwarded_as_they_are(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream
) -> None:
    get(served[0] + "/v1/runs/?agent_ids=a&agent_ids=b&active=1")
    assert recorder.seen[-1].query == "agent_ids=a&agent_ids=b&active=true"


def test_bad_typed_input_is_a_400_naming_it(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream
) -> None:
    response = get(served[0] + "/v1/jobs/?active=maybe&ascending=sometimes")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert [p["name"] for p in error["problems"]] == ["active", "ascending"]
    assert recorder.seen == []


def test_json_body_is_forwarded_and_event_stream_is_not_buffered(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream
) -> None:
    chunks = [b'data: {"n": 1}\n\n', b'data: {"n": 2}\n\n', b"data: [DONE]\n\n"]
    recorder.script["/v1/runs/run-1/stream"] = Reply(
        content_type="text/event-stream", chunks=chunks
    )
    arrivals = []
    with httpx.stream(
        "POST", served[0] + "/v1/runs/run-1/stream", json={"starting_after": 2}, timeout=10
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic(), chunk))
    assert b"".join(c for _, c in arrivals) == b"".join(chunks)
    assert arrivals[-1][0] - arrivals[0][0] > 0.05  # chunks came as sent, not all at the end
    seen = recorder.seen[-1]
    assert orjson.loads(seen.body) == {"starting_after": 2}
    assert seen.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("reply", "status", "kind"),
    [
        (Reply(status=500, body=b'{"detail": "boom"}'), 502, "upstream_status"),
        (
            Reply(status=503, body=b"<html>down</html>", content_type="text/html"),
            502,
            "upstream_status",
        ),
        (Reply(body=b"<html>not json</html>"), 502, "upstream_bad_response"),
        (Reply(delay=3.0), 504, "upstream_timeout"),
    ],
    ids=["500", "503-html", "garbage", "hang"],
)
def test_upstream_faults_give_documented_status_and_keep_serving(
    served: tuple[str, ServeProcess],
    recorder: RecordingUpstream,
    reply: Reply,
    status: int,
    kind: str,
) -> None:
    recorder.script["/v1/jobs/job-fault"] = reply
    response = get(served[0] + "/v1/jobs/job-fault")
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == kind and error["message"]
    if kind == "upstream_status":
        assert error["upstream_status"] == reply.status
    assert get(served[0] + "/v1/jobs/job-fine").status_code == 200


def test_upstream_4xx_passes_through_with_status_and_body(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream
) -> None:
    recorder.script["/v1/jobs/job-x"] = Reply(status=404, body=b'{"detail": "Job job-x not found"}')
    response = get(served[0] + "/v1/jobs/job-x")
    assert response.status_code == 404 and response.json() == {"detail": "Job job-x not found"}


def test_secrets_never_appear_in_responses_or_logs(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream
) -> None:
    recorder.script["/v1/jobs/job-echo"] = Reply(
        status=401, body=orjson.dumps({"detail": f"bad token Bearer {TOKEN}"})
    )
    response = get(served[0] + "/v1/jobs/job-echo")
    assert response.status_code == 401
    assert TOKEN not in response.text and "***" in response.text
    recorder.script["/v1/jobs/job-crash"] = Reply(status=500)
    get(served[0] + "/v1/jobs/job-crash")
    assert TOKEN not in served[1].output()


def test_unknown_route_and_wrong_method_are_json(served: tuple[str, ServeProcess]) -> None:
    missing = get(served[0] + "/v2/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    wrong = httpx.put(served[0] + "/v1/jobs/", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"]["type"] == "method_not_allowed"


def test_openapi_is_served_and_matches_the_command(served: tuple[str, ServeProcess]) -> None:
    document = get(served[0] + "/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    operations = [(m.upper(), p) for p, ops in document["paths"].items() for m in ops]
    assert len(operations) == 15 and ("PATCH", "/v1/jobs/{job-id}/cancel") in operations
    retrieve = document["paths"]["/v1/jobs/{job-id}"]["get"]
    assert retrieve["parameters"][0] == {
        "name": "job-id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The ID of the job in the format 'job-<uuid4>'",
    }
    active = document["paths"]["/v1/jobs/"]["get"]["parameters"]
    assert {
        "name": "active",
        "in": "query",
        "required": False,
        "schema": {"type": "boolean"},
        "description": "Filter for active jobs.",
    } in active
    printed = cli("openapi", str(CAPABILITIES))
    assert printed.code == 0 and orjson.loads(printed.out) == document


def test_upstream_down_is_502(tmp_path: Any) -> None:
    dead = free_port()
    upstream = f"*=http://127.0.0.1:{dead}"
    with serve(CAPABILITIES, "--upstream", upstream, env={"LETTA_API_KEY": TOKEN}) as process:
        base = process.rest
        response = get(base + "/v1/jobs/")
        assert response.status_code == 502
        error = response.json()["error"]
        assert error["type"] == "upstream_connect" and "cannot reach" in error["message"]
        assert get(base + "/openapi.json").status_code == 200


def test_spec_typo_fails_before_binding_any_port(tmp_path: Any) -> None:
    text = (CAPABILITIES / "letta-jobs.yaml").read_text()
    bad = tmp_path / "letta-jobs.yaml"
    bad.write_text(text.replace('call: "letta-jobs.list_jobs"', 'call: "letta-jobs.list_jbos"', 1))
    with serve(bad, env={"LETTA_API_KEY": TOKEN}, ready=None) as process:
        assert process.process.wait(timeout=20) == 1
        output = process.output()
    validate = cli("validate", str(bad))
    assert validate.code == 1 and validate.out in output
    assert "serving" not in output


def test_missing_secrets_are_all_reported_before_serving(tmp_path: Any) -> None:
    with serve(CAPABILITIES, ready=None) as process:
        assert process.process.wait(timeout=20) == 1
        output = process.output()
    assert (
        "missing environment variables: LETTA_API_KEY (capabilities/letta-jobs.yaml:15)" in output
        and "LETTA_API_KEY (capabilities/letta-runs.yaml:15)" in output
    )
    assert "serving" not in output


def test_port_in_use_is_a_clear_error(served: tuple[str, ServeProcess]) -> None:
    taken = int(served[0].rsplit(":", 1)[1])
    ports = {8080: taken, 9090: free_port()}
    with serve(CAPABILITIES, env={"LETTA_API_KEY": TOKEN}, ports=ports, ready=None) as process:
        assert process.process.wait(timeout=20) == 1
        assert f"cannot listen on 127.0.0.1:{taken}" in process.output()


def test_encoded_slash_stays_inside_its_segment(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream
) -> None:
    """Routing reads the raw path: `group%2Fproject` is one `job_id`, sent upstream encoded."""
    response = get(served[0] + "/v1/jobs/group%2Fproject")
    assert response.status_code == 200
    assert recorder.seen[-1].raw_path == "/v1/jobs/group%2Fproject"
    response = get(served[0] + "/v1/jobs/caf%C3%A9")  # UTF-8 text is data as usual
    assert response.status_code == 200
    assert recorder.seen[-1].raw_path == "/v1/jobs/caf%C3%A9"


@pytest.mark.parametrize(
    ("target", "name"),
    [("/v1/jobs/%FF%FE", "path"), ("/v1/jobs/?limit=%FF", "query"), ("/v1/%C3/x", "path")],
)
def test_bytes_that_are_not_utf8_are_a_400_not_replaced(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream, target: str, name: str
) -> None:
    response = get(served[0] + target)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request" and error["problems"][0]["name"] == name
    assert recorder.seen == []  # nothing with U+FFFD went upstream


@pytest.mark.parametrize("depth", [1000, 5000])
def test_a_json_body_nested_too_deep_is_a_400(
    served: tuple[str, ServeProcess], recorder: RecordingUpstream, depth: int
) -> None:
    body = '{"a":' * depth + "1" + "}" * depth
    response = httpx.post(
        served[0] + "/v1/runs/run-1/stream",
        content=body,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["name"] == "body"
    assert recorder.seen == []
