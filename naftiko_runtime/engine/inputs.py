"""Exposed inputs: one coercion rule per declared type and one JSON Schema source.

REST and MCP accept the same inputs through the same specs, so a value that is valid for one
is valid for the other, and `/openapi.json` and MCP `inputSchema` say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from naftiko_runtime import jsoncodec
from naftiko_runtime.capability.index import norm
from naftiko_runtime.capability.model import Input
from naftiko_runtime.engine.uploads import Upload
from naftiko_runtime.errors import InvocationError
from naftiko_runtime.text.templating import to_text


class BadValue(ValueError):
    """A value that cannot be read as its declared type; the message says what was expected."""


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise BadValue("expected a boolean (true or false)")


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise BadValue("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise BadValue("expected an integer") from None


def to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise BadValue("expected a number")
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise BadValue("expected a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise BadValue("expected a finite number")
    return number


def to_array(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = jsoncodec.loads(value)
        except (ValueError, RecursionError):
            raise BadValue("expected an array") from None
        if isinstance(parsed, list):
            return parsed
    return [value]


def to_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = jsoncodec.loads(value)
        except (ValueError, RecursionError):
            raise BadValue("expected a JSON object") from None
        if isinstance(parsed, dict):
            return parsed
    raise BadValue("expected a JSON object")


def to_string(value: Any) -> Any:
    if isinstance(value, list):
        return value  # repeated query keys stay a list
    if isinstance(value, dict):
        raise BadValue("expected a string")
    if isinstance(value, Upload):  # a file the client uploaded: its bytes go up as they are
        return value
    return value if isinstance(value, str) else to_text(value)


COERCE: dict[str | None, Callable[[Any], Any]] = {
    "boolean": to_bool,
    "integer": to_int,
    "number": to_number,
    "array": to_array,
    "object": to_object,
    "string": to_string,
    None: lambda value: value,
}


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One exposed input compiled: its spelled and normalised names and its coercion."""

    name: str
    key: str  # normalised
    coerce: Callable[[Any], Any]
    required: bool
    type: str | None


def compile_inputs(inputs: Sequence[Input]) -> tuple[InputSpec, ...]:
    return tuple(
        InputSpec(i.name, norm(i.name), COERCE.get(i.type, COERCE[None]), i.required, i.type)
        for i in inputs
    )


def invalid(problems: list[dict[str, str]]) -> InvocationError:
    names = ", ".join(f"{p['name']} ({p['problem']})" for p in problems)
    return InvocationError(f"invalid input: {names}", problems)


def coerce_inputs(specs: tuple[InputSpec, ...], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs by normalised name, coerced to their declared types; every problem at once."""
    values: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for spec in specs:
        raw = inputs.get(spec.name)
        if raw is None and spec.key != spec.name:
            raw = inputs.get(spec.key)
        if raw is None:
            if spec.required:
                problems.append({"name": spec.name, "problem": "required"})
            elif spec.name in inputs or spec.key in inputs:
                values[spec.key] = None  # given as null (a PATCH clearing a field): kept
            continue
        try:
            values[spec.key] = spec.coerce(raw)
        except BadValue as exc:
            problems.append({"name": spec.name, "problem": str(exc)})
    if problems:
        raise invalid(problems)
    return values


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
