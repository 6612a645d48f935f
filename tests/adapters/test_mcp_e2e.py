"""The MCP adapter with the official `mcp` client over real Streamable HTTP and stdio, and the
MCP Inspector CLI: tools, annotations, schemas, results, errors, resources and prompts."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.conftest import CAPABILITIES, REPO
from tests.fixtures.process import serve, serve_bundled
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
TOOLS = {
    "list-jobs",
    "list-active-jobs",
    "retrieve-job",
    "delete-job",
    "cancel-job",
    "list-runs",
    "list-active-runs",
    "retrieve-run",
    "delete-run",
    "list-messages-run",
    "retrieve-usage-run",
    "retrieve-metrics-run",
    "list-steps-run",
    "retrieve-trace-run",
    "retrieve-stream-run",
}
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="module")
def letta() -> Iterator[dict[str, str]]:
    with serve_bundled() as process:
        yield process.urls


async def call(url: str, tool: str, args: dict[str, Any]) -> Any:
    async with Client(url) as client:
        return await client.call_tool(tool, args)


async def test_lists_all_tools_with_annotations_and_schemas(letta: dict[str, str]) -> None:
    async with Client(letta["mcp"]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    delete = tools["delete-job"].annotations
    assert delete is not None
    assert (delete.read_only_hint, delete.destructive_hint, delete.idempotent_hint) == (
        False,
        True,
        True,
    )
    listing = tools["list-jobs"].annotations
    assert listing is not None and listing.read_only_hint is True
    assert tools["retrieve-job"].input_schema == {
        "type": "object",
        "properties": {
            "job_id": {
                "type": "string",
                "description": "The ID of the job in the format 'job-<uuid4>'",
            }
        },
        "required": ["job_id"],
        "additionalProperties": False,
    }
    list_schema = tools["list-jobs"].input_schema
    assert (
        "required" not in list_schema and list_schema["properties"]["active"]["type"] == "boolean"
    )
    assert tools["retrieve-stream-run"].input_schema["properties"]["body"]["type"] == "object"
    assert tools["list-jobs"].description == "List Jobs"


async def test_list_and_retrieve_jobs(letta: dict[str, str]) -> None:
    listed = await call(letta["mcp"], "list-jobs", {"limit": "2", "order": "asc"})
    assert listed.is_error is False
    jobs = listed.structured_content["result"]
    assert len(jobs) == 2 and jobs[0]["created_at"] < jobs[1]["created_at"]
    assert json.loads(listed.content[0].text) == jobs
    found = await call(letta["mcp"], "retrieve-job", {"job_id": jobs[0]["id"]})
    assert found.is_error is False and found.structured_content["id"] == jobs[0]["id"]
    missing = await call(letta["mcp"], "retrieve-job", {"job_id": "job-missing"})
    assert missing.is_error is True
    assert "HTTP 404" in missing.content[0].text and "not found" in missing.content[0].text


async def test_cancel_job_then_cancel_again_is_an_error(letta: dict[str, str]) -> None:
    jobs = (await call(letta["mcp"], "list-active-jobs", {})).structured_content["result"]
    job_id = next(j["id"] for j in jobs if j["status"] == "running")
    cancelled = await call(letta["mcp"], "cancel-job", {"job_id": job_id})
    assert cancelled.is_error is False and cancelled.structured_content["status"] == "cancelled"
    again = await call(letta["mcp"], "cancel-job", {"job_id": job_id})
    assert again.is_error is True and "409" in again.content[0].text


async def test_runs_tools_including_the_stream(letta: dict[str, str]) -> None:
    runs = (await call(letta["mcp"], "list-runs", {})).structured_content["result"]
    done = next(r["id"] for r in runs if r["status"] == "completed")
    usage = await call(letta["mcp"], "retrieve-usage-run", {"run_id": done})
    assert usage.structured_content["total_tokens"] > 0
    stream = await call(letta["mcp"], "retrieve-stream-run", {"run_id": done, "body": {}})
    kinds = [e.get("message_type") for e in stream.structured_content["events"]]
    assert kinds == ["user_message", "assistant_message", "stop_reason"]


async def test_arguments_are_validated_before_any_upstream_call(letta: dict[str, str]) -> None:
    missing = await call(letta["mcp"], "retrieve-job", {})
    assert missing.is_error and "job_id (required)" in missing.content[0].text
    unknown = await call(letta["mcp"], "retrieve-job", {"job_id": "x", "jobid": "y"})
    assert unknown.is_error and "unknown argument(s) jobid" in unknown.content[0].text
    typed = await call(letta["mcp"], "list-jobs", {"active": "sometimes"})
    assert typed.is_error and "active (expected a boolean" in typed.content[0].text
    async with Client(letta["mcp"]) as client:
        with pytest.raises(MCPError, match="Invalid params: Unknown tool: no-such-tool"):
            await client.call_tool("no-such-tool", {})


REST_VS_MCP = [
    ("list-jobs", {"limit": "3", "order": "desc"}, "/v1/jobs/?limit=3&order=desc"),
    ("list-active-runs", {}, "/v1/runs/active"),
    ("retrieve-run", {"run_id": "{run}"}, "/v1/runs/{run}"),
    ("list-messages-run", {"run_id": "{run}", "limit": "1"}, "/v1/runs/{run}/messages?limit=1"),
    ("list-steps-run", {"run_id": "{run}", "order": "desc"}, "/v1/runs/{run}/steps?order=desc"),
    ("retrieve-metrics-run", {"run_id": "{run}"}, "/v1/runs/{run}/metrics"),
]


@pytest.mark.parametrize(("tool", "args", "path"), REST_VS_MCP, ids=[c[0] for c in REST_VS_MCP])
async def test_rest_and_mcp_return_the_same_data(
    letta: dict[str, str], tool: str, args: dict[str, str], path: str
) -> None:
    run = httpx.get(letta["rest"] + "/v1/runs/?order=asc", timeout=10).json()[0]["id"]
    args = {k: v.replace("{run}", run) for k, v in args.items()}
    before = httpx.get(letta["rest"] + path.replace("{run}", run), timeout=10)
    assert before.status_code == 200
    result = await call(letta["mcp"], tool, args)
    after = httpx.get(letta["rest"] + path.replace("{run}", run), timeout=10)
    data = result.structured_content
    # The simulator's runs move through their lifecycle on a wall clock (created → pending at
    # 2 s), so MCP's answer must equal what REST said just before or just after it.
    assert (data["result"] if list(data) == ["result"] else data) in (before.json(), after.json())


async def test_stdio_transport() -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "naftiko_runtime",
            "serve",
            "--stdio",
            "--simulate",
            "always",
            str(CAPABILITIES),
        ],
        cwd=str(REPO),
    )
    async with Client(params) as client:
        tools = (await client.list_tools()).tools
        assert {t.name for t in tools} == TOOLS
        result = await client.call_tool("list-runs", {"limit": "2"})
        assert result.is_error is False and len(result.structured_content["result"]) == 2


async def test_stdio_serves_resource_templates_and_prompt_files_as_http_does() -> None:
    """Over stdio every MCP endpoint is merged into one server: its resource templates and
    its prompts' `location` files come along (they were dropped once)."""
    upstream = RecordingUpstream()
    upstream.script["/ships/"] = Reply(body=json.dumps({"vessel_name": "Aurora"}).encode())
    with running(upstream) as url:
        params = StdioServerParameters(
            command=sys.executable,
            args=[
                "-m",
                "naftiko_runtime",
                "serve",
                "--stdio",
                "--upstream",
                f"registry={url}",
                str(FIXTURES / "mcp-extras.yaml"),
            ],
            cwd=str(REPO),
            env={**os.environ, "REGISTRY_TOKEN": "reg-secret-1"},
        )
        async with Client(params) as client:
            templates = (await client.list_resource_templates()).resource_templates
            assert {t.uri_template for t in templates} == {
                "registry://ships/{imo_number}",
                "registry://vessels/{imo}/summary",
            }
            ship = await client.read_resource("registry://ships/IMO7")
            assert json.loads(ship.contents[0].text) == {"name": "Aurora"}
            report = await client.get_prompt("report", {"imo": "IMO9", "format": "short"})
            assert report.messages[0].content.text.strip() == "Write a short report on ship IMO9."


