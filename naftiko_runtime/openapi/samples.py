"""Values made from an OpenAPI document's schemas, for `check --exercise`: its own examples
first (the author's idea of a valid value), then defaults, enums and formats, then the
least value of the schema's type. `conforms` says whether a value fits, with the OpenAPI
dialect of the document (`openapi-schema-validator`), so an input the generator could not
satisfy (a bare `pattern`) is never sent and then blamed on the capability.
"""

from __future__ import annotations

import copy
import math
from typing import Any
from urllib.parse import urljoin

from naftiko_runtime.openapi.documents import OpenApiDocument, OpenApiError

MAX_DEPTH = 8  # nested objects and arrays generated (deeper members are left out)
MAX_ITEMS = 3  # items generated for an array that requires more than one
MAX_STRING = 4096  # longest string made for a minLength
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "byte": "eA==",
    "password": "secret",
}


class NoSample(Exception):
    """The schema admits no value the generator can make (or names none)."""


def _deref(schema: Any, document: OpenApiDocument | None) -> Any:
    if document is None:
        return schema
    try:
        return document.deref(schema)
    except OpenApiError as exc:
        raise NoSample(str(exc)) from None


def parameter_sample(parameter: dict[str, Any], document: OpenApiDocument) -> Any:
    """A value for one OpenAPI parameter: its example, an example of its `examples`, else
    one made from its schema (2.0 parameters carry the schema's keys themselves)."""
    if "example" in parameter:
        return copy.deepcopy(parameter["example"])
    examples = parameter.get("examples")
    if isinstance(examples, dict):
        for example in examples.values():
            example = _deref(example, document)
            if isinstance(example, dict) and "value" in example:
                return copy.deepcopy(example["value"])
    content = parameter.get("content")
    if isinstance(content, dict) and content:
        media = _deref(next(iter(content.values())), document)
        return media_sample(media, document) if isinstance(media, dict) else "x"
    return sample(parameter.get("schema", parameter), document)


def media_sample(media: dict[str, Any], document: OpenApiDocument, every: bool = False) -> Any:
    """A value for a media type object (a request or response body): its example first.
    `every`: optional members too (an answer, where a mock shows all it may hold)."""
    if "example" in media:
        return copy.deepcopy(media["example"])
    examples = media.get("examples")
    if isinstance(examples, dict):
        for example in examples.values():
            example = _deref(example, document)
            if isinstance(example, dict) and "value" in example:
                return copy.deepcopy(example["value"])
    return sample(media.get("schema", {}), document, every=every)


def sample(
    schema: Any, document: OpenApiDocument | None, depth: int = 0, every: bool = False
) -> Any:
    """One value of `schema` (raises NoSample for `false` or a schema too deep); objects
    hold their required members, or with `every` all of them."""
    schema = _deref(schema, document)
    if schema is True or schema == {}:
        return "x"
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        raise NoSample("no value to make")
    for key in ("const", "example", "default"):
        if key in schema:
            return copy.deepcopy(schema[key])
    for key in ("examples", "enum"):
        values = schema.get(key)
        if isinstance(values, list) and any(v is not None for v in values):
            return copy.deepcopy(next(v for v in values if v is not None))
    if isinstance(schema.get("allOf"), list):
        return sample(_merged(schema, document, depth), document, depth + 1, every)
    for key in ("oneOf", "anyOf"):
        parts = [_deref(p, document) for p in schema.get(key) or []]
        chosen = [p for p in parts if not (isinstance(p, dict) and _type(p) == "null")]
        if chosen:
            return sample(chosen[0], document, depth + 1, every)
    return _of_type(_type(schema), schema, document, depth, every)


