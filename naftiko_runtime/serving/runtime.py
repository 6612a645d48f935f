"""The runtime: every exposed adapter assembled from validated specs, and live reload.

Order matters for a good failure: validate (same diagnostics as `validate`), resolve every
binding, compile every operation, and only then hand the result to the process to serve.
Nothing here opens a socket, forks or handles a signal (that is `process`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from naftiko_runtime.adapters.auth.base import Guard
from naftiko_runtime.adapters.auth.build import build_guard
from naftiko_runtime.adapters.control import ControlApp
from naftiko_runtime.adapters.rest.app import RestApp, build_rest_app
from naftiko_runtime.adapters.rest.endpoint import RestEndpoint
from naftiko_runtime.adapters.rest.forward import ForwardEndpoint
from naftiko_runtime.adapters.skill import SkillApp
from naftiko_runtime.capability.model import AnyInvocation, Capability, Invocation, McpAdapter
from naftiko_runtime.engine.compile import compile_operation, http_call_factory
from naftiko_runtime.engine.credentials import request_secrets
from naftiko_runtime.engine.forward import Forwarder
from naftiko_runtime.engine.response import configure_decoding
from naftiko_runtime.engine.result import Operation
from naftiko_runtime.engine.scripting import ScriptEngines, ScriptSettings
from naftiko_runtime.extras import install_hint, missing_extra
from naftiko_runtime.observability.current import ENDPOINT_VARIABLES
from naftiko_runtime.observability.metrics import Metrics
from naftiko_runtime.observability.state import ControlState
from naftiko_runtime.openapi.export import build_openapi
from naftiko_runtime.secrets.bindings import Redactor, resolve_bindings
from naftiko_runtime.upstream.base import Timeouts, Upstream, UpstreamClients

if TYPE_CHECKING:
    from naftiko_runtime.adapters.mcp.server import McpHttpServer, McpServerSet
    from naftiko_runtime.policies.model import PolicySet

log = logging.getLogger("naftiko_runtime")


@dataclass
class ServeOptions:
    host: str | None = None
    port_map: dict[int, int] = field(default_factory=dict)
    upstreams: dict[str, str] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    simulate: str = "never"  # never | auto | always
    access_log: bool = False
    http_client: str = "h1"
    control_port: int | None = None  # `--control PORT`: a control adapter on loopback
    scripting: ScriptSettings = field(default_factory=ScriptSettings)
    grace: float | None = None  # `--grace`: seconds in-flight requests get after SIGTERM
    drain_delay: float = 0.0  # `--drain-delay`: seconds still accepting, readiness 503
    mcp_stateless: bool = False  # `--mcp-stateless` (implied by `--workers` above 1)
    control_host: str = "127.0.0.1"  # `--control HOST:PORT`
    trace_sampling: float | None = None  # `--trace-sampling`: None keeps the spec's ratio
    header_timeout: float = 10.0  # `--header-timeout`: seconds a request's headers may take
    body_timeout: float = 30.0  # `--body-timeout`: seconds its body may take after them
    mcp_session_idle: float = 300.0  # `--mcp-session-idle`: seconds before a session closes
    mcp_sessions_per_client: int = 64  # `--mcp-sessions-per-client`: open sessions per peer
    max_header_bytes: int = 64 * 1024  # `--max-header-size`
    max_file_bytes: int = 10 * 1024 * 1024  # `--max-file-size`: a served file, a skill download
    policy_file: str | None = None  # `--policies`: the operator's traffic policies, reloaded

    @property
    def grace_seconds(self) -> float:
        """By default a request already running may take its whole `--timeout` to finish."""
        return self.grace if self.grace is not None else max(self.timeouts.total, 5.0)


class Precompiled:
    """Operations compiled while a detached load still sends the model (`serve`): each
    capability's REST operations and MCP tools as it arrives, while this process would wait.
    `compile_runtime` takes them instead of compiling again, with the client pool, redactor
    and script engines they were compiled with. Only where nothing in the rest of the spec
    changes how an operation compiles: no control plane (its metrics, tracing and script
    settings reach every call), no tracing from the environment, the same options and
    environment (a simulator replaces both)."""

    def __init__(self, environ: Mapping[str, str], options: ServeOptions) -> None:
        self.environ, self.options = environ, options
        self.usable = (
            options.control_port is None
            and not _tracing_on(False, options, environ)
            and options.policy_file is None  # policies wrap the clients operations are given
        )
        self.redactor = Redactor()
        self.clients = UpstreamClients(options.http_client, options.timeouts)
        self.scripts = ScriptEngines(options.scripting)
        self.factories: dict[str, Any] = {}
        self.variables: dict[str, dict[str, Any]] = {}  # each file's, as its operations saw
        self._added: list[Capability] = []
        self._done: dict[tuple[int, tuple[str, ...]], tuple[AnyInvocation, Operation]] = {}

    def add(self, capability: Capability) -> None:
        """Compile one capability's operations (what fails is left to compile_runtime, which
        reports it where it was declared)."""
        self._added.append(capability)
        if capability.control:
            self.usable = False
        if not self.usable:
            return
        scope = resolve_bindings([capability], self.environ)[capability.file]
        self.variables[capability.file] = scope
        self.redactor.add(scope.values(), credential=False)
        self.redactor.add(request_secrets(capability, scope))
        calls = self.factories.setdefault(
            capability.file, _call_factory(self.clients, scope, self.options, self.redactor)
        )
        for rest in capability.rest:
            for op in rest.operations:
                self._compile(op.invocation, calls, scope, ("rest", rest.namespace))
        for mcp in capability.mcp:
            for tool in mcp.tools:
                self._compile(tool.invocation, calls, scope, ("tools", mcp.namespace))

    def _compile(
        self,
        invocation: AnyInvocation,
        calls: Any,
        scope: Mapping[str, Any],
        aliases: tuple[str, ...],
    ) -> None:
        try:
            done = compile_operation(invocation, calls, scope, aliases, self.scripts.runner)
        except Exception:  # noqa: BLE001 - compiled again, and reported, by compile_runtime
            return
        self._done[(id(invocation), aliases)] = (invocation, done)

    def fits(
        self,
        capabilities: Sequence[Capability],
        environ: Mapping[str, str],
        options: ServeOptions,
        upstream: Any,
        state: Any,
        tracing: Any,
    ) -> bool:
        return (
            self.usable
            # the very capabilities compiled: not a model loaded again after a loader died
            and len(capabilities) == len(self._added)
            and all(a is b for a, b in zip(capabilities, self._added, strict=True))
            and environ is self.environ
            and options is self.options
            and upstream is None
            and state is None
            and tracing is _NOT_BUILT
            and not any(c.control for c in capabilities)
        )

    def take(self, invocation: AnyInvocation, aliases: tuple[str, ...]) -> Operation | None:
        """The operation compiled for this very invocation object, once."""
        entry = self._done.pop((id(invocation), aliases), None)
        return entry[1] if entry is not None and entry[0] is invocation else None


def _call_factory(
    clients: UpstreamClients, scope: Mapping[str, Any], options: ServeOptions, redactor: Redactor
) -> Any:
    """One capability file's upstream calls: its bound values, each namespace's pooled client
    and base URL (`--upstream` first, then `*`)."""

    def base_for(namespace: str) -> str | None:
        return options.upstreams.get(namespace) or options.upstreams.get("*")

    return http_call_factory(clients.for_namespace, scope, base_for, redactor.add)


def _hands_to_aiohttp(capabilities: Sequence[Capability]) -> bool:
    """Whether the default client will hand requests to aiohttp's: digest auth, or a forward
    (a client's body streamed on)."""
    operations = (op for capability in capabilities for op in capability.operations)
    return any(adapter.forwards for c in capabilities for adapter in c.rest) or any(
        op.auth is not None and op.auth.type == "digest" for op in operations
    )


class Swappable:
    """An ASGI app whose target can be replaced while serving (live reload): a REST app, or
    a skill catalogue."""

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


_NOT_BUILT: Any = object()


def compile_runtime(
    capabilities: Sequence[Capability],
    environ: Mapping[str, str],
    options: ServeOptions,
    upstream: Upstream | UpstreamClients | None = None,
    state: ControlState | None = None,
    tracing: Any = _NOT_BUILT,
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
    variables = resolve_bindings(capabilities, environ)
    if precompiled is not None:  # one read of each file's secrets for all that uses them
        variables.update(precompiled.variables)
    redactor = precompiled.redactor if precompiled is not None else Redactor()
    # every bound value leaves logs and errors; only credentials leave pass-through bodies
    redactor.add((v for scope in variables.values() for v in scope.values()), credential=False)
    for capability in capabilities:  # and what the spec sends upstream leaves bodies too
        redactor.add(request_secrets(capability, variables.get(capability.file, {})))
    controls = [(c, a) for c in capabilities for a in c.control]
    if state is None and (controls or options.control_port is not None):
        state = ControlState(Metrics())
    metrics = state.metrics if state is not None else None
    tracing_given = tracing is not _NOT_BUILT
    if not tracing_given:
        tracing = _tracing(controls, options, environ, variables)
    if precompiled is not None:
        clients = precompiled.clients
    elif isinstance(upstream, UpstreamClients):
        clients = upstream
    else:
        clients = UpstreamClients(
            options.http_client, options.timeouts, shared=upstream, metrics=metrics,
            tracing=tracing, policies=_policy_engine(policies, options, metrics, tracing),
        )  # fmt: skip
    # the process's policy engine (built once, kept by reloads), when policies are served
    engine = clients.policies if policies is not None else None
    for _, control in controls[:1]:  # the spec's script settings (one control adapter)
        for key, value in control.scripting or ():
            _apply_script_setting(options, key, value)

    if (
        options.http_client != "aiohttp"
        and _hands_to_aiohttp(capabilities)
        and missing_extra("aiohttp") is None
    ):
        # now, not on the event loop when the first such request comes (~0.15 s)
        import naftiko_runtime.upstream.aiohttp_client  # noqa: F401

    factories: dict[str, Any] = precompiled.factories if precompiled is not None else {}
    scripts = precompiled.scripts if precompiled is not None else ScriptEngines(options.scripting)

    def calls_for(capability: Capability) -> Any:
        if capability.file not in factories:
            factories[capability.file] = _call_factory(
                clients, variables[capability.file], options, redactor
            )
        return factories[capability.file]

    def compiled(
        capability: Capability,
        invocation: AnyInvocation,
        aliases: tuple[str, ...],
    ) -> Operation:
        if precompiled is not None:
            done = precompiled.take(invocation, aliases)
            if done is not None:
                return done
        calls = calls_for(capability)
        return compile_operation(
            invocation, calls, variables[capability.file], aliases, scripts.runner
        )

    rest_ops: dict[int, list[RestEndpoint]] = {}
    forwards: dict[int, list[ForwardEndpoint]] = {}
    hosts: dict[int, str] = {}
    titles: dict[int, list[Capability]] = {}
    for capability in capabilities:
        for adapter in capability.rest:
            port = options.port_map.get(adapter.port, adapter.port)
            hosts.setdefault(port, options.host or _host(adapter.address))
            titles.setdefault(port, []).append(capability)
            guard = build_guard(
                adapter.auth, variables[capability.file], f"{capability.file}: {adapter.namespace}"
            )
            if guard is not None:
                redactor.add(guard.secrets)
            for route in adapter.forwards:
                base = options.upstreams.get(route.namespace) or options.upstreams.get("*")
                forwarder = Forwarder(
                    route, clients.for_namespace(route.namespace), variables[capability.file], base
                )
                redactor.add(forwarder.auth.secrets)
                forwards.setdefault(port, []).append(ForwardEndpoint(forwarder, guard))
            for op in adapter.operations:
                invocation = op.invocation
                streams = isinstance(invocation, Invocation) and invocation.operation.event_stream
                limit = engine.route_limits(policies, op.method, op.path) if engine else None
                rest_ops.setdefault(port, []).append(
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
    rest_apps: dict[int, Swappable] = {}
    if state is not None:
        state.capabilities = [
            {"file": c.file, "label": c.label, "specVersion": c.version} for c in capabilities
        ]
    for capability, control in controls[:1]:
        port = options.port_map.get(control.port, control.port)
        hosts.setdefault(port, options.host or _host(control.address))
        guard = build_guard(control.auth, variables[capability.file], f"{capability.file}: control")
        if guard is not None:
            redactor.add(guard.secrets)
        assert state is not None
        scripting = options.scripting if control.scripting is not None else None
        traces = tracing.buffer if tracing is not None else None
        rest_apps[port] = Swappable(
            ControlApp(
                state, scripting, guard, control.info, control.health, control.metrics, traces
            )
        )
    if options.control_port is not None and not controls:
        assert state is not None
        hosts.setdefault(options.control_port, options.control_host)
        traces = tracing.buffer if tracing is not None else None
        rest_apps[options.control_port] = Swappable(ControlApp(state, None, traces=traces))
    for capability in capabilities:
        for skill_adapter in capability.skill:
            port = options.port_map.get(skill_adapter.port, skill_adapter.port)
            hosts.setdefault(port, options.host or _host(skill_adapter.address))
            guard = build_guard(
                skill_adapter.auth,
                variables[capability.file],
                f"{capability.file}: {skill_adapter.namespace}",
            )
            if guard is not None:
                redactor.add(guard.secrets)
            rest_apps[port] = Swappable(SkillApp(skill_adapter, guard, options.max_file_bytes))
    for port in set(rest_ops) | set(forwards):
        endpoints = rest_ops.setdefault(port, [])
        caps = titles[port]
        title = " + ".join(c.label or c.file for c in caps)
        description = "\n\n".join(c.description or "" for c in caps)
        rest_apps[port] = Swappable(
            build_rest_app(
                endpoints,
                redactor,
                build_openapi(title, description, endpoints),
                forwards.get(port, ()),
                metrics,
                tracing,
            )
        )

    def mcp_guard(capability: Capability, adapter: McpAdapter) -> Guard | None:
        guard = build_guard(
            adapter.auth, variables[capability.file], f"{capability.file}: {adapter.namespace}"
        )
        if guard is not None:
            redactor.add(guard.secrets)
        return guard

    tool_limits = engine.tool_limits(policies) if engine else None
    mcp_servers, stdio_servers = _compile_mcp(
        capabilities, options, compiled, hosts, redactor, mcp_guard, tool_limits
    )
    if state is not None:
        state.adapters = [
            {"type": kind, "namespace": namespace, "port": port}
            for kind, namespace, port in _adapter_summary(capabilities, options)
        ]
        for server in mcp_servers.values():
            server.server_set.metrics = metrics
    for server in mcp_servers.values():
        server.server_set.tracing = tracing
    if not tracing_given and tracing is not None:
        tracing.redact = redactor  # the first compile's: reloads add their secrets to it
    return Runtime(
        rest_apps,
        rest_ops,
        mcp_servers,
        stdio_servers,
        clients,
        redactor,
        hosts,
        state,
        tracing,
        policies,
    )


def _policy_engine(
    policies: PolicySet | None, options: ServeOptions, metrics: Metrics | None, tracing: Any
) -> Any:
    """The policies' engine for `--policies`; None (and nothing imported) without."""
    if policies is None:
        return None
    from naftiko_runtime.policies.engine import PolicyEngine

    return PolicyEngine(policies, options.timeouts, metrics, tracing)


def _tracing_on(has_control: bool, options: ServeOptions, environ: Mapping[str, str]) -> bool:
    """Tracing runs with a control plane (its /traces) or the OTel variables, unless
    `--trace-sampling 0` (nothing wrapped, nothing paid)."""
    if options.trace_sampling == 0:
        return False
    return has_control or any(environ.get(name) for name in ENDPOINT_VARIABLES)


def _tracing(
    controls: Sequence[tuple[Capability, Any]],
    options: ServeOptions,
    environ: Mapping[str, str],
    variables: Mapping[str, Mapping[str, str]],
) -> Any:
    """The process's tracing (None when off): the spec's control adapter says, else
    `--control` (its /traces), else the OTel variables. The SDK is imported only then."""
    from naftiko_runtime.capability.model import TracingSpec

    spec = controls[0][1].tracing if controls else None
    has_control = bool(controls)
    if not controls and options.control_port is not None:
        spec, has_control = TracingSpec(), True
    if not _tracing_on(has_control, options, environ):
        return None
    if missing_extra("tracing") is not None:
        # tracing the spec configures is refused by `extra-missing`; this is the default one
        log.warning(
            "tracing is off: OpenTelemetry is not installed (%s); health, status and "
            "metrics are served",
            install_hint("otel"),
        )
        return None
    if options.trace_sampling is not None:  # `--trace-sampling`: the flag wins over the spec
        spec = replace(spec or TracingSpec(), sampling=options.trace_sampling)
    from naftiko_runtime.observability.tracing import activate, build_tracing

    scope = variables[controls[0][0].file] if controls else {}
    tracing = build_tracing(spec, has_control, environ, scope)
    activate(tracing)
    return tracing


def _adapter_summary(
    capabilities: Sequence[Capability], options: ServeOptions
) -> list[tuple[str, str | None, int | None]]:
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


_SCRIPT_KEYS = {
    "enabled": "enabled",
    "defaultLocation": "default_location",
    "defaultLanguage": "default_language",
    "timeout": "timeout_ms",
    "statementLimit": "statement_limit",
}


def _apply_script_setting(options: ServeOptions, key: str, value: Any) -> None:
    if key in _SCRIPT_KEYS:
        setattr(options.scripting, _SCRIPT_KEYS[key], value)
    elif key == "allowedLanguages" and isinstance(value, list):
        options.scripting.allowed_languages = tuple(str(v) for v in value)


def _compile_mcp(
    capabilities: Sequence[Capability],
    options: ServeOptions,
    compiled: Any,
    hosts: dict[int, str],
    redactor: Redactor,
    guard_for: Callable[[Capability, McpAdapter], Guard | None],
    tool_limits: dict[str, Any] | None = None,
) -> tuple[dict[int, McpHttpServer], list[McpServerSet]]:
    if not any(c.mcp for c in capabilities):
        return {}, []  # the MCP SDK is only imported when some spec exposes MCP (start-up, RSS)
    from naftiko_runtime.adapters.mcp.server import build_mcp_servers

    return build_mcp_servers(
        capabilities, options, compiled, hosts, redactor, guard_for, tool_limits
    )


def _host(address: str) -> str:
    return "127.0.0.1" if address in ("localhost",) else address


@dataclass
class Reloader:
    """Re-validate and recompile the specs; swap them in only when everything is valid.

    A bad reload (invalid spec, missing secret, changed ports) is logged with the same
    diagnostics as `validate` and the previous configuration keeps serving.
    """

    paths: Sequence[str]
    environ: Callable[[], Mapping[str, str]]
    options: ServeOptions
    runtime: Runtime

    def _record(self, ok: bool, diagnostics: list[str]) -> None:
        if self.runtime.state is not None:
            self.runtime.state.reloaded(ok, diagnostics)

    def reload(self) -> bool:
        """Load, check and compile, then swap in (all on the calling thread)."""
        prepared = self.prepare()
        return prepared is not None and self.apply(*prepared)

    def prepare(self) -> tuple[Runtime, list[str]] | None:
        """Load, check and compile the specs again: safe to run in a worker thread, so a
        large reload never stalls requests (only `apply` touches what is serving)."""
        from naftiko_runtime.capability.load import UsageError, load_paths
        from naftiko_runtime.errors import BindingError, StartupError
        from naftiko_runtime.report import render_text

        keep = "still serving the previous configuration"
        try:
            result = load_paths(self.paths)
        except UsageError as exc:
            log.error("reload rejected: %s; %s", exc, keep)
            return None
        if not result.ok:
            report = render_text(result.diagnostics, result.files, result.documents)
            log.error("reload rejected (%d errors); %s:\n%s", len(result.errors), keep, report)
            self._record(False, report.splitlines())
            return None
        go_on, policies = self._policies(result.capabilities)
        if not go_on:
            return None
        try:
            new = compile_runtime(
                result.capabilities,
                self.environ(),
                self.options,
                upstream=self.runtime.upstream,
                state=self.runtime.state,
                tracing=self.runtime.tracing,
                policies=policies,
            )
        except (BindingError, StartupError) as exc:
            log.error("reload rejected: %s; %s", exc, keep)
            self._record(False, [str(exc)])
            return None
        for source_map in result.source_maps():
            source_map.release()
        return new, list(result.files)

    def _policies(self, capabilities: Sequence[Capability]) -> tuple[bool, PolicySet | None]:
        """(whether the reload may go on, the policy file read again against the new
        capabilities); a bad policy file rejects the reload like a bad spec."""
        if self.options.policy_file is None:
            return True, None
        from pathlib import Path

        from naftiko_runtime.policies.load import load_policies
        from naftiko_runtime.report import render_text

        policies, problems, doc = load_policies(Path(self.options.policy_file), capabilities)
        if policies is None:
            report = render_text(problems, [self.options.policy_file], [doc] if doc else [])
            log.error(
                "reload rejected: the policy file is invalid; still serving the previous "
                "configuration:\n%s",
                report,
            )
            self._record(False, report.splitlines())
            return False, None
        return True, policies

    def apply(self, new: Runtime, files: Sequence[str]) -> bool:
        """Swap a prepared configuration in (on the event loop: one step, no await)."""
        keep = "still serving the previous configuration"
        old_ports = (sorted(self.runtime.rest_apps), sorted(self.runtime.mcp_servers))
        new_ports = (sorted(new.rest_apps), sorted(new.mcp_servers))
        if old_ports != new_ports:
            log.error(
                "reload rejected: ports would change from %s to %s (restart for that); %s",
                old_ports,
                new_ports,
                keep,
            )
            return False
        for port, app in new.rest_apps.items():
            self.runtime.rest_apps[port].current = app.current
        self.runtime.rest_ops = new.rest_ops
        for port, server in new.mcp_servers.items():
            self.runtime.mcp_servers[port].server_set.replace_from(server.server_set)
            self.runtime.mcp_servers[port].guard = server.guard
        engine = self.runtime.upstream.policies
        if new.policies is not None and engine is not None:
            engine.apply(new.policies)
            self.runtime.policies = new.policies
        self.runtime.redactor.add(new.redactor.secrets, credential=False)
        self.runtime.redactor.add(new.redactor.bodies.secrets)
        self._record(True, [])
        operations = sum(len(ops) for ops in new.rest_ops.values())
        tools = sum(server.tool_count for server in self.runtime.mcp_servers.values())
        log.info(
            "reloaded %s: %d REST operations, %d MCP tools",
            ", ".join(files),
            operations,
            tools,
        )
        return True