@pytest.fixture(scope="module")
def registry() -> Iterator[tuple[RecordingUpstream, str]]:
    upstream = RecordingUpstream()
    upstream.script["/ships/"] = Reply(
        body=json.dumps({"imo_number": "IMO9", "vessel_name": "Aurora", "secret": "x"}).encode(),
        delay=0.3,
    )
    upstream.script["/ships"] = Reply(body=b'[{"imo_number": "IMO9"}]')
    with running(upstream) as url:
        with serve(
            FIXTURES / "mcp-extras.yaml",
            "--upstream",
            f"registry={url}",
            env={"REGISTRY_TOKEN": "reg-secret-1"},
            ports=[9191],
            ready="/mcp",
        ) as p:
            yield upstream, p.url(9191) + "/mcp"


async def test_declared_inputs_output_mapping_and_concurrency(
    registry: tuple[RecordingUpstream, str],
) -> None:
    upstream, url = registry
    async with Client(url) as client:
        tool = (await client.list_tools()).tools[0]
        assert tool.title == "Get ship" and tool.input_schema["required"] == ["imo"]
        results = await asyncio.gather(
            *[client.call_tool("get-ship", {"imo": f"IMO{i}", "verbose": True}) for i in range(6)]
        )
    assert all(r.structured_content == {"imo": "IMO9", "name": "Aurora"} for r in results)
    assert upstream.max_inflight > 1  # calls ran concurrently
    seen = [s for s in upstream.seen if s.raw_path.startswith("/ships/")]
    assert {s.raw_path for s in seen} == {f"/ships/IMO{i}" for i in range(6)}
    assert {s.query for s in seen} == {"verbose=true"}
    assert {s.headers["x-api-key"] for s in seen} == {"reg-secret-1"}


