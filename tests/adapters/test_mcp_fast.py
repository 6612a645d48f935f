"""The 2026-07-28 `tools/call` fast path answers exactly as the SDK does, and leaves to the
SDK everything it does not recognise (whose answers then stay the SDK's). Over real
loopback HTTP: the same runtime served twice, with and without the fast path."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from mcp_types import Annotations, CallToolResult, ImageContent, TextContent
from mcp_types import methods as _methods

from naftiko_runtime.adapters.mcp import fast as mcp_fast
from naftiko_runtime.adapters.mcp.fast import FastCalls
from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.runtime import Runtime
from tests.conftest import CAPABILITIES
from tests.fixtures.upstream import RecordingUpstream, Reply, running

VERSION = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": VERSION,
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": VERSION,
    "mcp-method": "tools/call",
}
JOB = {"id": "job-1", "status": "completed", "title": 'say "hi"'}


def _sdk_reply(result: CallToolResult) -> dict[str, Any]:
    """What the SDK's runner makes of a handler's result on a 2026-07-28 wire."""
    dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    dumped = _methods.serialize_server_result("tools/call", VERSION, dumped)
    dumped.setdefault("resultType", "complete")
    dumped["_meta"] = {"io.modelcontextprotocol/serverInfo": {"name": "s", "version": "1"}}
    return dumped


@pytest.mark.parametrize(
    "result",
    [
        CallToolResult(
            content=[TextContent(type="text", text='{"a": 1}')], structured_content={"a": 1}
        ),
        CallToolResult(content=[TextContent(type="text", text="boom")], is_error=True),
        CallToolResult(
            content=[
                TextContent(type="text", text="x", annotations=Annotations(audience=["user"])),
                TextContent(type="text", text="y"),
            ]
        ),
        CallToolResult(content=[ImageContent(type="image", data="aGk=", mime_type="image/png")]),
        CallToolResult(content=[]),
    ],
    ids=["structured", "tool-error", "annotated", "image", "empty"],
)
def test_the_reply_is_the_sdks_serialisation(result: CallToolResult) -> None:
    async def call(*_: Any) -> CallToolResult:
        return result

    fast = FastCalls(
        lambda _: True, lambda _: None, call, lambda: {"name": "s", "version": "1"}, None
    )
    reply = orjson.loads(fast._reply(7, VERSION, result))
    assert reply == {"jsonrpc": "2.0", "id": 7, "result": _sdk_reply(result)}


def _closing(app: Any, runtime: Runtime) -> Any:
    """`app`, closing the runtime's upstream clients as its lifespan ends (in its loop,
    before uvicorn is told the shutdown is complete)."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def closing(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await runtime.upstream.close()
            await send(message)

        await app(scope, receive, closing if scope["type"] == "lifespan" else send)

    return wrapped


HANDLED: list[bool] = []  # what the fast path said of each request it was offered


@pytest.fixture(scope="module")
def endpoints() -> Iterator[tuple[str, str]]:
    """(with the fast path, SDK only): the bundled Letta tools against one upstream."""
    upstream = RecordingUpstream(
        script={
            "/v1/jobs/": Reply(body=orjson.dumps(JOB)),
            "/v1/runs/": Reply(body=orjson.dumps(JOB), delay=0.8),  # a slow upstream
        }
    )
    with running(upstream) as base:
        capabilities = load_paths([CAPABILITIES]).capabilities
        options = ServeOptions(upstreams={"*": base})
        fast_runtime = compile_runtime(capabilities, {"LETTA_API_KEY": "k-1"}, options)
        plain_runtime = compile_runtime(capabilities, {"LETTA_API_KEY": "k-1"}, options)
        fast, plain = fast_runtime.mcp_servers[9090], plain_runtime.mcp_servers[9090]
        assert fast.routes.fast is not None
        plain.routes.fast = None
        handle = fast.routes.fast.handle

        async def counted(scope: dict[str, Any], body: bytes, receive: Any, send: Any) -> bool:
            HANDLED.append(await handle(scope, body, receive, send))
            return HANDLED[-1]

        fast.routes.fast.handle = counted  # type: ignore[method-assign]
        with (
            running(_closing(fast.app, fast_runtime), "on") as with_fast,
            running(_closing(plain.app, plain_runtime), "on") as sdk_only,
        ):
            yield with_fast + "/mcp", sdk_only + "/mcp"


def _body(name: str, arguments: Any, **params: Any) -> dict[str, Any]:
    call = {"name": name, "arguments": arguments, "_meta": META, **params}
    return {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": call}


CASES: dict[str, tuple[dict[str, Any], dict[str, str] | list[tuple[str, str]]]] = {
    "a call": (_body("retrieve-job", {"job_id": "job-1"}), {"mcp-name": "retrieve-job"}),
    "unknown argument": (_body("retrieve-job", {"jobid": "x"}), {"mcp-name": "retrieve-job"}),
    "unknown tool": (_body("no-such-tool", {}), {"mcp-name": "no-such-tool"}),
    "name header disagrees": (_body("retrieve-job", {"job_id": "1"}), {"mcp-name": "list-jobs"}),
    "name header missing": (_body("retrieve-job", {"job_id": "1"}), {}),
    "arguments not an object": (_body("retrieve-job", [1]), {"mcp-name": "retrieve-job"}),
    "no _meta": (
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "retrieve-job", "arguments": {"job_id": "1"}},
        },
        {"mcp-name": "retrieve-job"},
    ),
    "_meta of the wrong shape": (
        _body(
            "retrieve-job",
            {"job_id": "1"},
            _meta={**META, "io.modelcontextprotocol/clientCapabilities": 5},
        ),
        {"mcp-name": "retrieve-job"},
    ),
    "a routing header twice": (
        _body("retrieve-job", {"job_id": "1"}),
        [("mcp-name", "retrieve-job"), ("mcp-name", "retrieve-job")],
    ),
    "content type twice": (
        _body("retrieve-job", {"job_id": "1"}),
        [("mcp-name", "retrieve-job"), ("content-type", "text/plain")],
    ),
    "string id": (
        {**_body("retrieve-job", {"job_id": "job-1"}), "id": "abc"},
        {"mcp-name": "retrieve-job"},
    ),
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", list(CASES))
def test_answers_match_the_sdk_only_endpoint(case: str, endpoints: tuple[str, str]) -> None:
    body, extra = CASES[case]
    answers = []
    HANDLED.clear()
    for url in endpoints:
        sent = [*HEADERS.items(), *(extra.items() if isinstance(extra, dict) else extra)]
        response = httpx.post(url, content=orjson.dumps(body), headers=sent)
        answers.append((response.status_code, response.headers["content-type"], response.json()))
    assert answers[0] == answers[1]
    # a plain call of a known tool (a tool error included) is the fast path's; the rest the SDK's
    assert HANDLED == [case in ("a call", "unknown argument", "string id")]
    if case == "a call":
        status, _, reply = answers[0]
        assert status == 200 and reply["result"]["structuredContent"]["title"] == 'say "hi"'


