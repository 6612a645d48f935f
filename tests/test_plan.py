"""The compiled plan without sockets: an in-memory upstream records what would be sent."""

from __future__ import annotations

from typing import Any

import pytest

from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.engine.compile import compile_operation, http_call_factory
from naftiko_runtime.errors import InvocationError, UpstreamError
from naftiko_runtime.upstream.base import UpstreamReply, UpstreamRequest
from tests.conftest import CAPABILITIES

pytestmark = pytest.mark.anyio


class MemoryUpstream:
    def __init__(self, reply: UpstreamReply) -> None:
        self.reply = reply
        self.requests: list[UpstreamRequest] = []

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        self.requests.append(request)
        return self.reply

    async def close(self) -> None:
        return None


def compiled(tool: str, reply: UpstreamReply) -> tuple[Any, MemoryUpstream]:
    [jobs] = [c for c in load_paths([CAPABILITIES / "letta-jobs.yaml"]).capabilities]
    [adapter] = jobs.mcp
    invocation = next(t.invocation for t in adapter.tools if t.name == tool)
    upstream = MemoryUpstream(reply)
    variables = {"env.LETTA_API_KEY": "k-123456", "LETTA_API_KEY": "k-123456"}
    return build(invocation, upstream, variables, ("tools",), "http://upstream/base/"), upstream


def build(
    invocation: Any, upstream: Any, variables: dict[str, str], aliases: Any, base: str | None
) -> Any:
    """Compile one exposed operation against an in-memory upstream."""
    calls = http_call_factory(lambda namespace: upstream, variables, lambda namespace: base)
    return compile_operation(invocation, calls, variables, aliases)


async def test_query_types_and_order() -> None:
    op, upstream = compiled("list-jobs", UpstreamReply(200, "application/json", b"[]"))
    result = await op({"ascending": False, "limit": 5, "active": "TRUE"})
    [request] = upstream.requests
    assert request.url == "http://upstream/base/v1/jobs/?limit=5&active=true&ascending=false"
    assert ("Authorization", "Bearer k-123456") in request.headers
    assert result.raw == b"[]" and result.data == []


async def test_missing_required_and_bad_types_are_reported_together() -> None:
    op, upstream = compiled("list-jobs", UpstreamReply(200, "application/json", b"[]"))
    with pytest.raises(InvocationError) as caught:
        await op({"active": "perhaps", "ascending": [1]})
    assert [p["name"] for p in caught.value.problems] == ["active", "ascending"]
    retrieve, _ = compiled("retrieve-job", UpstreamReply(200, "application/json", b"{}"))
    with pytest.raises(InvocationError) as missing:
        await retrieve({})
    assert missing.value.problems == [{"name": "job_id", "problem": "required"}]
    assert upstream.requests == []


async def test_path_values_cannot_escape_their_segment() -> None:
    op, upstream = compiled("retrieve-job", UpstreamReply(200, "application/json", b"{}"))
    for value, expected in [
        ("group/project", "group%2Fproject"),
        ("a b?c", "a%20b%3Fc"),
        ("%2F", "%252F"),
        ("...", "..."),
    ]:
        await op({"job_id": value})
        assert upstream.requests[-1].url == f"http://upstream/base/v1/jobs/{expected}"
    problem = "a path value cannot be '.' or '..', nor hold them between slashes"
    for dots in (".", "..", "../admin", "a/./b", "x/.."):
        with pytest.raises(InvocationError) as refused:
            await op({"job_id": dots})
        assert refused.value.problems == [{"name": "job_id", "problem": problem}]


async def test_upstream_status_errors() -> None:
    op, _ = compiled("retrieve-job", UpstreamReply(404, "application/json", b'{"detail":"x"}'))
    with pytest.raises(UpstreamError) as not_found:
        await op({"job_id": "j"})
    assert (not_found.value.upstream_status, not_found.value.body) == (404, b'{"detail":"x"}')
    op, _ = compiled("retrieve-job", UpstreamReply(200, "application/json", b"<html>"))
    with pytest.raises(UpstreamError) as garbage:
        await op({"job_id": "j"})
    assert garbage.value.kind == "bad_response"


async def test_with_templates_literals_and_references(tmp_path: Any) -> None:
    from pathlib import Path

    from tests.capability.test_validate_rules import BASE

    text = BASE.replace('"job_id": "rest.job_id"', '"job_id": "job-{{job-id}}-{{env.API_KEY}}"')
    text = text.replace('"verbose": "rest.verbose"', '"verbose": 1')
    spec = Path(str(tmp_path)) / "with.yaml"
    spec.write_text(text)
    [capability] = load_paths([spec]).capabilities
    [operation] = capability.rest[0].operations
    upstream = MemoryUpstream(UpstreamReply(200, "application/json", b"{}"))
    op = build(
        operation.invocation,
        upstream,
        {"env.API_KEY": "k9", "API_KEY": "k9"},
        ("rest", "jobs-rest"),
        "http://up",
    )
    assert [(i.name, i.location) for i in op.inputs] == [("job-id", "path")]
    await op({"job-id": "a/b"})
    assert upstream.requests[-1].url == "http://up/v1/jobs/job-a%2Fb-k9?verbose=true"