async def test_resources_and_prompts(registry: tuple[RecordingUpstream, str]) -> None:
    _, url = registry
    async with Client(url) as client:
        resources = {r.uri: r for r in (await client.list_resources()).resources}
        assert set(resources) == {
            "registry://fleet",
            "registry://guide",
            "registry://docs/guide.md",
            "registry://docs/sub/x.json",
        }
        fleet = await client.read_resource("registry://fleet")
        assert json.loads(fleet.contents[0].text) == [{"imo_number": "IMO9"}]
        guide = await client.read_resource("registry://guide")
        assert guide.contents[0].text.startswith("# Registry guide")
        prompts = (await client.list_prompts()).prompts
        assert [p.name for p in prompts] == ["inspect-ship", "report"]
        prompt = await client.get_prompt("inspect-ship", {"imo": "IMO9"})
        assert prompt.messages[0].content.text == "Summarise the inspection history of ship IMO9."


async def test_resource_templates_are_listed_and_read_by_match(
    registry: tuple[RecordingUpstream, str],
) -> None:
    """Follows ResourcesPromptsIntegrationTest and ResourceHandlerDynamicTest: a URI with
    `{name}` placeholders is a template (listed by `resources/templates/list`, not by
    `resources/list`; `title` only when a label is set); reading a concrete URI passes each
    value to the call (by name, or through `with`), and `outputParameters` shape the text."""
    upstream, url = registry
    async with Client(url) as client:
        templates = {t.name: t for t in (await client.list_resource_templates()).resource_templates}
        assert {n: t.uri_template for n, t in templates.items()} == {
            "ship": "registry://ships/{imo_number}",
            "vessel": "registry://vessels/{imo}/summary",
        }
        assert templates["ship"].title == "Ship"
        listed = {r.uri for r in (await client.list_resources()).resources}
        assert not any("{" in uri for uri in listed)
        ship = await client.read_resource("registry://ships/IMO7")
        assert json.loads(ship.contents[0].text) == {"name": "Aurora"}
        assert ship.contents[0].mime_type == "application/json"
        assert upstream.seen[-1].raw_path == "/ships/IMO7"
        vessel = await client.read_resource("registry://vessels/IMO8/summary")
        assert vessel.contents[0].mime_type == "text/plain"
        assert upstream.seen[-1].raw_path == "/ships/IMO8"
        with pytest.raises(MCPError, match="Unknown resource URI: registry://ships/a/b"):
            await client.read_resource("registry://ships/a/b")  # a value never spans "/"


