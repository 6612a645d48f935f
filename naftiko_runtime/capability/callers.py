"""Every place in a spec that calls a consumed operation, with what it can pass along.

REST operations, MCP tools and resources, aggregate functions and orchestration steps all
`call` a `namespace.operation` with `with` arguments; rules and the model read them from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from naftiko_runtime.capability.source import DataPath, as_list
from naftiko_runtime.text.placeholders import is_name, path_variables

REFERENCE_ALIASES = {"rest": "rest", "mcp": "tools"}


@dataclass
class Caller:
    """One calling site; `prefixes` are the names a `with` reference may start with."""

    kind: str  # "rest", "tool", "mcp-resource", "function", "step"
    pointer: DataPath
    data: dict[str, Any]
    prefixes: tuple[str, ...]
    inputs: tuple[str, ...]
    path: str | None = None  # exposed REST path, for path-parameter checks
    adapter: dict[str, Any] | None = None


def template_names(uri: Any) -> tuple[str, ...]:
    """The placeholders of an MCP resource template URI: the inputs it binds."""
    return tuple(path_variables(uri)) if isinstance(uri, str) else ()


def _names(params: Any) -> tuple[str, ...]:
    return tuple(
        p["name"] for p in as_list(params) if isinstance(p, dict) and isinstance(p.get("name"), str)
    )


def iter_callers(data: Any) -> Iterator[Caller]:
    """Yield every caller in a capability document."""
    root = data if isinstance(data, dict) else {}
    capability = root.get("capability") if isinstance(root.get("capability"), dict) else {}
    assert isinstance(capability, dict)
    for e, expose in enumerate(as_list(capability.get("exposes"))):
        if not isinstance(expose, dict):
            continue
        kind = expose.get("type")
        namespace = expose.get("namespace") if isinstance(expose.get("namespace"), str) else ""
        alias = REFERENCE_ALIASES.get(str(kind), "")
        prefixes = tuple(p for p in (namespace, alias) if p)
        base: DataPath = ("capability", "exposes", e)
        if kind == "rest":
            for r, resource in enumerate(as_list(expose.get("resources"))):
                if not isinstance(resource, dict):
                    continue
                resource_inputs = _names(resource.get("inputParameters"))
                for o, op in enumerate(as_list(resource.get("operations"))):
                    if isinstance(op, dict):
                        pointer = (*base, "resources", r, "operations", o)
                        yield Caller(
                            "rest",
                            pointer,
                            op,
                            prefixes,
                            resource_inputs + _names(op.get("inputParameters")),
                            path=resource.get("path")
                            if isinstance(resource.get("path"), str)
                            else None,
                            adapter=expose,
                        )
                        yield from _steps(op, pointer, prefixes)
        elif kind == "mcp":
            for t, tool in enumerate(as_list(expose.get("tools"))):
                if isinstance(tool, dict):
                    pointer = (*base, "tools", t)
                    yield Caller(
                        "tool",
                        pointer,
                        tool,
                        prefixes,
                        _names(tool.get("inputParameters")),
                        adapter=expose,
                    )
                    yield from _steps(tool, pointer, prefixes)
            for r, resource in enumerate(as_list(expose.get("resources"))):
                if isinstance(resource, dict):
                    uri = resource.get("uri")
                    placeholders = template_names(uri)
                    yield Caller(
                        "mcp-resource",
                        (*base, "resources", r),
                        resource,
                        prefixes,
                        placeholders,
                        path=uri if placeholders else None,  # a template URI binds like a path
                        adapter=expose,
                    )
    for a, aggregate in enumerate(as_list(capability.get("aggregates"))):
        if not isinstance(aggregate, dict):
            continue
        for f, function in enumerate(as_list(aggregate.get("functions"))):
            if isinstance(function, dict):
                pointer = ("capability", "aggregates", a, "functions", f)
                yield Caller(
                    "function", pointer, function, (), _names(function.get("inputParameters"))
                )
                yield from _steps(function, pointer, ())


def _steps(owner: dict[str, Any], pointer: DataPath, prefixes: tuple[str, ...]) -> Iterator[Caller]:
    inputs = _names(owner.get("inputParameters"))
    for s, step in enumerate(as_list(owner.get("steps"))):
        if isinstance(step, dict) and step.get("type") == "call":
            yield Caller("step", (*pointer, "steps", s), step, prefixes, inputs)


def reference_name(value: Any, prefixes: tuple[str, ...]) -> str | None:
    """The input a `with` value reads when it is a `<prefix>.<name>` reference, else None."""
    if not isinstance(value, str):
        return None
    for prefix in prefixes:
        if value.startswith(prefix + ".") and is_name(value[len(prefix) + 1 :]):
            return value[len(prefix) + 1 :]
    return None
