"""Every coercion table side by side: how a value is read as its declared type, for exposed
inputs, for outputs and for mock outputs, and the one loop that checks a call's inputs.

One reading per type (`read_*`): a JSON value of that type as it is, text that spells one,
else `BadValue`. The tables differ only in what a value that cannot be read means:

- `INPUTS`: the caller's mistake, a 400 naming the input (every problem at once).
- `OUTPUTS`: the upstream's data, passed on unchanged (and counted): a mapping converts
  only where that loses nothing.
- `MOCKS`: a mock value is an output rendered as text: the same rules as `OUTPUTS`.

A boolean is JSON's `true`/`false` or text spelling one as a query string or a form does
(`true`, `1`, `yes`, `on`; `false`, `0`, `no`, `off`; any case): inputs and mocks read it so,
while a mapped output kept `"1"` or `"yes"` declared boolean as text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from naftiko_runtime import jsoncodec
from naftiko_runtime.engine.uploads import Upload
from naftiko_runtime.errors import InvocationError
from naftiko_runtime.text.values import to_text

Coerce = Callable[[Any], Any]
log = logging.getLogger("naftiko_runtime.mapping")


class BadValue(ValueError):
    """A value that cannot be read as its declared type; the message says what was expected."""


TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")
"""A boolean's spellings as text, any case: JSON's, and a query string's or a form's."""


# ---------------------------------------------------------------- one reading per type
def read_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise BadValue("expected a boolean (true or false)")


def read_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise BadValue("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise BadValue("expected an integer") from None


def read_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise BadValue("expected a number")
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise BadValue("expected a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise BadValue("expected a finite number")
    return number


def read_array(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = jsoncodec.loads(value)
        except (ValueError, RecursionError):
            raise BadValue("expected an array") from None
        if isinstance(parsed, list):
            return parsed
    return [value]


def read_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = jsoncodec.loads(value)
        except (ValueError, RecursionError):
            raise BadValue("expected a JSON object") from None
        if isinstance(parsed, dict):
            return parsed
    raise BadValue("expected a JSON object")


def read_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return to_text(value)  # `true`, `7`, `2` for 2.0
    raise BadValue("expected a string")


# ---------------------------------------------------------------- inputs
def _input_string(value: Any) -> Any:
    if isinstance(value, list):
        return value  # repeated query keys stay a list
    if isinstance(value, Upload):  # a file the client uploaded: its bytes go up as they are
        return value
    return read_string(value)


INPUTS: dict[str | None, Coerce] = {
    "boolean": read_boolean,
    "integer": read_integer,
    "number": read_number,
    "array": read_array,
    "object": read_object,
    "string": _input_string,
    None: lambda value: value,
}
"""Exposed inputs and consumed parameters: a value that cannot be read raises `BadValue`."""


def for_input(declared: str | None) -> Coerce:
    return INPUTS.get(declared, INPUTS[None])


# ---------------------------------------------------------------- outputs and mocks
class Unconverted:
    """Counts output values passed through because their declared type could not hold them."""

    count = 0

    @classmethod
    def note(cls, value: Any, wanted: str) -> Any:
        cls.count += 1
        log.debug("value of type %s kept as is: declared %s", type(value).__name__, wanted)
        return value


def _kept(read: Coerce, declared: str) -> Coerce:
    """`read`, the value unchanged where it cannot be read (and None as None)."""

    def conform(value: Any) -> Any:
        if value is None:
            return None
        try:
            return read(value)
        except BadValue:
            return Unconverted.note(value, declared)

    conform.__name__ = f"conform_{declared}"
    return conform


OUTPUTS: dict[str, Coerce] = {
    kind: _kept(read, kind)
    for kind, read in (
        ("string", read_string),
        ("number", read_number),
        ("integer", read_integer),
        ("boolean", read_boolean),
    )
}
"""Mapped and orchestrated outputs: converted where the declared type reads the value."""

ALREADY = {
    "string": "is str",
    "number": "in (int, float)",
    "integer": "is int",
    "boolean": "is bool",
}
"""For generated mappings: the check that a value already has its declared type (the common
case then costs one type check, no call)."""

MOCKS = OUTPUTS
"""Mock outputs: a mock value is an output, its rendered text read by the same rules (an
`integer` mock was left as text while a `number` one was converted, and while a mapped mock
over the same inputs gave a number)."""


# ---------------------------------------------------------------- the loop
@dataclass(frozen=True, slots=True)
class InputSpec:
    """One exposed input compiled: its spelled and normalised names and its coercion."""

    name: str
    key: str  # normalised
    coerce: Coerce
    required: bool
    type: str | None


def invalid(problems: list[dict[str, str]]) -> InvocationError:
    names = ", ".join(f"{p['name']} ({p['problem']})" for p in problems)
    return InvocationError(f"invalid input: {names}", problems)


def coerce_all(specs: Sequence[InputSpec], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs by normalised name, coerced to their declared types; every problem at once."""
    values: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for spec in specs:
        raw = inputs.get(spec.name)
        if raw is None and spec.key != spec.name:
            raw = inputs.get(spec.key)
        if raw is None:
            if spec.required:
                problems.append({"name": spec.name, "problem": "required"})
            elif spec.name in inputs or spec.key in inputs:
                values[spec.key] = None  # given as null (a PATCH clearing a field): kept
            continue
        try:
            values[spec.key] = spec.coerce(raw)
        except BadValue as exc:
            problems.append({"name": spec.name, "problem": str(exc)})
    if problems:
        raise invalid(problems)
    return values