async def test_a_location_directory_is_one_resource_per_file_and_stays_inside(
    registry: tuple[RecordingUpstream, str],
) -> None:
    """Follows ResourceHandlerSafetyTest: files below a `location` directory are resources
    `uri/relative/path` with a MIME type from their extension; a segment outside
    `[A-Za-z0-9._-]`, a path out of the directory, or the directory itself is refused with
    the reference's messages."""
    _, url = registry
    async with Client(url) as client:
        listed = {r.uri: r for r in (await client.list_resources()).resources}
        assert not any("notes" in uri for uri in listed)  # `my notes.md`: reads refuse it
        assert listed["registry://docs/guide.md"].mime_type == "text/markdown"
        assert listed["registry://docs/sub/x.json"].mime_type == "application/json"
        guide = await client.read_resource("registry://docs/guide.md")
        assert guide.contents[0].text.startswith("# Docs guide")
        nested = await client.read_resource("registry://docs/sub/x.json")
        assert json.loads(nested.contents[0].text) == {"answer": 42}
        refusals = {
            "registry://docs/../mcp-extras.yaml": "Path traversal detected for resource URI",
            "registry://docs/sub%20x": "Invalid path segment in resource URI: sub%20x",
            "registry://docs/sub": "Resource URI resolves to a directory, not a file",
            "registry://docs/none.md": "Unknown resource URI: registry://docs/none.md",
        }
        for uri, message in refusals.items():
            with pytest.raises(MCPError, match=re.escape(message)):
                await client.read_resource(uri)


async def test_prompts_render_as_the_reference_renders_them(
    registry: tuple[RecordingUpstream, str],
) -> None:
    """Follows PromptHandlerTest: a missing argument stays as `{{name}}` (no error, as the
    reference leaves it); a `location` prompt is one user message from its file; an
    unknown prompt is the reference's INVALID_PARAMS message."""
    _, url = registry
    async with Client(url) as client:
        missing = await client.get_prompt("inspect-ship", {})
        assert missing.messages[0].content.text == (
            "Summarise the inspection history of ship {{imo}}."
        )
        report = await client.get_prompt("report", {"imo": "IMO9"})
        assert [m.role for m in report.messages] == ["user"]
        assert report.messages[0].content.text == "Write a {{format}} report on ship IMO9.\n"
        with pytest.raises(MCPError, match="Invalid params: Unknown prompt: nothing"):
            await client.get_prompt("nothing", {})


INSPECTOR = REPO / "node_modules" / ".bin" / "mcp-inspector"


