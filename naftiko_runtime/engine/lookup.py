"""The lookup step: match a value against a field of an earlier step's output.

Matching follows the reference engine: both sides compared as text (`42` matches `"42"`),
the first matching entry wins, only the listed fields are returned (absent ones as null),
and a list of values gives a list of matches in the order of the values.
"""

from __future__ import annotations

from typing import Any


def as_text(value: Any) -> str:
    """A JSON value as the reference compares it (Jackson's `asText`): null is "null",
    containers have no text form, a float keeps its fraction. A comparison key, so not
    `text.values.to_text` (which is how a value is sent)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return ""
    return str(value)


def project(entry: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: entry.get(name) for name in fields}


def find(index: Any, match: str, wanted: str, fields: tuple[str, ...]) -> dict[str, Any] | None:
    """The first entry of `index` whose `match` field reads as `wanted`, projected."""
    if isinstance(index, dict):
        index = [index]
    if not isinstance(index, list):
        return None
    for entry in index:
        if isinstance(entry, dict) and match in entry and as_text(entry[match]) == wanted:
            return project(entry, fields)
    return None


def lookup(index: Any, match: str, value: Any, fields: tuple[str, ...]) -> Any:
    """One value → one match or None; a list of values → the list of matches or None."""
    if isinstance(value, list):
        found = [find(index, match, as_text(item), fields) for item in value]
        matches = [item for item in found if item is not None]
        return matches or None
    return find(index, match, as_text(value) if not isinstance(value, str) else value, fields)
