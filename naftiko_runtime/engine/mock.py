"""Operations that answer from the spec alone: mock outputs rendered from the caller's inputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from naftiko_runtime.engine.coercion import MOCKS, InputSpec, coerce_all
from naftiko_runtime.engine.inputs import compile_inputs, named_scope
from naftiko_runtime.engine.mapping import Shaper, compile_result
from naftiko_runtime.engine.result import CallResult
from naftiko_runtime.model import Input, StaticInvocation
from naftiko_runtime.text.templating import Template


@dataclass
class StaticOperation:
    """A mock tool or operation: no upstream, the result is the spec's outputs."""

    inputs: tuple[Input, ...]
    label: str
    summary: str | None
    _inputs: tuple[InputSpec, ...]
    _outputs: tuple[tuple[str, Template, Callable[[Any], Any] | None], ...]
    _shape: Shaper | None = None
    _mapped: bool = False

    @property
    def name(self) -> str:
        return self.label

    @property
    def description(self) -> str | None:
        return self.summary

    async def __call__(self, inputs: Mapping[str, Any]) -> CallResult:
        values = coerce_all(self._inputs, inputs)
        scope = named_scope(self._inputs, values)
        if self._mapped:  # mapped outputs shape the operation's own inputs
            shaped = self._shape(scope) if self._shape is not None else scope
            return CallResult(200, "application/json", shaped=shaped)
        result: dict[str, Any] = {}
        for name, template, convert in self._outputs:
            text = template.render(scope)
            result[name] = convert(text) if convert is not None else text
        return CallResult(200, "application/json", shaped=result)


def compile_static(invocation: StaticInvocation, label: str) -> StaticOperation:
    """Compile a mock tool or operation (no upstream)."""
    outputs = tuple((o.name, Template(o.value), MOCKS.get(o.type)) for o in invocation.outputs)
    return StaticOperation(
        invocation.inputs,
        label,
        invocation.description,
        compile_inputs(invocation.inputs),
        outputs,
        compile_result(invocation.mapped, []) if invocation.mapped else None,
        bool(invocation.mapped),
    )
