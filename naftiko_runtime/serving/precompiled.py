"""Operations compiled while a detached load still sends the model (`serve`): the time this
process would otherwise spend waiting for the loader."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from naftiko_runtime.engine.compile import CallFactory, compile_operation
from naftiko_runtime.engine.credentials import request_secrets
from naftiko_runtime.engine.result import Operation
from naftiko_runtime.engine.scripting import ScriptEngines
from naftiko_runtime.model import AnyInvocation, Capability
from naftiko_runtime.secrets.bindings import Redactor, resolve_bindings
from naftiko_runtime.serving.operations import call_factory
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.tracing import NOT_BUILT, tracing_on
from naftiko_runtime.upstream.pool import UpstreamClients


class Precompiled:
    """Each capability's REST operations and MCP tools compiled as it arrives.
    `compile_runtime` takes them instead of compiling again, with the client pool, redactor
    and script engines they were compiled with. Only where nothing in the rest of the spec
    changes how an operation compiles: no control plane (its metrics, tracing and script
    settings reach every call), no tracing from the environment, the same options and
    environment (a simulator replaces both)."""

    def __init__(self, environ: Mapping[str, str], options: ServeOptions) -> None:
        self.environ, self.options = environ, options
        self.usable = (
            options.control_port is None
            and not tracing_on(False, options, environ)
            and options.policy_file is None  # policies wrap the clients operations are given
        )
        self.redactor = Redactor()
        self.clients = UpstreamClients(options.http_client, options.timeouts)
        self.scripts = ScriptEngines(options.scripting)
        self.factories: dict[str, CallFactory] = {}
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
            capability.file, call_factory(self.clients, scope, self.options, self.redactor)
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
        calls: CallFactory,
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
            and tracing is NOT_BUILT
            and not any(c.control for c in capabilities)
        )

    def take(self, invocation: AnyInvocation, aliases: tuple[str, ...]) -> Operation | None:
        """The operation compiled for this very invocation object, once."""
        entry = self._done.pop((id(invocation), aliases), None)
        return entry[1] if entry is not None and entry[0] is invocation else None
