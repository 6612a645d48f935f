"""One traversal of a capability document, shared by every rule.

The walk visits the document once and files each node it knows by kind (consumed APIs and
resources, adapters, REST resources and operations, MCP tools, skills, aggregate functions,
steps, every string), with its data path. Rules read these lists instead of walking the spec
again each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from naftiko_runtime.capability.callers import REFERENCE_ALIASES, Caller, template_names
from naftiko_runtime.capability.source import DataPath, as_dict, as_list


@dataclass(frozen=True, slots=True)
class Node:
    """A node of interest: where it is, what it is, and the adapter or API it belongs to."""

    pointer: DataPath
    data: dict[str, Any]
    owner: dict[str, Any] | None = None  # the adapter, API or aggregate it belongs to
    owner_pointer: DataPath = ()


@dataclass
class Walk:
    consumes: list[Node] = field(default_factory=list)
    consumed_resources: list[Node] = field(default_factory=list)
    exposes: list[Node] = field(default_factory=list)
    rest_resources: list[Node] = field(default_factory=list)
    rest_operations: list[Node] = field(default_factory=list)
    tools: list[Node] = field(default_factory=list)
    mcp_resources: list[Node] = field(default_factory=list)
    skills: list[Node] = field(default_factory=list)
    aggregates: list[Node] = field(default_factory=list)
    functions: list[Node] = field(default_factory=list)
    steps: list[Node] = field(default_factory=list)  # owner: the operation, tool or function
    strings: list[tuple[DataPath, str]] = field(default_factory=list)
    resources_of: dict[DataPath, dict[str, Any]] = field(default_factory=dict)  # op → resource

    def callers(self) -> Iterator[Caller]:
        """Every calling site (as `spec.callers.iter_callers` yields them), from this walk."""
        resource_inputs: dict[DataPath, tuple[str, ...]] = {}
        for node in self.rest_operations:
            adapter = as_dict(node.owner)
            resource = self.resources_of.get(node.pointer, {})
            rpointer = node.pointer[:-2]
            if rpointer not in resource_inputs:
                resource_inputs[rpointer] = _names(resource.get("inputParameters"))
            path = resource.get("path")
            yield Caller(
                "rest",
                node.pointer,
                node.data,
                _prefixes(adapter),
                resource_inputs[rpointer] + _names(node.data.get("inputParameters")),
                path=path if isinstance(path, str) else None,
                adapter=adapter,
            )
            yield from self._steps_of(node.pointer, node.data, _prefixes(adapter))
        for node in self.tools:
            adapter = as_dict(node.owner)
            yield Caller(
                "tool",
                node.pointer,
                node.data,
                _prefixes(adapter),
                _names(node.data.get("inputParameters")),
                adapter=adapter,
            )
            yield from self._steps_of(node.pointer, node.data, _prefixes(adapter))
        for node in self.mcp_resources:
            adapter = as_dict(node.owner)
            placeholders = template_names(node.data.get("uri"))
            yield Caller(
                "mcp-resource",
                node.pointer,
                node.data,
                _prefixes(adapter),
                placeholders,
                path=str(node.data["uri"]) if placeholders else None,
                adapter=adapter,
            )
        for node in self.functions:
            yield Caller(
                "function", node.pointer, node.data, (), _names(node.data.get("inputParameters"))
            )
            yield from self._steps_of(node.pointer, node.data, ())

    def _steps_of(
        self, pointer: DataPath, owner: dict[str, Any], prefixes: tuple[str, ...]
    ) -> Iterator[Caller]:
        inputs = _names(owner.get("inputParameters"))
        for node in self.steps:
            if node.owner_pointer == pointer and node.data.get("type") == "call":
                yield Caller("step", node.pointer, node.data, prefixes, inputs)


def walk_document(data: Any) -> Walk:
    walk = Walk()
    _strings(data, (), walk.strings)
    root = as_dict(data)
    capability = as_dict(root.get("capability"))
    for list_path, items in (
        (("consumes",), root.get("consumes")),
        (("capability", "consumes"), capability.get("consumes")),
    ):
        for i, api in enumerate(as_list(items)):
            pointer = (*list_path, i)
            api_data = as_dict(api)
            walk.consumes.append(Node(pointer, api_data))
            for r, resource in enumerate(as_list(api_data.get("resources"))):
                walk.consumed_resources.append(
                    Node((*pointer, "resources", r), as_dict(resource), api_data, pointer)
                )
    for e, expose in enumerate(as_list(capability.get("exposes"))):
        pointer = ("capability", "exposes", e)
        adapter = as_dict(expose)
        walk.exposes.append(Node(pointer, adapter))
        kind = adapter.get("type")
        if kind == "rest":
            for r, resource in enumerate(as_list(adapter.get("resources"))):
                rpointer = (*pointer, "resources", r)
                resource_data = as_dict(resource)
                walk.rest_resources.append(Node(rpointer, resource_data, adapter, pointer))
                for o, op in enumerate(as_list(resource_data.get("operations"))):
                    opointer = (*rpointer, "operations", o)
                    op_data = as_dict(op)
                    walk.rest_operations.append(Node(opointer, op_data, adapter, pointer))
                    walk.resources_of[opointer] = resource_data
                    _steps(walk, op_data, opointer)
        elif kind == "mcp":
            for t, tool in enumerate(as_list(adapter.get("tools"))):
                tpointer = (*pointer, "tools", t)
                walk.tools.append(Node(tpointer, as_dict(tool), adapter, pointer))
                _steps(walk, as_dict(tool), tpointer)
            for r, resource in enumerate(as_list(adapter.get("resources"))):
                walk.mcp_resources.append(
                    Node((*pointer, "resources", r), as_dict(resource), adapter, pointer)
                )
        elif kind == "skill":
            for s, skill in enumerate(as_list(adapter.get("skills"))):
                walk.skills.append(Node((*pointer, "skills", s), as_dict(skill), adapter, pointer))
    for a, aggregate in enumerate(as_list(capability.get("aggregates"))):
        pointer = ("capability", "aggregates", a)
        aggregate_data = as_dict(aggregate)
        walk.aggregates.append(Node(pointer, aggregate_data))
        for f, function in enumerate(as_list(aggregate_data.get("functions"))):
            fpointer = (*pointer, "functions", f)
            walk.functions.append(Node(fpointer, as_dict(function), aggregate_data, pointer))
            _steps(walk, as_dict(function), fpointer)
    return walk


def _names(params: Any) -> tuple[str, ...]:
    return tuple(
        p["name"] for p in as_list(params) if isinstance(p, dict) and isinstance(p.get("name"), str)
    )


def _prefixes(adapter: dict[str, Any]) -> tuple[str, ...]:
    namespace = adapter.get("namespace") if isinstance(adapter.get("namespace"), str) else ""
    alias = REFERENCE_ALIASES.get(str(adapter.get("type")), "")
    return tuple(p for p in (namespace, alias) if p)


def _steps(walk: Walk, owner: dict[str, Any], pointer: DataPath) -> None:
    for s, step in enumerate(as_list(owner.get("steps"))):
        walk.steps.append(Node((*pointer, "steps", s), as_dict(step), owner, pointer))


def _strings(node: Any, pointer: DataPath, out: list[tuple[DataPath, str]]) -> None:
    if isinstance(node, str):
        out.append((pointer, node))
    elif isinstance(node, dict):
        for key, value in node.items():
            _strings(value, (*pointer, key), out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _strings(value, (*pointer, i), out)