@pytest.mark.skipif(not INSPECTOR.exists(), reason="MCP Inspector not installed (scripts/install)")
def test_mcp_inspector_cli_lists_and_calls_tools(letta: dict[str, str]) -> None:
    base = [str(INSPECTOR), "--cli", letta["mcp"], "--transport", "http"]
    listed = subprocess.run(
        [*base, "--method", "tools/list"], capture_output=True, text=True, timeout=120, check=True
    )
    assert {t["name"] for t in json.loads(listed.stdout)["tools"]} == TOOLS
    called = subprocess.run(
        [*base, "--method", "tools/call", "--tool-name", "list-jobs", "--tool-arg", "limit=2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(called.stdout)
    assert (
        result.get("isError") in (None, False) and len(result["structuredContent"]["result"]) == 2
    )


async def test_stream_results_read_crlf_events_and_keep_an_unterminated_last_one() -> None:
    """An upstream stream is one tool result: CRLF-framed events (as many servers send) and a
    last event the upstream closed without its blank line are all in it."""
    upstream = RecordingUpstream()
    chunks = [b'data: {"n": 1}\r\n\r\ndata: {"n"', b": 2}\r\n\r", b'\ndata: {"n": 3}']
    upstream.script["/v1/runs/run-1/stream"] = Reply(
        content_type="text/event-stream", chunks=chunks
    )
    with running(upstream) as url:
        args = [CAPABILITIES, "--upstream", f"*={url}"]
        env = {"LETTA_API_KEY": "sk-stream"}
        with serve(*args, env=env, ports=[9090, 8080], ready="/mcp") as p:
            result = await call(
                p.mcp,
                "retrieve-stream-run",
                {"run_id": "run-1", "body": {}},
            )
    assert result.is_error is False
    assert result.structured_content["events"] == [{"n": 1}, {"n": 2}, {"n": 3}]


async def test_lists_carry_freshness_hints_for_2026_clients(letta: dict[str, str]) -> None:
    """2026-07-28 clients get `ttlMs`/`cacheScope` on the lists (they change only on a
    reload), shared (`public`) on an endpoint without authentication."""
    async with Client(letta["mcp"]) as client:
        tools = await client.list_tools()
        prompts = await client.list_prompts()
    assert (tools.ttl_ms, tools.cache_scope) == (10_000, "public")
    assert (prompts.ttl_ms, prompts.cache_scope) == (10_000, "public")


def test_stdio_answers_every_request_in_flight_when_input_ends() -> None:
    """A client that writes its requests and closes stdin gets every answer before exit."""
    import json
    import subprocess
    import sys

    from tests.conftest import CAPABILITIES

    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "eof", "version": "1"},
        },
    }
    calls = [
        {
            "jsonrpc": "2.0",
            "id": n,
            "method": "tools/call",
            "params": {"name": "list-jobs", "arguments": {"limit": "1"}},
        }
        for n in range(1, 13)
    ]
    lines = [initialize, {"jsonrpc": "2.0", "method": "notifications/initialized"}, *calls]
    done = subprocess.run(
        [sys.executable, "-m", "naftiko_runtime", "serve", "--stdio", "--simulate", "always"]
        + [str(CAPABILITIES)],
        input="".join(json.dumps(m) + "\n" for m in lines),
        capture_output=True,
        text=True,
        timeout=120,
    )
    answered = sorted(json.loads(line)["id"] for line in done.stdout.splitlines() if line)
    assert answered == list(range(13)), done.stderr[-2000:]
    assert done.returncode == 0


def test_initialize_with_empty_params_is_accepted_as_the_reference_does(
    letta: dict[str, str],
) -> None:
    """Follows the reference's McpServerResource: `initialize` with `params: {}` opens a
    session (the handshake defaults fill what the client left out)."""
    headers = {"accept": "application/json, text/event-stream"}
    opened = httpx.post(
        letta["mcp"],
        json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
        headers=headers,
        timeout=10,
    )
    assert opened.status_code == 200 and '"serverInfo"' in opened.text, opened.text
    session = opened.headers["mcp-session-id"]
    listed = httpx.post(
        letta["mcp"],
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        headers={**headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"},
        timeout=10,
    )
    assert listed.status_code == 200 and '"list-jobs"' in listed.text, listed.text


def test_a_handshake_era_request_without_a_session_is_answered_as_the_reference_does(
    letta: dict[str, str],
) -> None:
    """Follows the reference's McpServerResource, which keeps no session state: a
    handshake-era `tools/list` or `tools/call` that names no session (no `initialize`
    first) is answered, not refused; a session id this server never issued still is."""
    headers = {"accept": "application/json, text/event-stream"}
    listed = httpx.post(
        letta["mcp"],
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers=headers,
        timeout=10,
    )
    assert listed.status_code == 200 and '"list-jobs"' in listed.text, listed.text
    assert "mcp-session-id" not in listed.headers
    called = httpx.post(
        letta["mcp"],
        json={
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "list-jobs", "arguments": {"limit": 1}},
        },
        headers={**headers, "mcp-protocol-version": "2025-11-25"},
        timeout=10,
    )
    assert called.status_code == 200 and '"isError":false' in called.text.replace(" ", "")
    unknown = httpx.post(
        letta["mcp"],
        json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        headers={**headers, "mcp-session-id": "not-a-session"},
        timeout=10,
    )
    assert unknown.status_code == 404
    elsewhere = httpx.post(
        letta["mcp"].removesuffix("/mcp") + "/unrelated",
        json={"jsonrpc": "2.0", "id": 4, "method": "tools/list"},
        headers=headers,
        timeout=10,
    )
    assert elsewhere.status_code == 404  # only the endpoint answers, at / and /mcp
