"""The uvicorn servers of a runtime, one per port: how each is configured (event loop, HTTP
parser with its bounds, grace), what it serves (with an access log when asked), and the line
that says so once the instance is ready."""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn

from naftiko_runtime.adapters.control import ControlApp
from naftiko_runtime.adapters.skill import SkillApp
from naftiko_runtime.observability.access import AccessLog
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.runtime import Runtime

ExtraApp = tuple[Any, socket.socket, str]
"""An app served beside the runtime's (the simulator): the app, its socket, its line."""


class Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process (several share a loop)
    and says when it listens, so the process waits on an event instead of polling."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self.ready.set()


@dataclass
class ServedApp:
    """One server, the sockets it serves, and what `serve` says of it once ready."""

    server: Server
    sockets: list[socket.socket]
    line: str


def served_apps(
    runtime: Runtime,
    options: ServeOptions,
    sockets: dict[int, socket.socket],
    extra: Sequence[ExtraApp] = (),
    workers: int = 1,
) -> list[ServedApp]:
    """A server for each REST, skill and control port, each extra app and each MCP port (on
    an OSError the sockets of those made so far are closed)."""
    served: list[ServedApp] = []
    each = f", {workers} workers" if workers > 1 else ""
    try:
        for port, app in runtime.rest_apps.items():
            where = f"http://{runtime.hosts[port]}:{port}"
            if isinstance(app.current, SkillApp):
                line = f"SKILL {where}/skills  ({len(app.current.skills)} skills{each})"
            elif isinstance(app.current, ControlApp):
                line = f"CONTROL {where}/health/ready"
            else:
                line = f"REST  {where}  ({len(runtime.rest_ops.get(port, []))} operations{each})"
            logged = _logged(app, app.kind, app.route_of, options)
            served.append(ServedApp(server(logged, options), [sockets[port]], line))
        for app, sock, line in extra:
            served.append(ServedApp(server(app, options), [sock], line))
        for port, mcp in runtime.mcp_servers.items():
            stateless = ", stateless" if mcp.stateless else ""
            line = (
                f"MCP   http://{runtime.hosts[port]}:{port}{mcp.path}  "
                f"({mcp.tool_count} tools{each}{stateless})"
            )
            logged = _logged(mcp.app, "mcp", None, options)
            served.append(ServedApp(server(logged, options), [sockets[port]], line))
    except OSError:
        for done in served:
            for sock in done.sockets:
                sock.close()
        raise
    return served


def background_servers(
    extra: Sequence[ExtraApp], options: ServeOptions
) -> list[tuple[Server, list[socket.socket]]]:
    """uvicorn servers for extra apps (the simulator) run beside another transport."""
    return [(server(app, options), [sock]) for app, sock, _ in extra]


def server(app: Any, options: ServeOptions) -> Server:
    return Server(
        uvicorn.Config(
            app,
            loop="uvloop" if _has("uvloop") else "asyncio",
            http=_http_protocol(options),
            h11_max_incomplete_event_size=options.max_header_bytes,
            lifespan="on",
            interface="asgi3",  # auto-detection mistakes bound coroutine methods for ASGI2
            access_log=False,  # the runtime writes its own access lines (observability.access)
            proxy_headers=False,
            log_config=None,  # uvicorn's records go to the one redacting root handler
            log_level=None,
            timeout_graceful_shutdown=max(1, math.ceil(options.grace_seconds)),
        )
    )


def _logged(
    app: Any, adapter: str, route_of: Callable[[str, str], str] | None, options: ServeOptions
) -> Any:
    """`app` with an access line per request when `--access-log` asks for them."""
    return AccessLog(app, adapter, route_of) if options.access_log else app


def _http_protocol(options: ServeOptions) -> Any:
    """httptools with header time and size bounds when it is installed, else h11."""
    if not _has("httptools"):
        return "h11"
    from naftiko_runtime.adapters.http_protocol import bounded_protocol

    return bounded_protocol(options.header_timeout, options.max_header_bytes, options.body_timeout)


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True
