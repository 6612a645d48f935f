"""Parameter routes as a segment tree: matching costs one dict lookup per path segment however
many routes a port serves, and building it compiles no regex per route (a 5,000-operation
spec spent most of its REST start-up in `re.compile`, and a request to its last route
scanned every route before it).

A parameter (`{job-id}`, as `text/placeholders` reads one) matches one non-empty segment. A
segment mixing text and parameters (`v{version}.json`) is the one case still matched by a small
regex. Where several routes match a path, the one added first wins: callers add them in
priority order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from naftiko_runtime.text.placeholders import norm, path_variables, split, uri_pattern

T = TypeVar("T")


@dataclass
class _Route(Generic[T]):
    rank: int
    template: str
    names: list[str]
    value: T


@dataclass
class _Node(Generic[T]):
    literal: dict[str, _Node[T]] = field(default_factory=dict)
    param: _Node[T] | None = None
    mixed: list[tuple[re.Pattern[str], _Node[T]]] = field(default_factory=list)
    routes: list[_Route[T]] = field(default_factory=list)  # same shape, other names


def _mixed(segment: str) -> re.Pattern[str]:
    return uri_pattern(segment)[0]


def _is_param(segment: str) -> bool:
    """A segment that is one placeholder and nothing else."""
    parts = split(segment)
    return len(parts) == 1 and not isinstance(parts[0], str)


class RouteTable(Generic[T]):
    """Route templates with `{name}` parameters → a value and the parameters' values."""

    def __init__(self) -> None:
        self._root: _Node[T] = _Node()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, template: str, value: T) -> bool:
        """Add a route; False (and nothing changed) when the same template is already in."""
        node = self._root
        for segment in template.split("/"):
            if "{" not in segment:
                node = node.literal.setdefault(segment, _Node())
            elif _is_param(segment):
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                pattern = _mixed(segment)
                for known, child in node.mixed:
                    if known.pattern == pattern.pattern:
                        node = child
                        break
                else:
                    child = _Node()
                    node.mixed.append((pattern, child))
                    node = child
        if any(route.template == template for route in node.routes):
            return False
        names = [norm(name) for name in path_variables(template)]
        node.routes.append(_Route(self._count, template, names, value))
        self._count += 1
        return True

    def get(self, template: str) -> T | None:
        """The value added under exactly this template."""
        node = self._node(template.split("/"))
        for route in node.routes if node is not None else ():
            if route.template == template:
                return route.value
        return None

    def match(self, path: str) -> tuple[str, T, dict[str, str]] | None:
        """The highest-priority route matching `path`: its template, value and parameters."""
        found = self._find(path.split("/"))
        if found is None:
            return None
        route, values = found
        return route.template, route.value, dict(zip(route.names, values, strict=True))

    def _node(self, segments: list[str]) -> _Node[T] | None:
        node: _Node[T] | None = self._root
        for segment in segments:
            if node is None:
                return None
            if "{" not in segment:
                node = node.literal.get(segment)
            elif _is_param(segment):
                node = node.param
            else:
                wanted = _mixed(segment).pattern
                node = next((c for p, c in node.mixed if p.pattern == wanted), None)
        return node

    def _find(self, segments: list[str]) -> tuple[_Route[T], list[str]] | None:
        best: tuple[_Route[T], list[str]] | None = None
        last = len(segments)
        # depth-first over (node, depth, values so far); every match is compared by rank
        stack: list[tuple[_Node[T], int, list[str]]] = [(self._root, 0, [])]
        while stack:
            node, depth, values = stack.pop()
            if depth == last:
                if node.routes and (best is None or node.routes[0].rank < best[0].rank):
                    best = (node.routes[0], values)
                continue
            segment = segments[depth]
            for pattern, child in node.mixed:
                matched = pattern.fullmatch(segment)
                if matched is not None:
                    stack.append((child, depth + 1, [*values, *matched.groups()]))
            if node.param is not None and segment:
                stack.append((node.param, depth + 1, [*values, segment]))
            literal = node.literal.get(segment)
            if literal is not None:
                stack.append((literal, depth + 1, values))
        return best
