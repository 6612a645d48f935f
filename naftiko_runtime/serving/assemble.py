"""Validated capabilities + bindings + options → a Runtime: every exposed adapter built, port
by port.

Order matters for a good failure: validate (same diagnostics as `validate`), resolve every
binding, compile every operation, and only then hand the result to the process to serve.
Nothing here opens a socket, forks or handles a signal (that is `process`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from naftiko_runtime.adapters.auth.base import Guard
from naftiko_runtime.adapters.auth.build import build_guard
from naftiko_runtime.adapters.control import ControlApp
from naftiko_runtime.adapters.rest.app import build_rest_app
from naftiko_runtime.adapters.rest.endpoint import RestEndpoint
from naftiko_runtime.adapters.rest.forward import ForwardEndpoint
from naftiko_runtime.adapters.skill import SkillApp
from naftiko_runtime.engine.credentials import request_secrets
from naftiko_runtime.engine.forward import Forwarder
from naftiko_runtime.engine.response import configure_decoding
from naftiko_runtime.engine.scripting import ScriptEngines
from naftiko_runtime.extras import missing_extra
from naftiko_runtime.model import (
    Auth,
    Capability,
    ControlAdapter,
    Invocation,
    McpAdapter,
    RestAdapter,
)
from naftiko_runtime.observability.metrics import MeteredUpstream, Metrics
from naftiko_runtime.observability.state import ControlState
from naftiko_runtime.openapi.export import build_openapi
from naftiko_runtime.secrets.bindings import Redactor, resolve_bindings
from naftiko_runtime.serving.operations import Operations
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.precompiled import Precompiled
from naftiko_runtime.serving.runtime import Runtime, Swappable
from naftiko_runtime.serving.tracing import NOT_BUILT, process_tracing
from naftiko_runtime.upstream.base import Upstream
from naftiko_runtime.upstream.pool import UpstreamClients, Wrap

if TYPE_CHECKING:
    from naftiko_runtime.adapters.mcp.endpoint import McpServerSet
    from naftiko_runtime.adapters.mcp.http import McpHttpServer
    from naftiko_runtime.policies.model import PolicySet

Controls = list[tuple[Capability, ControlAdapter]]


def compile_runtime(
    capabilities: Sequence[Capability],
    environ: Mapping[str, str],
    options: ServeOptions,
    upstream: Upstream | UpstreamClients | None = None,
    state: ControlState | None = None,
    tracing: Any = NOT_BUILT,
    precompiled: Precompiled | None = None,
    policies: PolicySet | None = None,
) -> Runtime:
    """Resolve bindings and compile every exposed operation (raises BindingError). `state`
    and `tracing` carry the control plane's metrics, readiness and traces across reloads.
    `precompiled`: operations already compiled for these very capabilities, taken instead of
    compiling them again when nothing it assumed has changed (`Precompiled.fits`).
    `policies`: the operator's traffic policies (validated against these capabilities)."""
    if precompiled is not None and not precompiled.fits(
        capabilities, environ, options, upstream, state, tracing
    ):
        precompiled = None
    configure_decoding(options.timeouts.max_body)  # the decode limits follow the body cap
    variables, redactor = _bound(capabilities, environ, precompiled)
    controls = [(c, a) for c in capabilities for a in c.control]
    if state is None and (controls or options.control_port is not None):
        state = ControlState(Metrics())
    metrics = state.metrics if state is not None else None
    tracing_given = tracing is not NOT_BUILT
    if not tracing_given:
        tracing = process_tracing(controls, options, environ, variables)
    clients = _clients(options, upstream, precompiled, metrics, tracing, policies)
    # the process's policy engine (built once, kept by reloads), when policies are served
    engine = clients.policies if policies is not None else None
    for _, control in controls[:1]:  # the spec's script settings (one control adapter)
        _apply_script_settings(options, control.scripting)
    _import_aiohttp_if_handed(capabilities, options)
    compiled = Operations(
        clients,
        variables,
        options,
        redactor,
        precompiled.scripts if precompiled is not None else ScriptEngines(options.scripting),
        precompiled.factories if precompiled is not None else {},
        precompiled.take if precompiled is not None else None,
    )
    ports = _Ports(options, variables, redactor)
    rest = _rest_endpoints(capabilities, ports, compiled, clients, engine, policies)
    if state is not None:
        state.capabilities = [
            {"file": c.file, "label": c.label, "specVersion": c.version} for c in capabilities
        ]
    rest_apps = {
        **_control_apps(controls, ports, state, tracing),
        **_skill_apps(capabilities, ports),
    }
    rest_apps.update(_rest_apps(rest, redactor, metrics, tracing))
    tool_limits = engine.tool_limits(policies) if engine else None
    mcp_servers, stdio_servers = _mcp_servers(capabilities, ports, compiled, tool_limits)
    if state is not None:
        state.adapters = [
            {"type": kind, "namespace": namespace, "port": port}
            for kind, namespace, port in adapter_summary(capabilities, options)
        ]
        for server in mcp_servers.values():
            server.server_set.metrics = metrics
    for server in mcp_servers.values():
        server.server_set.tracing = tracing
    if not tracing_given and tracing is not None:
        tracing.redact = redactor  # the first compile's: reloads add their secrets to it
    return Runtime(
        rest_apps,
        rest.endpoints,
        mcp_servers,
        stdio_servers,
        clients,
        redactor,
        ports.hosts,
        state,
        tracing,
        policies,
    )


