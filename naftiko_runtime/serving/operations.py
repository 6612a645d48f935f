"""Exposed operations compiled for serving: each capability file's upstream calls (its bound
values, each namespace's pooled client and base URL), and each operation compiled once,
unless one compiled while the spec still loaded is handed over (`precompiled`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from naftiko_runtime.engine.compile import CallFactory, compile_operation, http_call_factory
from naftiko_runtime.engine.result import Operation
from naftiko_runtime.engine.scripting import ScriptEngines
from naftiko_runtime.model import AnyInvocation, Capability
from naftiko_runtime.secrets.bindings import Redactor
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.upstream.pool import UpstreamClients

Taken = Callable[[AnyInvocation, tuple[str, ...]], Operation | None]
"""An operation compiled earlier for this very invocation and aliases, or None."""


def call_factory(
    clients: UpstreamClients, scope: Mapping[str, Any], options: ServeOptions, redactor: Redactor
) -> CallFactory:
    """One capability file's upstream calls: its bound values, each namespace's pooled client
    and base URL (`--upstream` first, then `*`)."""

    def base_for(namespace: str) -> str | None:
        return options.upstreams.get(namespace) or options.upstreams.get("*")

    return http_call_factory(clients.for_namespace, scope, base_for, redactor.add)


class Operations:
    """Compiles the exposed operations of one runtime: one call factory per file, shared by
    all its operations; what `taken` hands over is not compiled again."""

    def __init__(
        self,
        clients: UpstreamClients,
        variables: Mapping[str, Mapping[str, Any]],
        options: ServeOptions,
        redactor: Redactor,
        scripts: ScriptEngines,
        factories: dict[str, CallFactory],
        taken: Taken | None = None,
    ) -> None:
        self.clients, self.variables, self.options = clients, variables, options
        self.redactor, self.scripts = redactor, scripts
        self.factories, self.taken = factories, taken

    def calls_for(self, capability: Capability) -> CallFactory:
        if capability.file not in self.factories:
            self.factories[capability.file] = call_factory(
                self.clients, self.variables[capability.file], self.options, self.redactor
            )
        return self.factories[capability.file]

    def __call__(
        self, capability: Capability, invocation: AnyInvocation, aliases: tuple[str, ...]
    ) -> Operation:
        if self.taken is not None:
            done = self.taken(invocation, aliases)
            if done is not None:
                return done
        return compile_operation(
            invocation,
            self.calls_for(capability),
            self.variables[capability.file],
            aliases,
            self.scripts.runner,
        )