@pytest.mark.parametrize(
    ("header", "status"),
    [(("host", "evil.example"), 421), (("origin", "http://evil.example"), 403)],
)
@pytest.mark.e2e
def test_a_foreign_host_or_origin_is_left_to_the_sdk(
    header: tuple[str, str], status: int, endpoints: tuple[str, str]
) -> None:
    """DNS-rebinding protection (on for a loopback endpoint): the SDK's own checks decide."""
    body, _ = CASES["a call"]
    HANDLED.clear()
    answers = []
    for url in endpoints:
        sent = {**HEADERS, "mcp-name": "retrieve-job", header[0]: header[1]}
        response = httpx.post(url, content=orjson.dumps(body), headers=sent)
        answers.append((response.status_code, response.text))
    assert answers[0] == answers[1] and answers[0][0] == status
    assert HANDLED == [False]


@pytest.mark.e2e
def test_only_json_accepted_is_left_to_the_sdk(endpoints: tuple[str, str]) -> None:
    body, _ = CASES["a call"]
    statuses = [
        httpx.post(
            url,
            content=orjson.dumps(body),
            headers={**HEADERS, "mcp-name": "retrieve-job", "accept": "application/json"},
        ).status_code
        for url in endpoints
    ]
    assert statuses[0] == statuses[1] == 406


@pytest.mark.e2e
def test_a_slow_call_becomes_an_event_stream_with_pings_as_the_sdk_makes_it(
    endpoints: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the ping interval (15 s; 0.25 s here) both commit to `text/event-stream`, ping,
    and end with the reply as one `message` event."""
    import mcp.server._streamable_http_modern as sdk

    monkeypatch.setattr(mcp_fast, "PING_INTERVAL", 0.25)
    monkeypatch.setattr(sdk, "_SSE_PING_INTERVAL", 0.25)
    body = _body("retrieve-run", {"run_id": "run-1"})
    events = []
    for url in endpoints:
        response = httpx.post(
            url, content=orjson.dumps(body), headers={**HEADERS, "mcp-name": "retrieve-run"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        text = response.text
        assert text.startswith(": ping")
        data = [line[len("data: ") :] for line in text.split("\r\n") if line.startswith("data: ")]
        events.append(orjson.loads(data[-1]))
    assert events[0] == events[1]
    assert events[0]["result"]["structuredContent"]["id"] == "job-1"


def _exchange(sent: list[dict[str, Any]], receive: Any = None) -> Any:
    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def never() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {}

    fast = FastCalls(lambda _: True, lambda _: None, None, lambda: {"name": "s"}, None)  # type: ignore[arg-type]
    return mcp_fast._Exchange(1, VERSION, fast, receive or never, send)


RESULT = CallToolResult(content=[TextContent(type="text", text="ok")])


@pytest.mark.anyio
async def test_a_call_ending_as_the_ping_timer_fires_still_answers_with_a_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whichever comes first in the loop, the reply always starts with its headers."""
    monkeypatch.setattr(mcp_fast, "PING_INTERVAL", 0.0)
    for delay in (0.0, 0.0, 0.0005, 0.001, 0.002, 0.005):
        sent: list[dict[str, Any]] = []

        async def call(delay: float = delay) -> CallToolResult:
            await asyncio.sleep(delay)
            return RESULT

        await _exchange(sent).run(call())
        assert sent[0]["type"] == "http.response.start"
        assert [m.get("more_body", False) for m in sent if m["type"] == "http.response.body"][
            -1
        ] is False
        assert b'"ok"' in sent[-1]["body"]


@pytest.mark.anyio
async def test_a_client_that_disconnects_cancels_a_slow_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mcp_fast, "WATCH_AFTER", 0.01)
    cancelled: list[bool] = []

    async def slow() -> CallToolResult:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return RESULT

    async def disconnect() -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []
    await asyncio.wait_for(_exchange(sent, disconnect).run(slow()), 5)
    assert cancelled == [True] and sent == []


@pytest.mark.anyio
async def test_a_failing_call_is_the_sdks_json_rpc_error() -> None:
    from mcp.shared.exceptions import MCPError

    sent: list[dict[str, Any]] = []

    async def failing() -> CallToolResult:
        raise MCPError(-32602, "Invalid params: Unknown tool: gone")

    await _exchange(sent).run(failing())
    assert sent[0]["status"] == 400
    reply = orjson.loads(sent[1]["body"])
    assert reply == {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": -32602, "message": "Invalid params: Unknown tool: gone"},
    }