def _bound(
    capabilities: Sequence[Capability],
    environ: Mapping[str, str],
    precompiled: Precompiled | None,
) -> tuple[dict[str, dict[str, Any]], Redactor]:
    """Each file's bound values (raises BindingError), and the redactor that keeps them, and
    every secret the specs send upstream, out of logs and errors."""
    variables: dict[str, dict[str, Any]] = resolve_bindings(capabilities, environ)
    if precompiled is not None:  # one read of each file's secrets for all that uses them
        variables.update(precompiled.variables)
    redactor = precompiled.redactor if precompiled is not None else Redactor()
    # every bound value leaves logs and errors; only credentials leave pass-through bodies
    redactor.add((v for scope in variables.values() for v in scope.values()), credential=False)
    for capability in capabilities:  # and what the spec sends upstream leaves bodies too
        redactor.add(request_secrets(capability, variables.get(capability.file, {})))
    return variables, redactor


def _clients(
    options: ServeOptions,
    upstream: Upstream | UpstreamClients | None,
    precompiled: Precompiled | None,
    metrics: Metrics | None,
    tracing: Any,
    policies: PolicySet | None,
) -> UpstreamClients:
    """The upstream clients: those operations were precompiled with, a reload's (kept), or
    new ones (over `upstream`, a test's, when given)."""
    if precompiled is not None:
        return precompiled.clients
    if isinstance(upstream, UpstreamClients):
        return upstream
    return UpstreamClients(
        options.http_client, options.timeouts, shared=upstream,
        wrappers=_upstream_wrappers(metrics, tracing),
        policies=_policy_engine(policies, options, metrics, tracing),
    )  # fmt: skip


def _upstream_wrappers(metrics: Metrics | None, tracing: Any) -> list[Wrap]:
    """Each namespace's client metered, then traced around that, when those are on."""
    wrappers: list[Wrap] = []
    if metrics is not None:
        wrappers.append(lambda client, namespace: MeteredUpstream(client, namespace, metrics))
    if tracing is not None:
        from naftiko_runtime.observability.tracing import TracedUpstream

        wrappers.append(lambda client, namespace: TracedUpstream(client, namespace, tracing))
    return wrappers


def _policy_engine(
    policies: PolicySet | None, options: ServeOptions, metrics: Metrics | None, tracing: Any
) -> Any:
    """The policies' engine for `--policies`; None (and nothing imported) without."""
    if policies is None:
        return None
    from naftiko_runtime.policies.engine import PolicyEngine

    return PolicyEngine(policies, options.timeouts, metrics, tracing)


_SCRIPT_KEYS = {
    "enabled": "enabled",
    "defaultLocation": "default_location",
    "defaultLanguage": "default_language",
    "timeout": "timeout_ms",
    "statementLimit": "statement_limit",
}


