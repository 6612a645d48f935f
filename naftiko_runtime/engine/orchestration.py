"""An exposed operation or tool built from steps: run the graph, then build the result.

The result is what `mappings` resolve (dotted targets nest); if none resolves, it is the last
call's response shaped by the exposed outputs, with that call's status, as in the reference.
Declared output types are then enforced (`"2"` declared number becomes `2`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from naftiko_runtime.engine.coercion import OUTPUTS, InputSpec, coerce_all
from naftiko_runtime.engine.inputs import named_scope
from naftiko_runtime.engine.mapping import Shaper
from naftiko_runtime.engine.response import decode_async
from naftiko_runtime.engine.result import CallResult
from naftiko_runtime.engine.steps import CallStepRunner, Runner, RunState, run_stages
from naftiko_runtime.engine.values import Value
from naftiko_runtime.model import Input, OrchestratedOutput, StepMapping
from naftiko_runtime.text.jsonpath import step_path

Conform = Callable[[Any], Any]


def compile_mappings(
    mappings: tuple[StepMapping, ...],
) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
    compiled = []
    for mapping in mappings:
        reader = step_path(mapping.value)
        if reader is not None:
            compiled.append((tuple(mapping.target.split(".")), reader))

    def build(outputs: Mapping[str, Any]) -> dict[str, Any] | None:
        """The mapped result: the targets that resolved, the others left out. Only with no
        mappings at all is it None (the last call's answer stands in): declared mappings
        that resolve to nothing give `{}`, never the upstream's undeclared fields."""
        result: dict[str, Any] = {}
        found = bool(compiled)
        for target, reader in compiled:
            value = reader(outputs)
            if value is None:
                continue
            node = result
            for key in target[:-1]:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = node[key] = {}
                node = child
            node[target[-1]] = value
        return result if found else None

    return build


def compile_conform(outputs: tuple[OrchestratedOutput, ...]) -> Conform | None:
    """Make a mapped result match its declared field types, where that loses nothing."""
    fields: list[tuple[str, Conform]] = []
    for output in outputs:
        conform = _conform_one(output)
        if conform is not None:
            fields.append((output.name, conform))
    if not fields:
        return None

    def apply(result: Any) -> Any:
        if not isinstance(result, dict):
            return result
        for name, conform in fields:
            if name in result:
                result[name] = conform(result[name])
        return result

    return apply


def _conform_one(output: OrchestratedOutput) -> Conform | None:
    if output.type in OUTPUTS:
        return OUTPUTS[output.type]
    if output.type == "object" and output.properties:
        return compile_conform(output.properties)
    if output.type == "array" and output.items:
        if len(output.items) == 1 and output.items[0].name == "item":
            each = _conform_one(output.items[0])
        else:
            each = compile_conform(output.items)
        if each is None:
            return None
        element = each

        def array(value: Any) -> Any:
            return [element(v) for v in value] if isinstance(value, list) else value

        return array
    return None


class OrchestratedOperation:
    """`await op(inputs)` runs the step graph of one exposed operation or tool."""

    def __init__(
        self,
        label: str,
        summary: str | None,
        inputs: tuple[Input, ...],
        specs: tuple[InputSpec, ...],
        arguments: tuple[tuple[str, str, Value], ...],
        steps: tuple[Runner, ...],
        stages: tuple[tuple[Runner, ...], ...],
        mappings: Callable[[Mapping[str, Any]], dict[str, Any] | None],
        conform: Conform | None,
        fallback_shape: Shaper | None,
        variables: Mapping[str, str],
    ) -> None:
        self.inputs = inputs
        self._label = label
        self._summary = summary
        self._specs = specs
        self._arguments = arguments
        self.steps = steps
        self.stages = stages
        self._mappings = mappings
        self._conform = conform
        self._fallback_shape = fallback_shape
        self._variables = dict(variables)
        calls = [s for s in steps if isinstance(s, CallStepRunner)]
        self._last_call = calls[-1] if calls else None
        self._last_step = steps[-1].name if steps else None

    @property
    def name(self) -> str:
        return self._label

    @property
    def description(self) -> str | None:
        return self._summary

    async def __call__(self, inputs: Mapping[str, Any]) -> CallResult:
        values = coerce_all(self._specs, inputs)
        params = named_scope(self._specs, values)
        for key, normalised, value in self._arguments:  # the unit-level `with`
            resolved = value(params, {**self._variables, **params})
            if resolved is not None:
                params[key] = resolved
                params[normalised] = resolved
        state = RunState(params, self._variables)
        await run_stages(self.stages, state)
        result = self._mappings(state.outputs)
        if result is not None:
            if self._conform is not None:
                result = self._conform(result)
            return CallResult(200, "application/json", shaped=result)
        last = self._last_call
        if last is not None and last.name in state.replies:
            reply = state.replies[last.name]
            operation = last.call.operation
            document = await decode_async(
                reply, operation.output_format, last.call.name, operation.output_schema
            )
            if self._fallback_shape is not None:
                document = self._fallback_shape(document)
            return CallResult(reply.status, "application/json", shaped=document)
        shaped = state.outputs.get(self._last_step) if self._last_step else None
        return CallResult(200, "application/json", shaped=shaped)
