"""A `with` value compiled: an input reference, a template, a JSONPath or a literal.

Every call site (exposed operation, tool, step) resolves its arguments through this one rule,
so `{{imo}}`, `shipyard-tools.imo` and `$.get-ship.imo_number` mean the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from naftiko_runtime.model import Argument
from naftiko_runtime.text.jsonpath import path_root, step_path
from naftiko_runtime.text.placeholders import norm
from naftiko_runtime.text.templating import Template
from naftiko_runtime.text.values import lookup_either

Value = Callable[[Mapping[str, Any], Mapping[str, Any] | None], Any]
"""(inputs by normalised name, template scope or None) → value or None"""


def compile_value(argument: Argument, steps: frozenset[str] = frozenset()) -> tuple[Value, bool]:
    """The resolver and whether it needs the full template scope. A `$.name...` string is
    a path into an earlier step's output when `name` is one of `steps`; otherwise it is
    literal text, as in the reference engine."""
    if argument.reference is not None:
        key = norm(argument.reference)

        def reference(base: Mapping[str, Any], scope: Mapping[str, Any] | None) -> Any:
            return base.get(key)

        return reference, False
    if argument.template is None:
        literal = argument.literal

        def constant(base: Mapping[str, Any], scope: Mapping[str, Any] | None) -> Any:
            return literal

        return constant, False
    text = argument.template
    reader = step_path(text) if path_root(text) in steps else None
    if reader is not None:
        read = reader

        def path(base: Mapping[str, Any], scope: Mapping[str, Any] | None) -> Any:
            return read(scope if scope is not None else base)

        return path, True
    template = Template(text)
    if template.constant is not None:
        fixed = template.constant

        def text_constant(base: Mapping[str, Any], scope: Mapping[str, Any] | None) -> Any:
            return fixed

        return text_constant, False
    single = template.single_variable

    def rendered(base: Mapping[str, Any], scope: Mapping[str, Any] | None) -> Any:
        where = scope if scope is not None else base
        if single is not None:
            return lookup_either(where, single)
        out = template.render(where)
        return out if out != "" else None

    return rendered, True