def _apply_script_settings(options: ServeOptions, settings: Any) -> None:
    """The control adapter's `scripting` settings, over the options' (and the flags')."""
    for key, value in settings or ():
        if key in _SCRIPT_KEYS:
            setattr(options.scripting, _SCRIPT_KEYS[key], value)
        elif key == "allowedLanguages" and isinstance(value, list):
            options.scripting.allowed_languages = tuple(str(v) for v in value)


def _import_aiohttp_if_handed(capabilities: Sequence[Capability], options: ServeOptions) -> None:
    """Import aiohttp's client now, not on the event loop when the first request the
    default client hands it comes (~0.15 s): digest auth, or a forward (a client's body
    streamed on)."""
    if options.http_client == "aiohttp" or not _hands_to_aiohttp(capabilities):
        return
    if missing_extra("aiohttp") is None:
        import naftiko_runtime.upstream.aiohttp  # noqa: F401


def _hands_to_aiohttp(capabilities: Sequence[Capability]) -> bool:
    operations = (op for capability in capabilities for op in capability.operations)
    return any(adapter.forwards for c in capabilities for adapter in c.rest) or any(
        op.auth is not None and op.auth.type == "digest" for op in operations
    )


@dataclass
class _Ports:
    """What every adapter kind's build shares: the port each listens on (`--port` mapped),
    the host of each port (the first adapter on it says), and its guard, whose secrets the
    redactor keeps."""

    options: ServeOptions
    variables: Mapping[str, Mapping[str, Any]]
    redactor: Redactor
    hosts: dict[int, str] = field(default_factory=dict)

    def listen(self, declared: int, address: str) -> int:
        port = self.options.port_map.get(declared, declared)
        self.hosts.setdefault(port, self.options.host or _host(address))
        return port

    def guard(self, auth: Auth | None, capability: Capability, what: str) -> Guard | None:
        guard = build_guard(auth, self.variables[capability.file], f"{capability.file}: {what}")
        if guard is not None:
            self.redactor.add(guard.secrets)
        return guard

    def mcp_guard(self, capability: Capability, adapter: McpAdapter) -> Guard | None:
        return self.guard(adapter.auth, capability, adapter.namespace)


def _host(address: str) -> str:
    return "127.0.0.1" if address in ("localhost",) else address


@dataclass
class _RestPorts:
    """The REST adapters' endpoints, forwards and capabilities (for the title), by port."""

    endpoints: dict[int, list[RestEndpoint]] = field(default_factory=dict)
    forwards: dict[int, list[ForwardEndpoint]] = field(default_factory=dict)
    titles: dict[int, list[Capability]] = field(default_factory=dict)


def _rest_endpoints(
    capabilities: Sequence[Capability],
    ports: _Ports,
    compiled: Operations,
    clients: UpstreamClients,
    engine: Any,
    policies: PolicySet | None,
) -> _RestPorts:
    rest = _RestPorts()
    for capability in capabilities:
        for adapter in capability.rest:
            port = ports.listen(adapter.port, adapter.address)
            rest.titles.setdefault(port, []).append(capability)
            guard = ports.guard(adapter.auth, capability, adapter.namespace)
            for forwarder in _forwarders(capability, adapter, clients, ports):
                rest.forwards.setdefault(port, []).append(ForwardEndpoint(forwarder, guard))
            for op in adapter.operations:
                invocation = op.invocation
                streams = isinstance(invocation, Invocation) and invocation.operation.event_stream
                limit = engine.route_limits(policies, op.method, op.path) if engine else None
                rest.endpoints.setdefault(port, []).append(
                    RestEndpoint(
                        op.method,
                        op.path,
                        compiled(capability, invocation, ("rest", adapter.namespace)),
                        op.name,
                        op.description,
                        guard,
                        streams,
                        limit,
                    )
                )
    return rest