def _merged(schema: dict[str, Any], document: OpenApiDocument | None, depth: int) -> dict[str, Any]:
    """`allOf` folded into one schema: properties and required lists added up (nested
    `allOf`s to the depth left, so a cycle of them ends)."""
    if depth > MAX_DEPTH:
        raise NoSample("allOf nested too deep")
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    properties = dict(merged.get("properties") or {})
    required = list(merged.get("required") or [])
    for part in schema["allOf"]:
        part = _deref(part, document)
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("allOf"), list):
            part = _merged(part, document, depth + 1)
        properties.update(part.get("properties") or {})
        required += [r for r in part.get("required") or [] if r not in required]
        for key, value in part.items():
            if key not in ("properties", "required"):
                merged.setdefault(key, value)
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _type(schema: dict[str, Any]) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        kinds = [str(t) for t in declared if t != "null"]
        return kinds[0] if kinds else "null"
    if isinstance(declared, str):
        return declared
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _of_type(
    kind: str, schema: dict[str, Any], document: OpenApiDocument | None, depth: int, every: bool
) -> Any:
    if kind == "null":
        return None
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        try:
            return _number(schema, kind == "integer")
        except (OverflowError, ValueError, ZeroDivisionError):  # bounds no number meets
            raise NoSample("no number within the bounds") from None
    if kind == "array":
        least = schema.get("minItems")
        count = min(max(least if isinstance(least, int) else 1, 1), MAX_ITEMS)
        item = sample(schema.get("items", {}), document, depth + 1, every)
        return [copy.deepcopy(item) for _ in range(count)]
    if kind == "object":
        properties = schema.get("properties") or {}
        names = list(schema.get("required") or [])
        if every:
            names += [name for name in properties if name not in names]
        made = {}
        for name in names:
            try:
                made[str(name)] = sample(properties.get(name, {}), document, depth + 1, every)
            except NoSample:
                if name in (schema.get("required") or []):
                    raise
        return made
    return _string(schema)


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    low = schema.get("minimum")
    exclusive = schema.get("exclusiveMinimum")
    if isinstance(exclusive, (int, float)) and not isinstance(exclusive, bool):
        low = exclusive + (1 if integer else 0.5)
    elif exclusive is True and isinstance(low, (int, float)):
        low = low + (1 if integer else 0.5)
    high = schema.get("maximum")
    value: float = low if isinstance(low, (int, float)) else 1
    if isinstance(high, (int, float)) and value > high:
        value = high
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0:
        value = step * math.ceil(value / step)
    return int(math.ceil(value)) if integer else value


def _string(schema: dict[str, Any]) -> str:
    text = _FORMATS.get(str(schema.get("format", "")), "string")
    low = schema.get("minLength") or 0
    if not isinstance(low, int) or low > MAX_STRING:
        raise NoSample("minLength past what is made")
    if len(text) < low:
        text += "x" * (low - len(text))
    high = schema.get("maxLength")
    if isinstance(high, int) and len(text) > high:
        text = text[: max(high, low)]
    return text


def conforms(value: Any, schema: Any, document: OpenApiDocument) -> str | None:
    """None when `value` fits `schema` (the document's dialect, its formats, its `$ref`s);
    else the validator's best message."""
    from jsonschema.exceptions import best_match
    from openapi_schema_validator import (
        OAS30Validator,
        OAS31Validator,
        oas30_format_checker,
        oas31_format_checker,
    )

    absolute = _absolute(schema, document.uri)
    if document.version == "3.1":
        validator: Any = OAS31Validator(
            absolute, registry=document.registry, format_checker=oas31_format_checker
        )
    else:
        validator = OAS30Validator(
            absolute, registry=document.registry, format_checker=oas30_format_checker
        )
    try:
        error = best_match(validator.iter_errors(value))
    except Exception as exc:  # noqa: BLE001 - a reference or schema the validator cannot use
        return f"the schema cannot be used ({type(exc).__name__})"
    return None if error is None else error.message


def _absolute(node: Any, base: str) -> Any:
    """`node` with its `$ref`s made absolute against the document (a schema taken out of
    the document keeps pointing into it)."""
    if isinstance(node, dict):
        return {
            key: urljoin(base, value)
            if key == "$ref" and isinstance(value, str)
            else _absolute(value, base)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_absolute(value, base) for value in node]
    return node
