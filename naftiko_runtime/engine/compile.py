"""Model → compiled operations: each exposed operation or tool becomes a small step graph
(a single `call` is the one-node graph), built once at start-up and called per request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from naftiko_runtime.engine.call import CallOperation
from naftiko_runtime.engine.credentials import compile_auth
from naftiko_runtime.engine.inputs import compile_inputs
from naftiko_runtime.engine.mapping import compile_result
from naftiko_runtime.engine.mock import compile_static
from naftiko_runtime.engine.orchestration import (
    OrchestratedOperation,
    compile_conform,
    compile_mappings,
)
from naftiko_runtime.engine.request import HttpCall, compile_args
from naftiko_runtime.engine.result import Operation
from naftiko_runtime.engine.steps import (
    CallStepRunner,
    LookupStepRunner,
    Runner,
    ScriptRunner,
    ScriptStepRunner,
    plan_stages,
    project_output,
)
from naftiko_runtime.engine.values import Value, compile_value
from naftiko_runtime.model import (
    AnyInvocation,
    Argument,
    CallStep,
    ConsumedOperation,
    Invocation,
    LookupStep,
    Orchestration,
    ScriptStep,
    StaticInvocation,
)
from naftiko_runtime.text.jsonpath import path_root, template_roots
from naftiko_runtime.text.placeholders import norm, path_variables
from naftiko_runtime.text.templating import Template
from naftiko_runtime.upstream.base import Upstream

CallFactory = Callable[[ConsumedOperation], HttpCall]
ScriptFactory = Callable[[ScriptStep], ScriptRunner]


def http_call_factory(
    upstream_for: Callable[[str], Upstream],
    variables: Mapping[str, str],
    base_for: Callable[[str], str | None],
    on_secrets: Callable[[list[str]], None] = lambda secrets: None,
) -> CallFactory:
    """Build (and share) one HttpCall per consumed operation of a capability; every secret
    its auth derives is handed to `on_secrets` (the redactor)."""
    cache: dict[str, HttpCall] = {}

    def make(operation: ConsumedOperation) -> HttpCall:
        call = cache.get(operation.target)
        if call is None:
            base = Template(base_for(operation.namespace) or operation.base_uri).render(variables)
            auth = compile_auth(operation.auth, variables)
            on_secrets(auth.secrets)
            call = HttpCall(operation, upstream_for(operation.namespace), base, auth)
            cache[operation.target] = call
        return call

    return make


def compile_operation(
    invocation: AnyInvocation,
    calls: CallFactory,
    variables: Mapping[str, str],
    aliases: tuple[str, ...],
    scripts: ScriptFactory | None = None,
    label: str | None = None,
) -> Operation:
    """One exposed operation or tool, however it produces its result."""
    if isinstance(invocation, StaticInvocation):
        return compile_static(invocation, label or invocation.description or "static")
    if isinstance(invocation, Invocation):
        return CallOperation(
            label,
            None,
            invocation.inputs,
            compile_inputs(invocation.inputs),
            calls(invocation.operation),
            compile_args(invocation.arguments),
            compile_result(invocation.outputs, invocation.operation.outputs),
            variables,
            aliases,
        )
    return compile_orchestration(invocation, calls, variables, scripts, label)


def _args(
    arguments: tuple[Argument, ...], steps: frozenset[str]
) -> tuple[tuple[str, str, Value], ...]:
    return tuple((a.key, norm(a.key), compile_value(a, steps)[0]) for a in arguments)


def _argument_reads(arguments: tuple[Argument, ...]) -> set[str]:
    reads: set[str] = set()
    for argument in arguments:
        if argument.reference is not None:
            reads.add(argument.reference)
        elif argument.template is not None:
            root = path_root(argument.template)
            if root is not None:
                reads.add(root)
            else:
                reads |= template_roots(Template(argument.template).variables)
    return reads


def _operation_reads(operation: ConsumedOperation) -> set[str]:
    """Every name a consumed operation's request reads from the step's params."""
    reads = {p.name for p in operation.params}
    reads.update(path_variables(operation.path))
    for param in operation.params:
        if param.value:
            reads |= template_roots(Template(param.value).variables)
    body = operation.body
    if body is not None:
        for text in _strings(body.data):
            reads |= template_roots(Template(text).variables)
    return reads


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def compile_orchestration(
    orchestration: Orchestration,
    calls: CallFactory,
    variables: Mapping[str, str],
    scripts: ScriptFactory | None,
    label: str | None,
) -> OrchestratedOperation:
    names = frozenset(step.name for step in orchestration.steps)
    runners: list[Runner] = []
    for step in orchestration.steps:
        if isinstance(step, CallStep):
            runners.append(
                CallStepRunner(
                    step.name,
                    calls(step.operation),
                    _args(step.arguments, names),
                    _argument_reads(step.arguments) | _operation_reads(step.operation),
                    project_output(step.operation.outputs),
                )
            )
        elif isinstance(step, LookupStep):
            runners.append(
                LookupStepRunner(step.name, step.index, step.match, step.lookup_value, step.fields)
            )
        else:
            if scripts is None:
                raise ValueError(f"script step '{step.name}' needs a script runner")
            runners.append(ScriptStepRunner(step.name, scripts(step), _args(step.arguments, names)))
    stages = plan_stages(runners)
    return OrchestratedOperation(
        label or orchestration.label,
        orchestration.description,
        orchestration.inputs,
        compile_inputs(orchestration.inputs),
        _args(orchestration.arguments, frozenset()),
        tuple(runners),
        stages,
        compile_mappings(orchestration.mappings),
        compile_conform(orchestration.outputs),
        compile_result(orchestration.mapped, []),
        variables,
    )
