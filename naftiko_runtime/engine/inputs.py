"""Exposed inputs: compiled with their coercion (`engine/coercion.INPUTS`), and one JSON
Schema source.

REST and MCP accept the same inputs through the same specs, so a value that is valid for one
is valid for the other, and `/openapi.json` and MCP `inputSchema` say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from naftiko_runtime.engine.coercion import InputSpec, for_input
from naftiko_runtime.model import Input
from naftiko_runtime.text.placeholders import norm


def compile_inputs(inputs: Sequence[Input]) -> tuple[InputSpec, ...]:
    return tuple(
        InputSpec(i.name, norm(i.name), for_input(i.type), i.required, i.type) for i in inputs
    )


def named_scope(specs: tuple[InputSpec, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """Coerced inputs under both their normalised and their spelled names."""
    scope = dict(values)
    for spec in specs:
        if spec.key in values:
            scope[spec.name] = values[spec.key]
    return scope


def value_schema(item: Input, with_description: bool = True) -> dict[str, Any]:
    """JSON Schema of one input's value (the same for MCP arguments and OpenAPI)."""
    kind = item.type or "string"
    schema: dict[str, Any] = {"type": kind}
    if kind == "array":
        schema["items"] = {}
    if with_description and item.description:
        schema["description"] = item.description
    return schema


def input_schema(inputs: Sequence[Input]) -> dict[str, Any]:
    """JSON Schema for an operation's inputs: names, types, descriptions, required."""
    schema_doc: dict[str, Any] = {
        "type": "object",
        "properties": {item.name: value_schema(item) for item in inputs},
        "additionalProperties": False,
    }
    required = [i.name for i in inputs if i.required]
    if required:
        schema_doc["required"] = required
    return schema_doc
