"""What a compile produces, and what stays in place while reloads replace what it serves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from naftiko_runtime.adapters.control import ControlApp
from naftiko_runtime.adapters.rest.app import RestApp
from naftiko_runtime.adapters.rest.endpoint import RestEndpoint
from naftiko_runtime.adapters.skill import SkillApp
from naftiko_runtime.observability.state import ControlState
from naftiko_runtime.secrets.bindings import Redactor
from naftiko_runtime.upstream.pool import UpstreamClients

if TYPE_CHECKING:
    from naftiko_runtime.adapters.mcp.endpoint import McpServerSet
    from naftiko_runtime.adapters.mcp.http import McpHttpServer
    from naftiko_runtime.policies.model import PolicySet


class Swappable:
    """An ASGI app whose target can be replaced while serving (live reload): a REST app, a
    skill catalogue or a control plane."""

    def __init__(self, current: RestApp | SkillApp | ControlApp) -> None:
        self.current = current

    @property
    def openapi(self) -> dict[str, Any] | None:
        return self.current.openapi

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.current(scope, receive, send)

    def route_of(self, method: str, path: str) -> str:
        route_of = getattr(self.current, "route_of", None)
        return route_of(method, path) if route_of is not None else path

    @property
    def kind(self) -> str:
        return type(self.current).__name__.removesuffix("App").lower()


@dataclass
class Runtime:
    """Everything compiled for serving: the apps, their sockets' addresses, the upstream."""

    rest_apps: dict[int, Swappable]
    rest_ops: dict[int, list[RestEndpoint]]
    mcp_servers: dict[int, McpHttpServer]
    stdio_servers: list[McpServerSet]
    upstream: UpstreamClients
    redactor: Redactor
    hosts: dict[int, str]
    state: ControlState | None = None
    tracing: Any = None  # observability.tracing.Tracing, when on
    policies: PolicySet | None = None  # `--policies`: the set these apps were compiled with
