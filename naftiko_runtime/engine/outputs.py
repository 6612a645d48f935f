"""The JSON Schema of what an operation or tool returns, derived from its declared outputs
by the same rules the mapping applies (so a result always validates against it).

Objects and arrays are what the mapping builds (every declared property, each array's items,
null where a mapping finds nothing; objects allow more properties). A scalar field carries
its declared type only where the value comes from the spec (`const`, `value`): a mapped value
the declared type cannot hold (a list mapped as a `string`) is passed on unchanged, as the
reference does, so its schema stays open (`{}`), as does a `$.` pass-through or an object
without declared properties. `None` means nothing is known: no `outputSchema` is advertised.
"""

from __future__ import annotations

from typing import Any

from naftiko_runtime.model import (
    AnyInvocation,
    Invocation,
    MappedOutput,
    OrchestratedOutput,
    Orchestration,
    StaticInvocation,
)

Schema = dict[str, Any]
SCALARS = ("string", "number", "integer", "boolean")
_ROOT = ("$", "$.")


def result_schema(invocation: AnyInvocation) -> Schema | None:
    """The result's schema, or None when its shape is not declared."""
    if isinstance(invocation, Orchestration):
        if not invocation.outputs:
            return None
        return _object({o.name: _orchestrated(o) for o in invocation.outputs})
    if isinstance(invocation, StaticInvocation):
        if invocation.mapped:
            return _mapped_result(invocation.mapped)
        return _object({o.name: {} for o in invocation.outputs}) if invocation.outputs else None
    return _invocation(invocation)


def _invocation(invocation: Invocation) -> Schema | None:
    if invocation.outputs:
        return _mapped_result(invocation.outputs)
    fields = invocation.operation.outputs
    if not fields or (len(fields) == 1 and fields[0].value.strip() in _ROOT):
        return None  # the upstream body, unchanged
    return _object({f.name: {} for f in fields})  # values as read, not converted


def _mapped_result(outputs: tuple[MappedOutput, ...]) -> Schema | None:
    if len(outputs) > 1:
        return {"type": "array", "items": False, "prefixItems": [_mapped(o) for o in outputs]}
    schema = _mapped(outputs[0])
    return schema or None


def _mapped(output: MappedOutput) -> Schema:
    """Mirrors `mapping._Generator.expression`."""
    if output.const is not None or (
        output.value is not None
        and output.mapping is None
        and output.type not in ("object", "array")
    ):
        return _scalar(output.type)
    if output.type == "object" and output.properties:
        return _nullable(_object({k: _mapped(c) for k, c in output.properties}))
    if output.type == "array" and output.items is not None:
        return _nullable({"type": "array", "items": _mapped(output.items)})
    return {}  # a mapped value: converted to the declared type only where that loses nothing


def _orchestrated(output: OrchestratedOutput) -> Schema:
    """Mirrors `orchestration._conform_one` (scalars open, as for mapped values)."""
    if output.type == "object" and output.properties:
        return _nullable(_object({p.name: _orchestrated(p) for p in output.properties}))
    if output.type == "array" and output.items:
        items = output.items
        if len(items) == 1 and items[0].name == "item":
            each = _orchestrated(items[0])
        else:
            each = _object({i.name: _orchestrated(i) for i in items})
        return _nullable({"type": "array", "items": each})
    return {}


def _scalar(kind: str) -> Schema:
    return {"type": [kind, "null"]} if kind in SCALARS else {}


def _object(properties: dict[str, Schema]) -> Schema:
    return {"type": "object", "properties": properties}


def _nullable(schema: Schema) -> Schema:
    return {**schema, "type": [schema["type"], "null"]}


def tool_output_schema(invocation: AnyInvocation) -> tuple[Schema | None, bool]:
    """A tool's `outputSchema` (always an object, as MCP requires) and whether results are
    wrapped as `{"result": ...}` to fit it (anything that is not an object is)."""
    schema = result_schema(invocation)
    if schema is None:
        return None, False
    if schema.get("type") in ("object", ["object", "null"]):
        return {**schema, "type": "object"}, False  # a null result is sent as {"result": null}
    paging = {  # engine.headers.next_page: present when the upstream has a next page
        "type": "object",
        "description": "The arguments of the call that fetches the next page",
    }
    wrapper = {"result": schema, "next": paging}
    return {"type": "object", "properties": wrapper, "required": ["result"]}, True
