"""Orchestration: an operation's steps compiled into a small DAG and run per request.

Each step knows at compile time which names it reads, so a step depends only on the earlier
steps it reads from. Steps with no dependency between them run concurrently (bounded per
request); each sees exactly what it would have seen run in sequence, so the result is the
reference engine's, only sooner. Outputs are stored under the step name, for `$.step.field`
paths and `{{step.field}}` templates alike (the reference hides lookup outputs from
templates; nothing depends on that).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from naftiko_runtime.engine.lookup import lookup
from naftiko_runtime.engine.request import HttpCall
from naftiko_runtime.engine.response import decode_async, failed, status_error
from naftiko_runtime.engine.values import Value
from naftiko_runtime.errors import InvocationError, UpstreamError
from naftiko_runtime.model import OutputField
from naftiko_runtime.observability import current
from naftiko_runtime.text.jsonpath import compile_path, path_root, step_path, template_roots
from naftiko_runtime.text.placeholders import norm
from naftiko_runtime.text.templating import Template
from naftiko_runtime.upstream.base import UpstreamReply
from naftiko_runtime.upstream.errors import read_stream

MAX_PARALLEL_STEPS = 8
"""Steps of one request in flight at once."""
MAX_STEP_BODY = 16 * 1024 * 1024
"""A streamed reply a step reads in full is refused past this (as `--max-upstream-body`)."""


@dataclass
class RunState:
    """One request's run: `params` (inputs and the unit-level `with`) and `outputs` (every
    step's result by step name; a step sees those of the steps it reads)."""

    params: dict[str, Any]
    variables: Mapping[str, str]
    outputs: dict[str, Any] = field(default_factory=dict)
    replies: dict[str, UpstreamReply] = field(default_factory=dict)


def project_output(fields: Sequence[OutputField]) -> Callable[[Any], Any]:
    """What a call step stores, from the consumed operation's output parameters: arrays keep
    their elements and gain the named fields; an object becomes the named fields only."""
    if not fields:
        return lambda document: document
    extractors = [(f.name, compile_path(f.value)) for f in fields]

    def shape(document: Any) -> Any:
        if isinstance(document, list):
            out = []
            for element in document:
                entry = dict(element) if isinstance(element, dict) else {}
                for name, extract in extractors:
                    entry[name] = extract(element)
                out.append(entry)
            return out
        return {name: extract(document) for name, extract in extractors}

    return shape


class CallStepRunner:
    """A `call` step: its own `with` (seen by this step only), one request, a projection."""

    def __init__(
        self,
        name: str,
        call: HttpCall,
        arguments: tuple[tuple[str, str, Value], ...],
        reads: set[str],
        project: Callable[[Any], Any],
    ) -> None:
        self.name = name
        self.call = call
        self._arguments = arguments
        self.reads = reads
        self.deps: tuple[str, ...] = ()
        self._project = project
        self._format = call.operation.output_format

    async def run(self, params: dict[str, Any], state: RunState) -> Any:
        local = params  # a private copy (see _params_for); inputs under both spellings
        if self._arguments:
            with_scope = {**state.variables, **local}
            for key, normalised, value in self._arguments:
                resolved = value(local, with_scope)
                if resolved is not None:
                    local[key] = local[normalised] = resolved
                    with_scope[key] = resolved
        scope = {**state.variables, **local} if self.call.needs_scope else None
        try:
            request = self.call.request(local, scope)
        except InvocationError as exc:
            raise InvocationError(f"step '{self.name}': {exc.message}", exc.problems) from None
        try:
            reply = await self.call.send(request)
        except UpstreamError as exc:
            exc.message = f"step '{self.name}': {exc.message}"
            raise
        if reply.stream is not None:  # a step needs the whole document, within the cap
            reply.body = await read_stream(reply.stream, request, MAX_STEP_BODY)
            reply.stream = None
        if failed(reply.status):
            error = status_error(reply, self.call.name)
            error.message = f"step '{self.name}': {error.message}"
            raise error
        state.replies[self.name] = reply
        schema = self.call.operation.output_schema
        document = await decode_async(reply, self._format, self.call.name, schema)
        return self._project(document) if document is not None else None


