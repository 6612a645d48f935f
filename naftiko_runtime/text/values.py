"""How a value becomes text, and how a name is looked up in a scope: one rule each.

A value renders the same in a URL, a header, a query, a form and a template: JSON's
spelling (`true`, not Python's `True`; `2` for a whole float; lists and maps as compact
JSON), and nothing at all for null.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from naftiko_runtime.text.placeholders import norm


def to_text(value: Any) -> str:
    """A value as text where it is sent or rendered."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


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


def lookup_either(scope: Mapping[str, Any], name: str) -> Any:
    """`lookup`, then the snake spelling of a kebab name: what a lone `{{job-id}}` reads,
    where its value keeps its type."""
    value = lookup(scope, name)
    if value is None and "-" in name:
        value = lookup(scope, norm(name))
    return value