def _forwarders(
    capability: Capability, adapter: RestAdapter, clients: UpstreamClients, ports: _Ports
) -> Iterator[Forwarder]:
    """A REST adapter's forwards, each to its namespace's client and base URL."""
    upstreams = ports.options.upstreams
    for route in adapter.forwards:
        base = upstreams.get(route.namespace) or upstreams.get("*")
        forwarder = Forwarder(
            route, clients.for_namespace(route.namespace), ports.variables[capability.file], base
        )
        ports.redactor.add(forwarder.auth.secrets)
        yield forwarder


def _control_apps(
    controls: Controls, ports: _Ports, state: ControlState | None, tracing: Any
) -> dict[int, Swappable]:
    """The spec's control adapter (the first), else `--control`'s."""
    apps: dict[int, Swappable] = {}
    options = ports.options
    traces = tracing.buffer if tracing is not None else None
    for capability, control in controls[:1]:
        port = ports.listen(control.port, control.address)
        guard = ports.guard(control.auth, capability, "control")
        assert state is not None
        scripting = options.scripting if control.scripting is not None else None
        apps[port] = Swappable(
            ControlApp(
                state, scripting, guard, control.info, control.health, control.metrics, traces
            )
        )
    if options.control_port is not None and not controls:
        assert state is not None
        ports.hosts.setdefault(options.control_port, options.control_host)
        apps[options.control_port] = Swappable(ControlApp(state, None, traces=traces))
    return apps


def _skill_apps(capabilities: Sequence[Capability], ports: _Ports) -> dict[int, Swappable]:
    apps: dict[int, Swappable] = {}
    for capability in capabilities:
        for skill in capability.skill:
            port = ports.listen(skill.port, skill.address)
            guard = ports.guard(skill.auth, capability, skill.namespace)
            apps[port] = Swappable(SkillApp(skill, guard, ports.options.max_file_bytes))
    return apps


def _rest_apps(
    rest: _RestPorts, redactor: Redactor, metrics: Metrics | None, tracing: Any
) -> dict[int, Swappable]:
    """One REST app per port, its OpenAPI titled after the capabilities it serves."""
    apps: dict[int, Swappable] = {}
    for port in set(rest.endpoints) | set(rest.forwards):
        endpoints = rest.endpoints.setdefault(port, [])
        caps = rest.titles[port]
        title = " + ".join(c.label or c.file for c in caps)
        description = "\n\n".join(c.description or "" for c in caps)
        apps[port] = Swappable(
            build_rest_app(
                endpoints,
                redactor,
                build_openapi(title, description, endpoints),
                rest.forwards.get(port, ()),
                metrics,
                tracing,
            )
        )
    return apps


def _mcp_servers(
    capabilities: Sequence[Capability],
    ports: _Ports,
    compiled: Operations,
    tool_limits: dict[str, Any] | None,
) -> tuple[dict[int, McpHttpServer], list[McpServerSet]]:
    if not any(c.mcp for c in capabilities):
        return {}, []  # the MCP SDK is only imported when some spec exposes MCP (start-up, RSS)
    from naftiko_runtime.adapters.mcp.build import build_mcp_servers

    return build_mcp_servers(
        capabilities,
        ports.options,
        compiled,
        ports.hosts,
        ports.redactor,
        ports.mcp_guard,
        tool_limits,
    )


def adapter_summary(
    capabilities: Sequence[Capability], options: ServeOptions
) -> list[tuple[str, str | None, int | None]]:
    """(kind, namespace, port) of every adapter served, for the control plane's status."""
    found: list[tuple[str, str | None, int | None]] = []
    for c in capabilities:
        for rest in c.rest:
            found.append(("rest", rest.namespace, options.port_map.get(rest.port, rest.port)))
        for mcp in c.mcp:
            port = options.port_map.get(mcp.port, mcp.port) if mcp.port else None
            found.append(("mcp", mcp.namespace, port))
        for skill in c.skill:
            found.append(("skill", skill.namespace, options.port_map.get(skill.port, skill.port)))
        for control in c.control:
            found.append(("control", None, options.port_map.get(control.port, control.port)))
    if options.control_port is not None and not any(c.control for c in capabilities):
        found.append(("control", None, options.control_port))
    return found
