"""Output shaping compiled once: consumed `outputParameters` and exposed mapped outputs.

`compile_result` returns None when the result is the upstream body unchanged (`$.` mappings,
as in the Letta specs), so the runtime can forward the upstream bytes without re-encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from naftiko_runtime.jsonpath import compile_path
from naftiko_runtime.spec.model import MappedOutput, OutputField

Shaper = Callable[[Any], Any]
_ROOT = ("$", "$.")


def compile_result(
    mapped: Sequence[MappedOutput], consumed: Sequence[OutputField]
) -> Shaper | None:
    """The function body → response data, or None for identity."""
    if mapped:
        shapers = [_compile_mapped(output) for output in mapped]
        if len(shapers) == 1:
            return shapers[0]
        functions = [s or _identity for s in shapers]
        return lambda document: [f(document) for f in functions]
    return _compile_consumed(consumed)


def _identity(document: Any) -> Any:
    return document


def _compile_consumed(fields: Sequence[OutputField]) -> Shaper | None:
    if not fields or (len(fields) == 1 and fields[0].value.strip() in _ROOT):
        return None
    extractors = [(f.name, compile_path(f.value)) for f in fields]
    return lambda document: {name: extract(document) for name, extract in extractors}


def _compile_mapped(output: MappedOutput) -> Shaper | None:
    """None means identity at this level."""
    base = None
    if output.mapping is not None and output.mapping.strip() not in _ROOT:
        base = compile_path(output.mapping)
    if output.type == "object":
        if not output.properties:
            if output.const is not None:
                return _constant(output.const)
            return base
        children = [
            (name, _compile_mapped(child) or _identity) for name, child in output.properties
        ]

        def shape_object(document: Any) -> Any:
            node = base(document) if base else document
            if node is None:
                return None
            return {name: child(node) for name, child in children}

        return shape_object
    if output.type == "array":
        if output.items is None:
            return base
        item = _compile_mapped(output.items) or _identity

        def shape_array(document: Any) -> Any:
            node = base(document) if base else document
            if not isinstance(node, list):
                return None if node is None else [item(node)]
            return [item(element) for element in node]

        return shape_array
    if output.const is not None:
        return _constant(output.const)
    if output.value is not None and output.mapping is None:
        return _constant(output.value)
    return base or _identity


def _constant(value: Any) -> Shaper:
    return lambda _document: value
