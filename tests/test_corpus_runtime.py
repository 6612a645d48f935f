"""Specs we did not write, served: every REST operation and MCP tool of every corpus
capability that validates is compiled and called once, against an in-memory upstream that
records the request. Skipped cleanly when ../shared/corpus is absent."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from naftiko_runtime.capability.load import expand_paths, load_paths
from naftiko_runtime.engine.call import CallOperation
from naftiko_runtime.engine.orchestration import OrchestratedOperation
from naftiko_runtime.errors import StartupError
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.offline import AnyValue
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.upstream.base import UpstreamReply, UpstreamRequest
from tests.conftest import CAPABILITIES, CORPUS

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.anyio,
    pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent"),
]
SAMPLES: dict[str | None, Any] = {
    "string": "v1",
    None: "v1",
    "integer": 3,
    "number": 1.5,
    "boolean": True,
    "array": ["a", "b"],
    "object": {"k": "v"},
}


BODIES = {
    "xml": (b"<items><id>x</id></items>", "application/xml"),
    "csv": (b"id,name\nx,y\n", "text/csv"),
}


class Recorder:
    """Answers every request in the format its operation declares."""

    def __init__(self, formats: dict[str, str] | None = None) -> None:
        self.requests: list[UpstreamRequest] = []
        self.formats = formats or {}

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        self.requests.append(request)
        body, kind = BODIES.get(
            self.formats.get(request.operation, "json"),
            (b'{"id": "x", "items": []}', "application/json"),
        )
        return UpstreamReply(200, kind, body)

    async def close(self) -> None:
        return None


async def test_every_corpus_operation_and_tool_runs(capsys: pytest.CaptureFixture[str]) -> None:
    counts = {"files": 0, "rest": 0, "tools": 0, "orchestrated": 0, "unservable": 0}
    counts["typed"] = 0
    for path in expand_paths([CORPUS, CAPABILITIES]):
        result = load_paths([path])
        if not result.ok or not result.capabilities:
            continue
        counts["files"] += 1
        recorder = Recorder(
            {op.target: op.output_format for c in result.capabilities for op in c.operations}
        )
        # some real specs template their host (`https://{subdomain}.{site}`): point all at one
        options = ServeOptions(upstreams={"*": "http://upstream.test/base"})
        try:
            runtime = compile_runtime(
                result.capabilities, AnyValue(), options, upstream=recorder, tracing=None
            )
        except StartupError as exc:  # e.g. script files the corpus does not carry
            assert "script step" in str(exc), (path.name, str(exc))
            counts["unservable"] += 1
            continue
        for endpoints in runtime.rest_ops.values():
            for endpoint in endpoints:
                op = endpoint.operation
                inputs = {
                    i.name: SAMPLES[i.type] for i in op.inputs if i.required or i.location == "path"
                }
                before = len(recorder.requests)
                await op(inputs)
                if isinstance(op, CallOperation):
                    assert recorder.requests[-1].method == op.call.operation.method, path.name
                elif isinstance(op, OrchestratedOperation):
                    counts["orchestrated"] += 1
                for sent in recorder.requests[before:]:
                    assert sent.url.startswith("http://upstream.test/base/"), sent.url
                    assert "{" not in sent.url.split("?")[0], (path.name, sent.url)
                counts["rest"] += 1
        servers = [s.server_set for s in runtime.mcp_servers.values()] + runtime.stdio_servers
        for server in servers:
            for name, entry in server.tools.items():
                schema = entry.tool.input_schema
                arguments = {
                    key: SAMPLES[value.get("type")]
                    for key, value in schema["properties"].items()
                    if key in schema.get("required", [])
                }
                outcome = await server.call(name, arguments)
                assert outcome.is_error is False, (path.name, name, outcome.content)
                counts["tools"] += 1
                declared = entry.tool.output_schema
                if declared is not None:  # structured output validates against it
                    Draft202012Validator.check_schema(declared)
                    assert declared["type"] == "object", (path.name, name)
                    errors = list(
                        Draft202012Validator(declared).iter_errors(outcome.structured_content)
                    )
                    assert errors == [], (path.name, name, declared, outcome.structured_content)
                    counts["typed"] += 1
    with capsys.disabled():
        print(
            f"\ncorpus runtime: {counts['files']} capabilities, {counts['rest']} REST "
            f"operations ({counts['orchestrated']} orchestrated) and {counts['tools']} MCP tools "
            f"called ({counts['typed']} with an outputSchema their result validates against); "
            f"{counts['unservable']} not servable here (missing script files)"
        )
    assert counts["files"] >= 80 and counts["rest"] >= 300 and counts["tools"] >= 300
