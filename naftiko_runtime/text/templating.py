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

from naftiko_runtime.text.placeholders import is_name
from naftiko_runtime.text.values import lookup, to_text

# `{{{x}}}` (unescaped; nothing is escaped here anyway) or `{{x}}`; in `{{x}}}` the last
# brace is text, as in the reference engine
_TAG = re.compile(
    r"\{\{(?:\{\s*(?P<triple>[^{}]*?)\s*\}|\s*(?P<sigil>[#^/!&>=]?)\s*(?P<name>.*?)\s*)\}\}",
    re.DOTALL,
)


class TemplateSyntaxError(ValueError):
    """The template cannot be compiled; `position` is the offset of the bad tag."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True, slots=True)
class _Var:
    name: str
    mode: str = "text"  # how the value is encoded where it stands (see `Template`)


@dataclass(frozen=True, slots=True)
class _Section:
    name: str
    inverted: bool
    body: tuple[_Part, ...]


_Part = str | _Var | _Section


class Template:
    """A compiled template. `variables` lists every name it reads, for load-time checks.

    `context` says what the rendered text is, so each value is encoded for where it stands:
    `text` as is; `json` escaped inside a JSON string and written as a JSON value outside one
    (a missing value is `null` there), so a quote in a value never breaks the document; `xml`
    with markup characters escaped; `form` percent-encoded (a form body written as text).
    """

    __slots__ = ("source", "_parts", "variables", "constant")

    def __init__(self, source: str, context: str = "text") -> None:
        self.source = source
        self._parts, self.variables = _compile(source)
        if context == "json":
            self._parts = _json_modes(self._parts, [False])
        elif context in ("xml", "form"):
            self._parts = _with_mode(self._parts, context)
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


def _json_modes(parts: tuple[_Part, ...], in_string: list[bool]) -> tuple[_Part, ...]:
    """Mark each variable as standing inside a JSON string or as a JSON value, by scanning
    the literal text before it (escapes respected)."""
    out: list[_Part] = []
    for part in parts:
        if isinstance(part, str):
            escaped = False
            for char in part:
                if escaped:
                    escaped = False
                elif char == "\\" and in_string[0]:
                    escaped = True
                elif char == '"':
                    in_string[0] = not in_string[0]
            out.append(part)
        elif isinstance(part, _Var):
            out.append(_Var(part.name, "json-string" if in_string[0] else "json-value"))
        else:
            out.append(_Section(part.name, part.inverted, _json_modes(part.body, in_string)))
    return tuple(out)


def _with_mode(parts: tuple[_Part, ...], mode: str) -> tuple[_Part, ...]:
    out: list[_Part] = []
    for part in parts:
        if isinstance(part, _Var):
            out.append(_Var(part.name, mode))
        elif isinstance(part, _Section):
            out.append(_Section(part.name, part.inverted, _with_mode(part.body, mode)))
        else:
            out.append(part)
    return tuple(out)


_JSON_LITERAL = re.compile(r"^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)$")


def encode(value: Any, mode: str) -> str:
    """A value as text for its place in the rendered document."""
    if mode == "text":
        return to_text(value)
    if mode == "json-string":
        return json.dumps(to_text(value), ensure_ascii=False)[1:-1]
    if mode == "json-value":
        if value is None:
            return "null"
        if isinstance(value, str):
            return value if _JSON_LITERAL.match(value) else json.dumps(value, ensure_ascii=False)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if mode == "xml":
        return xml_escape(to_text(value))
    if mode == "form":
        from urllib.parse import quote_plus

        return quote_plus(to_text(value))
    return to_text(value)


def xml_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


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
        if match.group("triple") is not None:
            sigil, name = "", match.group("triple")
        else:
            sigil, name = match.group("sigil"), match.group("name")
        if sigil == "!":
            continue
        if sigil in (">", "="):
            raise TemplateSyntaxError(f"unsupported Mustache tag {match.group(0)!r}", match.start())
        if not is_name(name):
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
            value = _lookup_stack(stack, part.name)
            out.append(to_text(value) if part.mode == "text" else encode(value, part.mode))
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
