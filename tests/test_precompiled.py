"""Operations compiled while a detached load still sends the model (`runtime.Precompiled`):
`compile_runtime` serves exactly those (none is compiled twice) when nothing it assumed has
changed, and compiles everything itself when something has (a control plane, other options
or environment). End to end: a spec large enough to load detached serves its operations over
REST and MCP through a real upstream, as a small one does."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.scale import generate
from naftiko_runtime.capability.load import ASIDE_MIN_BYTES, load_paths
from naftiko_runtime.model import Capability, ControlAdapter
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.precompiled import Precompiled
from tests.conftest import CAPABILITIES
from tests.fixtures.process import serve
from tests.fixtures.upstream import RecordingUpstream, Reply, running

ENV = {"LETTA_API_KEY": "k-1234567890"}


def _served_operations(runtime: Any) -> list[Any]:
    rest = [e.operation for endpoints in runtime.rest_ops.values() for e in endpoints]
    tools = [
        entry.operation
        for server in runtime.mcp_servers.values()
        for entry in server.server_set.tools.values()
    ]
    return rest + tools


def _precompiled(capabilities: list[Capability], options: ServeOptions) -> Precompiled:
    early = Precompiled(ENV, options)
    for capability in capabilities:
        early.add(capability)
    return early


def test_the_operations_compiled_as_they_arrived_are_the_ones_served() -> None:
    capabilities = load_paths([CAPABILITIES]).capabilities
    options = ServeOptions()
    early = _precompiled(capabilities, options)
    compiled = {id(op) for _, op in early._done.values()}
    runtime = compile_runtime(capabilities, ENV, options, precompiled=early)
    served = _served_operations(runtime)
    assert served and {id(op) for op in served} <= compiled
    assert early._done == {}  # each taken once, none left behind
    assert runtime.upstream is early.clients and runtime.redactor is early.redactor


def test_a_control_plane_or_other_settings_compile_everything_again() -> None:
    capabilities = load_paths([CAPABILITIES]).capabilities
    options = ServeOptions()
    first = capabilities[0]
    control = ControlAdapter(9191, "127.0.0.1", True, True, True, None)
    with_control = [dataclasses.replace(first, control=(control,)), *capabilities[1:]]
    cases = [
        (with_control, ENV, options),  # the control plane's metrics reach every call
        (capabilities, dict(ENV), options),  # another environment (a simulator's, say)
        (capabilities, ENV, dataclasses.replace(options)),  # other options
        # the model loaded again (a loader that died after sending): other objects, and
        # maybe other files; what was compiled from the first read is not served
        (load_paths([CAPABILITIES]).capabilities, ENV, options),
    ]
    for served_capabilities, environ, served_options in cases:
        added = served_capabilities if served_capabilities is with_control else capabilities
        early = _precompiled(added, options)
        compiled = {id(op) for _, op in early._done.values()}
        runtime = compile_runtime(served_capabilities, environ, served_options, precompiled=early)
        assert not {id(op) for op in _served_operations(runtime)} & compiled
        assert runtime.upstream is not early.clients


@pytest.mark.e2e
def test_a_large_spec_loaded_detached_serves_rest_and_mcp(tmp_path: Path) -> None:
    size = 0
    for part in range(2):
        text = generate(150, 150 * part, part)
        (tmp_path / f"scale-{part}.yaml").write_text(text)
        size += len(text.encode())
    assert size >= ASIDE_MIN_BYTES  # loaded in a forked loader, compiled as it arrives
    upstream = RecordingUpstream(
        script={"/v1/jobs/": Reply(body=b'{"id": "item-1", "status": "done", "secret": 1}')}
    )
    with running(upstream) as base:
        args: list[str | Path] = [tmp_path]
        for part in range(2):
            args += ["--upstream", f"items-api-{part}={base}"]
        with serve(*args, ready=None) as process:
            process.wait_ready(process.rest + "/openapi.json", timeout=120)
            reply = httpx.get(process.rest + "/items-299/abc", timeout=10)
            assert reply.status_code == 200, process.output()
            assert reply.json() == {"id": "item-1", "state": "done"}
            assert upstream.seen[-1].raw_path == "/v1/jobs/299/abc"

            async def call() -> Any:
                from mcp import Client

                async with Client(process.mcp) as client:
                    return await client.call_tool("get-item-7", {"item_id": "xyz"})

            result = asyncio.run(call())
            assert not result.is_error
            assert result.structured_content == {"id": "item-1", "status": "done", "secret": 1}
            assert upstream.seen[-1].raw_path == "/v1/jobs/7/xyz"
