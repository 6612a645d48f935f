"""MCP over stdin/stdout: the stdio adapters, else every MCP adapter merged into one server.
The end of input waits for the answers to requests already read, so a client that writes
its requests and closes stdin still gets every answer."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TextIO

from mcp.server.lowlevel import Server

from naftiko_runtime.adapters.files import MAX_FILE_BYTES
from naftiko_runtime.adapters.mcp.endpoint import McpServerSet
from naftiko_runtime.adapters.mcp.prompts import PromptEntry, PromptRegistry
from naftiko_runtime.adapters.mcp.resources import ResourceRegistry


def serve_stdio(
    runtime: Any, stderr: TextIO, background: Sequence[Any] = (), grace: float = 30.0
) -> int:
    """Serve MCP over stdin/stdout: the stdio adapters, else every MCP adapter merged.

    `background` are uvicorn servers with their sockets (the simulator) run alongside.
    """
    import anyio
    from mcp.server.stdio import stdio_server

    sets: list[McpServerSet] = list(runtime.stdio_servers) or [_merged(runtime)]
    if len(sets) > 1:
        names = ", ".join(s.name for s in sets)
        stderr.write(
            f"naftiko-runtime: error: several stdio MCP adapters ({names}); "
            "serve one file at a time\n"
        )
        return 1
    server = sets[0].server()

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for uvicorn_server, sockets in background:
                group.start_soon(functools.partial(uvicorn_server.serve, sockets=sockets))
            try:
                async with stdio_server() as (read, write):
                    await _run_draining(server, read, write, grace)
            finally:
                for uvicorn_server, _ in background:
                    uvicorn_server.should_exit = True
                await runtime.upstream.close()

    import gc

    gc.collect()
    gc.freeze()  # as `serve` does once ready: start-up objects are never scanned again
    gc.enable()  # off while the specs were loaded and compiled (cli._no_collection)
    anyio.run(main)
    return 0


def _merged(runtime: Any) -> McpServerSet:
    """Every HTTP endpoint's tools, resources (exact, `location` and templates) and prompts
    (with their files) in one set, files capped as the last endpoint caps them."""
    endpoints = [http_server.server_set for http_server in runtime.mcp_servers.values()]
    cap = endpoints[-1].resources.max_file_bytes if endpoints else MAX_FILE_BYTES
    merged = McpServerSet(
        "naftiko-runtime",
        runtime.redactor,
        resources=ResourceRegistry(cap),
        prompts=PromptRegistry(cap),
    )
    for served in endpoints:
        for tool in served.tools.values():
            merged.tools.add(tool)
        for resource in served.resources.values():
            merged.resources.add(resource)
        for template in served.resources.templates:
            merged.resources.add_template(template)
        for prompt in served.prompts.values():
            merged.prompts.add(PromptEntry(prompt.prompt, prompt.file))
        merged.descriptions.extend(served.descriptions)
    return merged


async def _run_draining(server: Server[Any], read: Any, write: Any, grace: float) -> None:
    """`server.run` over stdio, except that the end of input waits (up to `grace` seconds)
    until every request already read is answered: a client that writes its requests and
    closes stdin gets every answer (the SDK would cancel those still running)."""
    import anyio

    to_server, from_client = anyio.create_memory_object_stream[Any](64)
    to_client, from_server = anyio.create_memory_object_stream[Any](64)
    pending = 0
    answered = anyio.Event()

    def kind(item: Any) -> tuple[bool, bool]:
        message = getattr(item, "message", item)
        root = getattr(message, "root", message)
        has_id = getattr(root, "id", None) is not None
        is_request = has_id and getattr(root, "method", None) is not None
        return is_request, has_id and not is_request

    async def pump_in() -> None:
        nonlocal pending
        async with to_server:
            async for item in read:
                if kind(item)[0]:
                    pending += 1
                await to_server.send(item)
            with anyio.move_on_after(grace):
                while pending > 0:
                    await answered.wait()

    async def pump_out() -> None:
        nonlocal pending, answered
        async with write:  # closed when the server is done: stdio's writer ends with it
            async for item in from_server:
                await write.send(item)
                if kind(item)[1]:
                    pending -= 1
                    answered.set()
                    answered = anyio.Event()

    async with anyio.create_task_group() as group:
        group.start_soon(pump_in)
        group.start_soon(pump_out)
        async with to_client:
            await server.run(from_client, to_client, server.create_initialization_options())
