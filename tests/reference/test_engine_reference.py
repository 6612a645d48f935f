"""The reference engine's step, lookup, mapping, aggregate and forward tests, mirrored case by
case over real loopback HTTP (REST and the official MCP client) against a recording upstream.

Each test names the Java test it follows (`naftiko/framework`, `src/test/java/io/naftiko/`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from mcp import Client

from tests.fixtures.process import serve
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = pytest.mark.anyio
SPEC = Path(__file__).with_name("engine_spec.yaml")
NOTION_TOKEN = "ntn-secret-0123456789"


def _json(value: Any, status: int = 200, delay: float = 0.0) -> Reply:
    return Reply(status=status, body=orjson.dumps(value), delay=delay)


SCRIPT = {
    "/v1/users": _json(
        [{"id": "u-1", "email": "alice@example.com"}, {"id": "u-2", "email": "bob@example.com"}]
    ),
    "/v1/profiles/u-1": _json({"profile": {"region": "eu"}}),
    "/v1/echo/eu": _json({"ok": True}),
    "/voyages/VOY-2026-042": _json({"voyageId": "VOY-2026-042", "status": "planned"}),
    "/voyages": _json({"voyageId": "VOY-001", "shipImo": "IMO-9321483"}, status=201),
    "/ships/IMO-9321483": _json({"imo_number": "IMO-9321483"}),
    "/ships": _json({"count": "2", "code": 7, "flag": "true", "word": "many"}),
    "/slow/a": _json({"key": "42"}, delay=0.4),
    "/slow/b": _json([{"key": 41, "label": "no"}, {"key": 42, "label": "answer"}], delay=0.4),
    "/broken": Reply(status=503, body=b"<html>down</html>", content_type="text/html"),
    "/v1/pages": _json({"pages": []}),
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[RecordingUpstream, dict[str, str]]]:
    upstream = RecordingUpstream(script=dict(SCRIPT))
    with running(upstream) as base:
        args = [SPEC, "--upstream", f"api={base}", "--upstream", f"notion={base}/v1"]
        with serve(*args, env={"NOTION_TOKEN": NOTION_TOKEN}) as process:
            yield upstream, process.urls


def get(urls: dict[str, str], path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(urls["rest"] + path, timeout=10, **kwargs)


def last(upstream: RecordingUpstream, prefix: str) -> Any:
    return next(s for s in reversed(upstream.seen) if s.raw_path.startswith(prefix))


# ---------------------------------------------------------------- OperationStepExecutor*
def test_execute_steps_should_store_lookup_outputs_and_resolve_call_step_templates(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """OperationStepExecutorIntegrationTest.executeStepsShouldStoreLookupOutputsAndResolve...:
    a lookup over the first call's array, a call templated from the inputs, and a call
    templated from the previous call's projected output (`{{fetch-profile.region}}`)."""
    upstream, urls = served
    reply = get(
        urls,
        "/users/by-email",
        params={"targetEmail": "bob@example.com", "requestingUserId": "u-1"},
    )
    assert reply.status_code == 200
    # resolveStepMappingsShouldCreateNestedObjectsFromDotNotation: dotted targets nest;
    # a mapping that resolves to nothing is skipped
    assert reply.json() == {"user": {"id": "u-2", "region": "eu"}, "echoed": True}
    assert last(upstream, "/v1/echo").raw_path == "/v1/echo/eu"


