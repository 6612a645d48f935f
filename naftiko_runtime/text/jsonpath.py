"""JSONPath compiled once: plain accessors for simple paths, jsonpath-ng for the rest; and the
one rule for `$.step...` paths into an earlier step's output.

`$` and `$.` both mean the whole document (the api-evangelist specs write `$.`). A definite
path that finds nothing gives None, as in the reference engine; an indefinite one (wildcards,
filters, slices) gives the list of matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as _parse_ext

_SIMPLE = re.compile(r"^\$((?:\.[A-Za-z0-9_\-]+|\[\d+\]|\['[^']*'\]|\[\"[^\"]*\"\])*)$")
_STEP = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_STEP_NAME = re.compile(r"[^.\[]+")  # a step's name in `$.step...`: up to `.` or `[`

Extractor = Callable[[Any], Any]


class JsonPathError(ValueError):
    """The expression does not compile."""


def _identity(document: Any) -> Any:
    return document


def compile_path(expression: str) -> Extractor:
    """Compile `expression` into a function document → value."""
    expr = expression.strip()
    if expr in ("$", "$."):
        return _identity
    if expr.endswith(".") and not expr.endswith(".."):
        expr = expr[:-1]
    steps = simple_steps(expr)
    if steps is not None:
        return _accessor(steps)
    if not expr.startswith("$"):
        raise JsonPathError(f"JSONPath must start with '$': {expression!r}")
    try:
        parsed = _parse_ext(expr)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
        raise JsonPathError(f"invalid JSONPath {expression!r}: {exc}") from None

    def find_all(document: Any) -> Any:
        return [match.value for match in parsed.find(document)]

    return find_all


def simple_steps(expression: str) -> tuple[str | int, ...] | None:
    """Keys and indexes of a definite path like `$.a.b[0]['c d']`, or None if not that simple."""
    expr = expression.strip()
    if expr in ("$", "$."):
        return ()
    if expr.endswith(".") and not expr.endswith(".."):
        expr = expr[:-1]
    simple = _SIMPLE.match(expr)
    if not simple:
        return None
    steps: list[str | int] = []
    for m in _STEP.finditer(simple.group(1)):
        if m.group(2) is not None:
            steps.append(int(m.group(2)))
        else:
            steps.append(next(g for g in (m.group(1), m.group(3), m.group(4)) if g is not None))
    return tuple(steps)


def _accessor(steps: tuple[str | int, ...]) -> Extractor:
    if len(steps) == 1:
        only = steps[0]
        if isinstance(only, str):

            def one_key(document: Any) -> Any:
                return document.get(only) if isinstance(document, dict) else None

            return one_key

    def walk(document: Any) -> Any:
        current = document
        for step in steps:
            if isinstance(step, int):
                if not isinstance(current, list) or step >= len(current):
                    return None
                current = current[step]
            else:
                if not isinstance(current, dict):
                    return None
                current = current.get(step)
                if current is None:
                    return None
        return current

    return walk


def split_step_path(expression: str) -> tuple[str, str] | None:
    """`$.step-name.a[0].b` → ("step-name", "$.a[0].b"); `$.step` → ("step", ""); None if
    not of that form. The one rule for where a step's name ends (at `.` or `[`), shared by
    validation, step dependencies and reading."""
    text = expression.strip()
    if not text.startswith("$."):
        return None
    match = _STEP_NAME.match(text, 2)
    if match is None:
        return None
    rest = text[match.end() :]
    return match.group(0), ("$" + rest if rest else "")


def path_root(expression: str) -> str | None:
    """The step a `$.step...` path reads, or None."""
    split = split_step_path(expression)
    return split[0] if split else None


def template_roots(variables: Iterable[str]) -> set[str]:
    """The steps (or inputs) template variables read: `{{step.field}}` reads `step`."""
    return {name.partition(".")[0] for name in variables}


def step_path(expression: str) -> Callable[[Mapping[str, Any]], Any] | None:
    """`$.step-name.a.b` → a reader over step outputs by step name; None if not of that form."""
    split = split_step_path(expression)
    if split is None:
        return None
    step, rest = split
    inner = compile_path(rest) if rest else None

    def read(outputs: Mapping[str, Any]) -> Any:
        node = outputs.get(step)
        if node is None or inner is None:
            return node
        return inner(node)

    return read