class LookupStepRunner:
    """A `lookup` step: entries of `index` whose `match` field equals the looked-up value."""

    def __init__(
        self,
        name: str,
        index: str,
        match: str,
        value: str,
        fields: tuple[str, ...],
    ) -> None:
        self.name = name
        # `$.step.items` (dialect): a list inside an earlier step's output (an envelope:
        # Stripe's `data`, Spotify's `items`); else the step's whole output
        self._index_path = step_path(index) if index.startswith("$") else None
        self.index = path_root(index) or index
        self.match = match
        self.fields = fields
        self._path = step_path(value)
        self._template = Template(value)
        self.reads = {self.index} | template_roots(self._template.variables)
        root = path_root(value)
        if root:
            self.reads.add(root)
        self.deps: tuple[str, ...] = ()

    async def run(self, params: dict[str, Any], state: RunState) -> Any:
        if self.index not in state.outputs:
            raise InvocationError(
                f"step '{self.name}': lookup index step '{self.index}' has no output",
                [{"name": self.name, "problem": f"no output from step '{self.index}'"}],
            )
        index = state.outputs[self.index]
        if self._index_path is not None:
            index = self._index_path(state.outputs)
        value = self._path(state.outputs) if self._path is not None else None
        if value is None:
            value = self._template.render({**state.variables, **params})
        return lookup(index, self.match, value, self.fields)


class ScriptRunner(Protocol):
    async def __call__(self, context: dict[str, Any]) -> Any: ...


class ScriptStepRunner:
    """A `script` step: the sandbox gets `context` (inputs, every earlier output, `with`)."""

    def __init__(
        self,
        name: str,
        script: ScriptRunner,
        arguments: tuple[tuple[str, str, Value], ...],
    ) -> None:
        self.name = name
        self._script = script
        self._arguments = arguments
        self.reads: set[str] = set()
        self.deps: tuple[str, ...] = ()

    async def run(self, params: dict[str, Any], state: RunState) -> Any:
        context: dict[str, Any] = dict(params)
        # every earlier step's output (its deps are all the earlier steps), none after it
        context.update({name: state.outputs[name] for name in self.deps if name in state.outputs})
        for key, _normalised, value in self._arguments:
            resolved = value(context, {**state.variables, **context})
            if resolved is not None:
                context[key] = resolved
        return await self._script(context)


Runner = CallStepRunner | LookupStepRunner | ScriptStepRunner


def plan_stages(steps: Sequence[Runner]) -> tuple[tuple[Runner, ...], ...]:
    """Wire each step to the earlier steps it reads (scripts read all of them) and group
    them into stages: a stage needs only what earlier stages produced."""
    level: dict[str, int] = {}
    earlier: list[Runner] = []
    for step in steps:
        if isinstance(step, ScriptStepRunner):
            deps = [s.name for s in earlier]
        else:
            wanted = step.reads | {norm(r) for r in step.reads}
            deps = [s.name for s in earlier if s.name in wanted or norm(s.name) in wanted]
        step.deps = tuple(deps)
        level[step.name] = 1 + max((level[d] for d in deps), default=-1)
        earlier.append(step)
    stages: dict[int, list[Runner]] = {}
    for step in steps:
        stages.setdefault(level[step.name], []).append(step)
    return tuple(tuple(stages[k]) for k in sorted(stages))


async def run_stages(
    stages: tuple[tuple[Runner, ...], ...], state: RunState, limit: int = MAX_PARALLEL_STEPS
) -> None:
    """Run every stage; a failing step ends the run at once and its running siblings are
    cancelled. A stage of one step runs in this task (no task to create)."""
    for stage in stages:
        for start in range(0, len(stage), limit):
            batch = stage[start : start + limit]
            if len(batch) == 1:
                step = batch[0]
                _store(step, await _run(step, state), state)
                continue
            tasks = [asyncio.ensure_future(_run(step, state)) for step in batch]
            try:
                results = await asyncio.gather(*tasks)  # the first failure is raised at once
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            for step, value in zip(batch, results, strict=True):
                _store(step, value, state)


async def _run(step: Runner, state: RunState) -> Any:
    if current.ACTIVE is None:
        return await step.run(_params_for(step, state), state)
    kind = type(step).__name__.removesuffix("StepRunner").lower()
    attributes = {"naftiko.step.name": step.name}
    if isinstance(step, CallStepRunner):
        attributes["naftiko.step.call"] = step.call.name
    elif isinstance(step, LookupStepRunner):
        attributes["naftiko.step.match"] = step.match
    with current.step_span(kind, attributes):
        return await step.run(_params_for(step, state), state)


def _params_for(step: Runner, state: RunState) -> dict[str, Any]:
    """The base params plus the outputs of the steps this one reads (as in sequence)."""
    params = dict(state.params)
    for dep in step.deps:
        if dep in state.outputs:
            params[dep] = state.outputs[dep]
            params[norm(dep)] = state.outputs[dep]
    return params


def _store(step: Runner, result: Any, state: RunState) -> None:
    if result is None:
        return
    state.outputs[step.name] = result
