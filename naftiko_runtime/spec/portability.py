"""`--strict`: report every use of the dialect that the reference engine would reject.

Our schema accepts four deviations found in real specs because they carry meaning; the
reference `1.0.0-alpha2` schema does not. Each use becomes a `portability` error here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from naftiko_runtime.diagnostics import Diagnostic
from naftiko_runtime.spec.index import consumes_lists
from naftiko_runtime.spec.source import DataPath, SourceDocument

RULE = "portability"
_WHY = "the reference engine would reject this"
_KEBAB = re.compile(r"^[a-zA-Z0-9-]+$")
_TARGET = re.compile(r"^[a-zA-Z0-9-]+\.[a-zA-Z0-9-]+$")
_OUTPUT_OWNERS = ("operations", "tools", "resources", "functions")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def check_portability(doc: SourceDocument) -> list[Diagnostic]:
    """Every dialect use in `doc`, as errors."""
    found: list[Diagnostic] = []
    for pointer, message in _findings(doc.data):
        found.append(
            doc.diag(
                pointer,
                RULE,
                f"{message}: {_WHY}",
                key=pointer[-1] in ("type", "required", "description"),
            )
        )
    return found


def _findings(data: Any) -> Iterator[tuple[DataPath, str]]:
    for list_path, items in consumes_lists(data):
        for i, api in enumerate(items):
            api = _dict(api)
            base = (*list_path, i)
            if "import" in api or "location" in api:
                continue
            yield from _name(api, base, "namespace", "consumed namespace")
            yield from _consumed_params(api.get("inputParameters"), (*base, "inputParameters"))
            for r, resource in enumerate(_list(api.get("resources"))):
                resource = _dict(resource)
                rbase = (*base, "resources", r)
                yield from _name(resource, rbase, "name", "consumed resource name")
                yield from _consumed_params(
                    resource.get("inputParameters"), (*rbase, "inputParameters")
                )
                for o, op in enumerate(_list(resource.get("operations"))):
                    op = _dict(op)
                    obase = (*rbase, "operations", o)
                    yield from _name(op, obase, "name", "consumed operation name")
                    yield from _consumed_params(
                        op.get("inputParameters"), (*obase, "inputParameters")
                    )
    capability = _dict(_dict(data).get("capability"))
    for e, expose in enumerate(_list(capability.get("exposes"))):
        expose = _dict(expose)
        base = ("capability", "exposes", e)
        if expose.get("type") == "rest":
            if "description" in expose:
                yield (*base, "description"), "'description' on a rest adapter"
            for r, resource in enumerate(_list(expose.get("resources"))):
                resource = _dict(resource)
                yield from _name(resource, (*base, "resources", r), "name", "REST resource name")
                for o, op in enumerate(_list(resource.get("operations"))):
                    obase = (*base, "resources", r, "operations", o)
                    yield from _name(_dict(op), obase, "name", "REST operation name")
                    yield from _caller(_dict(op), obase)
        elif expose.get("type") == "mcp":
            for t, tool in enumerate(_list(expose.get("tools"))):
                yield from _name(_dict(tool), (*base, "tools", t), "name", "MCP tool name")
                yield from _caller(_dict(tool), (*base, "tools", t))
            for r, resource in enumerate(_list(expose.get("resources"))):
                yield from _caller(_dict(resource), (*base, "resources", r))
    for a, aggregate in enumerate(_list(capability.get("aggregates"))):
        for f, function in enumerate(_list(_dict(aggregate).get("functions"))):
            yield from _caller(_dict(function), ("capability", "aggregates", a, "functions", f))


def _name(
    obj: dict[str, Any], base: DataPath, key: str, what: str
) -> Iterator[tuple[DataPath, str]]:
    value = obj.get(key)
    if isinstance(value, str) and not _KEBAB.match(value) and re.match(r"^[A-Za-z0-9_-]+$", value):
        yield (*base, key), f"{what} {value!r} uses '_'"


def _consumed_params(params: Any, base: DataPath) -> Iterator[tuple[DataPath, str]]:
    for p, param in enumerate(_list(params)):
        for key in ("type", "required", "description"):
            if key in _dict(param):
                yield (*base, p, key), f"{key!r} on a consumed input parameter"


def _caller(obj: dict[str, Any], base: DataPath) -> Iterator[tuple[DataPath, str]]:
    for key in ("call", "ref"):
        value = obj.get(key)
        if (
            isinstance(value, str)
            and not _TARGET.match(value)
            and re.match(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$", value)
        ):
            yield (*base, key), f"{key} target {value!r} uses '_'"
    for s, step in enumerate(_list(obj.get("steps"))):
        value = _dict(step).get("call")
        if isinstance(value, str) and not _TARGET.match(value) and "_" in value:
            yield (*base, "steps", s, "call"), f"call target {value!r} uses '_'"
    if "call" in obj:
        for o, output in enumerate(_list(obj.get("outputParameters"))):
            yield from _mapped_output(output, (*base, "outputParameters", o))


def _mapped_output(output: Any, base: DataPath) -> Iterator[tuple[DataPath, str]]:
    output = _dict(output)
    kind = output.get("type")
    if kind == "object":
        if "properties" not in output:
            yield (*base, "type"), "an object output with 'mapping' but no 'properties'"
        for name, child in _dict(output.get("properties")).items():
            yield from _mapped_output(child, (*base, "properties", name))
    elif kind == "array":
        if "items" not in output:
            yield (*base, "type"), "an array output with 'mapping' but no 'items'"
        elif isinstance(output.get("items"), dict):
            yield from _mapped_output(output["items"], (*base, "items"))