def test_independent_steps_run_concurrently_with_the_sequential_result(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """Beyond the reference (which runs steps in sequence): two calls that do not read each
    other overlap; the lookup that joins them waits for both. LookupExecutorTest's text
    comparison: the number 42 matches the string "42"."""
    upstream, urls = served
    upstream.max_inflight = 0
    reply = get(urls, "/parallel")
    assert reply.status_code == 200
    # declared `a: number` turns the string "42" into 42 (beyond the reference)
    assert reply.json() == {"a": 42, "label": "answer"}
    assert upstream.max_inflight == 2


def test_a_failing_step_ends_the_request_naming_the_step(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    _, urls = served
    reply = get(urls, "/failing")
    assert reply.status_code == 502
    error = reply.json()["error"]
    assert error["type"] == "upstream_status" and error["upstream_status"] == 503
    assert "step 'explode'" in error["message"]


def test_unresolved_mappings_fall_back_to_the_last_call_response(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """ResourceRestlet falls back to the last call's response when no mapping resolves;
    departure: the declared result is the contract, so it is `{}` (the declared fields that
    resolved, none), never fields of the upstream's that nobody declared."""
    _, urls = served
    reply = get(urls, "/fallback/VOY-2026-042")
    assert reply.status_code == 200
    assert reply.json() == {}


# ---------------------------------------------------------------- REST call semantics
def test_with_namespace_refs_should_resolve_to_actual_values_in_upstream_body(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """RestNamespaceRefWithResolutionTest: the upstream's 201 passes through and the body
    template receives the value; beyond the reference, a quote in a value is JSON-escaped."""
    upstream, urls = served
    reply = httpx.post(
        urls["rest"] + "/voyages",
        json={"shipImo": "IMO-9321483", "note": 'say "hi"'},
        timeout=10,
    )
    assert reply.status_code == 201
    assert reply.json() == {"voyageId": "VOY-001", "shipImo": "IMO-9321483"}
    sent = last(upstream, "/voyages")
    assert sent.body == b'{"shipImo": "IMO-9321483", "note": "say \\"hi\\""}\n'
    assert json.loads(sent.body) == {"shipImo": "IMO-9321483", "note": 'say "hi"'}
    assert sent.headers["content-type"] == "application/json"


def test_with_parameters_should_resolve_mustache_templates_from_path_params(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """RestPathParamWithResolutionTest: `/ships/{{imo}}` with `imo_number: "{{imo}}"`."""
    upstream, urls = served
    reply = get(urls, "/ships/IMO-9321483")
    assert reply.status_code == 200
    assert last(upstream, "/ships/").raw_path == "/ships/IMO-9321483"


def test_exposed_rest_inputs_are_optional_and_reach_the_upstream_by_name(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """HeaderQueryIntegrationTest / ResourceRestlet: an exposed REST input without
    `required: true` may be absent; a present one reaches the consumed parameter of the same
    name without any `with`."""
    upstream, urls = served
    assert get(urls, "/ships").status_code == 200
    assert last(upstream, "/ships").query == ""
    assert get(urls, "/ships", params={"status": "active", "limit": "5"}).status_code == 200
    assert last(upstream, "/ships").query == "status=active&limit=5"
    bad = get(urls, "/ships", params={"limit": "many"})
    assert bad.status_code == 400
    assert bad.json()["error"]["problems"] == [{"name": "limit", "problem": "expected an integer"}]


def test_client_request_body_templating(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """HttpBodyIntegrationTest: `in: body` inputs with `value: "$.user.id"` read that path of
    the request body, and a structured JSON body is rendered from them."""
    upstream, urls = served
    reply = httpx.post(
        urls["rest"] + "/users", json={"user": {"id": "123", "name": "Alice"}}, timeout=10
    )
    assert reply.status_code == 200
    assert json.loads(last(upstream, "/v1/users").body) == {"id": "123", "name": "Alice"}


def test_mapped_outputs_conform_to_their_declared_types(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """Beyond the reference: "2" declared number is 2, 7 declared string is "7", "true"
    declared boolean is true; a value that cannot convert is passed through unchanged."""
    _, urls = served
    assert get(urls, "/typed").json() == {"count": 2, "label": "7", "flag": True, "odd": "many"}


# ---------------------------------------------------------------- aggregates
def test_aggregate_function_execute_should_resolve_namespace_qualified_with_in_steps(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """AggregateStepNamespaceIntegrationTest: a function built from steps, served through
    `ref` over REST; the step's `with` reads `shipyard.voyage-id` (the aggregate namespace)."""
    upstream, urls = served
    reply = get(urls, "/manifest/VOY-2026-042")
    assert reply.status_code == 200
    assert reply.json() == {"voyage-id": "VOY-2026-042"}
    assert last(upstream, "/voyages/").raw_path == "/voyages/VOY-2026-042"


def test_aggregate_mock_should_return_same_payload_for_mcp_and_rest(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """AggregateSharedMockIntegrationTest (REST half): mock `value` templates render."""
    _, urls = served
    reply = get(urls, "/hello", params={"name": "Nina"})
    assert reply.status_code == 200
    assert reply.json() == {"message": "Hello, Nina!", "source": "aggregate-mock"}


async def test_aggregate_mock_and_steps_over_mcp(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """AggregateSharedMockIntegrationTest (MCP half), StepWithNamespaceIntegrationTest, and
    AggregateRefResolverTest's hint derivation (`safe: false` alone is not destructive)."""
    upstream, urls = served
    async with Client(urls["mcp"]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        hello = await client.call_tool("hello", {"name": "Nina"})
        assert hello.is_error is False
        assert hello.structured_content == {"message": "Hello, Nina!", "source": "aggregate-mock"}
        manifest = await client.call_tool("get-voyage-manifest", {"voyage-id": "VOY-2026-042"})
        assert manifest.structured_content == {"voyage-id": "VOY-2026-042"}
        step = await client.call_tool("voyage-step", {"voyageId": "VOY-2026-042"})
        assert step.structured_content == {"voyageId": "VOY-2026-042"}
        failing = await client.call_tool("failing", {})
        assert failing.is_error is True
        assert "step 'explode'" in failing.content[0].text  # type: ignore[union-attr]
    manifest_hints = tools["get-voyage-manifest"].annotations
    assert manifest_hints is not None
    assert (manifest_hints.read_only_hint, manifest_hints.destructive_hint) == (True, False)
    assert manifest_hints.idempotent_hint is True
    hello_hints = tools["hello"].annotations
    assert hello_hints is not None
    assert (hello_hints.read_only_hint, hello_hints.destructive_hint) == (False, None)
    assert tools["get-voyage-manifest"].input_schema["required"] == ["voyage-id"]


# ---------------------------------------------------------------- forward
def test_forward_should_set_notion_version_header_from_value_field(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """ForwardHeaderIntegrationTest: the namespace's fixed header and its own auth are sent;
    only trusted headers pass (an untrusted one and the caller's credentials do not); the
    remaining path and the query string follow; the upstream's status and body come back."""
    upstream, urls = served
    reply = get(
        urls,
        "/notion/pages",
        params={"page_size": "2"},
        headers={"X-Trace": "t-1", "X-Internal": "no", "Authorization": "Bearer caller"},
    )
    assert reply.status_code == 200
    assert reply.json() == {"pages": []}
    assert reply.headers["content-type"] == "application/json"
    sent = last(upstream, "/v1/pages")
    assert (sent.raw_path, sent.query) == ("/v1/pages", "page_size=2")
    assert sent.headers["notion-version"] == "2025-09-03"
    assert sent.headers["x-trace"] == "t-1"
    assert "x-internal" not in sent.headers
    assert sent.headers["authorization"] == f"Bearer {NOTION_TOKEN}"


def test_forward_passes_bodies_and_keeps_encoded_segments(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    upstream, urls = served
    reply = httpx.post(
        urls["rest"] + "/notion/pages/a%2Fb",
        content=b'{"title": "x"}',
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 200
    sent = last(upstream, "/v1/pages")
    assert sent.raw_path == "/v1/pages/a%2Fb"
    assert (sent.method, sent.body) == ("POST", b'{"title": "x"}')
    assert sent.headers["content-type"] == "application/json"


def test_forward_maps_upstream_failures_like_any_call(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    upstream, urls = served
    upstream.script["/v1/broken"] = Reply(status=500, body=f"token {NOTION_TOKEN}".encode())
    reply = get(urls, "/notion/broken")
    assert reply.status_code == 502
    assert reply.json()["error"]["upstream_status"] == 500
    assert NOTION_TOKEN not in reply.text
    upstream.script["/v1/missing"] = Reply(
        status=404, body=f'{{"echo": "{NOTION_TOKEN}"}}'.encode()
    )
    missing = get(urls, "/notion/missing")
    assert missing.status_code == 404 and NOTION_TOKEN not in missing.text


# ---------------------------------------------------------------- MCP surface (issue 13)
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
@pytest.mark.parametrize("path", ["/mcp", "/"])
async def test_both_protocol_eras_at_the_port_root_and_at_mcp(
    served: tuple[RecordingUpstream, dict[str, str]], mode: str, path: str
) -> None:
    """McpIntegrationTest: the endpoint answers at the port's root as well as /mcp; the
    server is named after the adapter's namespace; tools without hints carry no annotations.
    Both eras: the handshake (`legacy`) and the stateless 2026-07-28 one."""
    _, urls = served
    url = urls["mcp"].removesuffix("/mcp") + path
    async with Client(url, mode=mode) as client:
        if mode == "legacy":  # the stateless era has no initialize handshake to name it
            assert client.server_info is not None and client.server_info.name == "ref-mcp"
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["voyage-step"].annotations is None
        assert tools["hello"].annotations is not None
        result = await client.call_tool("hello", {"name": "Ada"})
        assert result.structured_content == {"message": "Hello, Ada!", "source": "aggregate-mock"}


# ---------------------------------------------------------------- found in review
def test_forward_refuses_dot_segments_and_keeps_the_segment_boundary(
    served: tuple[RecordingUpstream, dict[str, str]],
) -> None:
    """`..` (plain or encoded) never reaches the upstream with the namespace's credentials."""
    import socket

    upstream, urls = served
    host, port = urls["rest"].removeprefix("http://").split(":")
    for path in ("/notion/pages/../admin", "/notion/%2e%2e/admin", "/notion/%2E%2E/admin"):
        before = len(upstream.seen)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 400"), (path, answer[:100])
        assert len(upstream.seen) == before
    assert get(urls, "/notion-internal/x").status_code == 404  # not the /notion/ forward


def test_step_paths_with_an_index_read_and_wait_for_that_step() -> None:
    from naftiko_runtime.text.jsonpath import path_root, step_path

    assert path_root("$.ships[0].imo") == "ships"
    assert step_path("$.ships[0].imo")({"ships": [{"imo": "I-1"}]}) == "I-1"  # type: ignore[misc]
