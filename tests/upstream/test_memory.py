"""MemoryUpstream: the Upstream protocol answered by a function, and a bundled capability
compiled and called end to end on it, in-process, without a socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.errors import UpstreamTimeoutError
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.runtime import Runtime
from naftiko_runtime.upstream.base import Upstream, UpstreamReply, UpstreamRequest
from naftiko_runtime.upstream.memory import Handler, MemoryUpstream
from tests.conftest import CAPABILITIES

pytestmark = pytest.mark.anyio

JOB = {"id": "job-1", "status": "completed"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def request(url: str = "http://upstream.test/v1/jobs/") -> UpstreamRequest:
    return UpstreamRequest("GET", url, [], None, "letta-jobs.list_jobs")


async def test_a_sync_handler_answers_each_request_it_is_given() -> None:
    seen: list[UpstreamRequest] = []

    def handler(sent: UpstreamRequest) -> UpstreamReply:
        seen.append(sent)
        return UpstreamReply(200, "application/json", b"[]")

    upstream: Upstream = MemoryUpstream(handler)
    sent = request()
    reply = await upstream.send(sent)
    assert (reply.status, reply.content_type, reply.body) == (200, "application/json", b"[]")
    assert seen == [sent]


async def test_an_async_handler_is_awaited() -> None:
    async def handler(sent: UpstreamRequest) -> UpstreamReply:
        return UpstreamReply(201, "text/plain", sent.url.encode())

    reply = await MemoryUpstream(handler).send(request("http://upstream.test/x"))
    assert (reply.status, reply.body) == (201, b"http://upstream.test/x")


async def test_a_handler_plays_a_failing_upstream_by_raising() -> None:
    def handler(sent: UpstreamRequest) -> UpstreamReply:
        raise UpstreamTimeoutError("no answer in time", operation=sent.operation)

    with pytest.raises(UpstreamTimeoutError) as caught:
        await MemoryUpstream(handler).send(request())
    assert caught.value.kind == "timeout" and caught.value.operation == "letta-jobs.list_jobs"


async def test_a_streamed_reply_is_handed_over_as_given() -> None:
    async def events() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        yield b"data: 2\n\n"

    upstream = MemoryUpstream(lambda sent: UpstreamReply(200, "text/event-stream", stream=events()))
    reply = await upstream.send(request())
    assert reply.stream is not None
    assert [chunk async for chunk in reply.stream] == [b"data: 1\n\n", b"data: 2\n\n"]


async def test_close_is_recorded() -> None:
    upstream = MemoryUpstream(lambda sent: UpstreamReply(204, ""))
    assert not upstream.closed
    await upstream.close()
    assert upstream.closed


# --------------------------------------------------------------- a bundled capability on it
def letta_jobs(handler: Handler) -> tuple[Runtime, MemoryUpstream]:
    """capabilities/letta-jobs.yaml compiled as `serve` would, on a MemoryUpstream."""
    result = load_paths([CAPABILITIES / "letta-jobs.yaml"])
    assert result.ok
    upstream = MemoryUpstream(handler)
    runtime = compile_runtime(
        result.capabilities, {"LETTA_API_KEY": "k-123456"}, ServeOptions(), upstream=upstream
    )
    return runtime, upstream


async def get(runtime: Runtime, path: str) -> httpx.Response:
    app: Any = runtime.rest_apps[8080]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://naftiko.test") as client:
        return await client.get(path)


async def test_a_rest_operation_of_a_bundled_capability_runs_end_to_end_in_process() -> None:
    seen: list[UpstreamRequest] = []

    def handler(sent: UpstreamRequest) -> UpstreamReply:
        seen.append(sent)
        return UpstreamReply(200, "application/json", orjson.dumps(JOB))

    runtime, upstream = letta_jobs(handler)
    response = await get(runtime, "/v1/jobs/job-1")
    assert response.status_code == 200, response.text
    assert response.json() == JOB
    [sent] = seen
    assert (sent.method, sent.url) == ("GET", "https://api.letta.com/v1/jobs/job-1")
    assert sent.operation == "letta-jobs.retrieve_job"
    assert ("Authorization", "Bearer k-123456") in sent.headers
    await runtime.upstream.close()
    assert upstream.closed


async def test_upstream_failures_reach_the_rest_client_as_they_would_over_sockets() -> None:
    def handler(sent: UpstreamRequest) -> UpstreamReply:
        if sent.url.endswith("/gone"):
            return UpstreamReply(404, "application/json", b'{"detail": "no such job"}')
        raise UpstreamTimeoutError("upstream did not answer in time", operation=sent.operation)

    runtime, _ = letta_jobs(handler)
    missing = await get(runtime, "/v1/jobs/gone")
    assert (missing.status_code, missing.json()) == (404, {"detail": "no such job"})
    slow = await get(runtime, "/v1/jobs/slow")
    assert slow.status_code == 504
    assert slow.json()["error"]["type"] == "upstream_timeout"
