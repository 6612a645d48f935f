"""Naftiko's `{{name}}` Mustache templates, compiled once and rendered per request.

Semantics follow the reference engine rather than a general template library: names may
contain `-` and `.` (`{{job-id}}`, `{{env.LETTA_API_KEY}}`), nothing is HTML-escaped, lists and
maps render as JSON, and a missing variable renders as the empty string. Sections
(`{{#x}}…{{/x}}`, `{{^x}}…{{/x}}`) and comments (`{{! …}}`) are supported; partials and
delimiter changes are rejected at compile time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TAG = re.compile(r"\{\{(\{)?\s*([#^/!&>=]?)\s*(.*?)\s*\}?\}\}", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class TemplateSyntaxError(ValueError):
    """The template cannot be compiled; `position` is the offset of the bad tag."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True, slots=True)
class _Var:
    name: str


@dataclass(frozen=True, slots=True)
class _Section:
    name: str
    inverted: bool
    body: tuple[_Part, ...]


_Part = str | _Var | _Section


def lookup(scope: Mapping[str, Any], name: str) -> Any:
    """Resolve `name` in `scope`: the whole name first, then dotted segments."""
    if name in scope:
        return scope[name]
    if "." not in name:
        return None
    current: Any = scope
    for segment in name.split("."):
        if isinstance(current, Mapping) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
            current = current[int(segment)]
        else:
            return None
    return current


def to_text(value: Any) -> str:
    """How a value renders inside a template."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


class Template:
    """A compiled template. `variables` lists every name it reads, for load-time checks."""

    __slots__ = ("source", "_parts", "variables", "constant")

    def __init__(self, source: str) -> None:
        self.source = source
        self._parts, self.variables = _compile(source)
        self.constant: str | None = source if not self.variables and "{{" not in source else None
        if self.constant is None and not self.variables and not _has_sections(self._parts):
            self.constant = "".join(p for p in self._parts if isinstance(p, str))

    @property
    def single_variable(self) -> str | None:
        """The name when the template is exactly one `{{name}}` (so typed values survive)."""
        if len(self._parts) == 1 and isinstance(self._parts[0], _Var):
            return self._parts[0].name
        return None

    def render(self, scope: Mapping[str, Any]) -> str:
        if self.constant is not None:
            return self.constant
        out: list[str] = []
        _render(self._parts, [scope], out)
        return "".join(out)


def _has_sections(parts: tuple[_Part, ...]) -> bool:
    return any(isinstance(p, _Section) for p in parts)


def _compile(source: str) -> tuple[tuple[_Part, ...], tuple[str, ...]]:
    stack: list[tuple[str, bool, list[_Part], int]] = [("", False, [], 0)]
    names: dict[str, None] = {}
    pos = 0
    for match in _TAG.finditer(source):
        if match.start() > pos:
            stack[-1][2].append(source[pos : match.start()])
        pos = match.end()
        sigil, name = match.group(2), match.group(3)
        if sigil == "!":
            continue
        if sigil in (">", "="):
            raise TemplateSyntaxError(f"unsupported Mustache tag {match.group(0)!r}", match.start())
        if not _NAME.match(name):
            raise TemplateSyntaxError(f"invalid variable name in {match.group(0)!r}", match.start())
        if sigil in ("#", "^"):
            names.setdefault(name)
            stack.append((name, sigil == "^", [], match.start()))
        elif sigil == "/":
            open_name, inverted, body, start = stack.pop() if len(stack) > 1 else ("", False, [], 0)
            if open_name != name:
                raise TemplateSyntaxError(
                    f"closing {{{{/{name}}}}} has no matching opening tag", match.start()
                )
            stack[-1][2].append(_Section(name, inverted, tuple(body)))
        else:
            names.setdefault(name)
            stack[-1][2].append(_Var(name))
    if pos < len(source):
        stack[-1][2].append(source[pos:])
    if len(stack) > 1:
        raise TemplateSyntaxError(f"section {{{{#{stack[-1][0]}}}}} is never closed", stack[-1][3])
    if (
        "{{" in source.replace("{{{", "").replace("}}}", "")
        and not names
        and not _TAG.search(source)
    ):
        raise TemplateSyntaxError("unterminated '{{' tag", source.index("{{"))
    return tuple(stack[0][2]), tuple(names)


def _lookup_stack(stack: list[Mapping[str, Any]], name: str) -> Any:
    for scope in reversed(stack):
        value = lookup(scope, name)
        if value is not None:
            return value
    return None


def _render(parts: tuple[_Part, ...], stack: list[Mapping[str, Any]], out: list[str]) -> None:
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, _Var):
            out.append(to_text(_lookup_stack(stack, part.name)))
        else:
            value = _lookup_stack(stack, part.name)
            truthy = bool(value) and value != "false"
            if part.inverted:
                if not truthy:
                    _render(part.body, stack, out)
            elif isinstance(value, list):
                for item in value:
                    _render(
                        part.body, [*stack, item if isinstance(item, Mapping) else {".": item}], out
                    )
            elif truthy:
                inner = [*stack, value] if isinstance(value, Mapping) else stack
                _render(part.body, inner, out)
