"""The coercion tables side by side (`engine/coercion`): one reading per type, and what a
value that cannot be read means for inputs (a 400), outputs and mocks (kept as it is).

Where the tables disagreed: inputs and mocks read `1`, `yes` and `on` as true, while a mapped
output kept them as text; one boolean reading now serves all three. And an `integer` mock
stayed text while a `number` one was converted."""

from __future__ import annotations

from typing import Any

import pytest

from naftiko_runtime.engine.coercion import (
    INPUTS,
    MOCKS,
    OUTPUTS,
    BadValue,
    InputSpec,
    coerce_all,
    read_boolean,
)
from naftiko_runtime.engine.mock import compile_static
from naftiko_runtime.errors import InvocationError
from naftiko_runtime.model import Input, StaticInvocation, StaticOutput

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(
    ("value", "read"),
    [
        (True, True),
        (False, False),
        ("true", True),
        (" FALSE ", False),
        ("1", True),
        ("0", False),
        ("Yes", True),
        ("no", False),
        ("on", True),
        ("off", False),
        (1, True),
        (0, False),
    ],
)
def test_one_boolean_reading_for_every_table(value: Any, read: bool) -> None:
    assert read_boolean(value) is read
    assert INPUTS["boolean"](value) is read
    assert OUTPUTS["boolean"](value) is read  # was kept as it came for all but true/false
    assert MOCKS["boolean"](value) is read


@pytest.mark.parametrize("value", ["maybe", "", "2", 2, 1.0, [True], {"a": 1}])
def test_nothing_else_is_a_boolean(value: Any) -> None:
    with pytest.raises(BadValue, match=r"expected a boolean \(true or false\)"):
        read_boolean(value)


def test_an_input_that_is_not_a_boolean_is_refused() -> None:
    spec = InputSpec("verbose", "verbose", INPUTS["boolean"], False, "boolean")
    assert coerce_all([spec], {"verbose": "TRUE"}) == {"verbose": True}
    assert coerce_all([spec], {}) == {}
    assert coerce_all([spec], {"verbose": None}) == {"verbose": None}  # given as null: kept
    with pytest.raises(InvocationError) as caught:
        coerce_all([spec], {"verbose": "maybe"})
    assert caught.value.problems == [
        {"name": "verbose", "problem": "expected a boolean (true or false)"}
    ]


def test_an_output_that_is_not_a_boolean_is_kept() -> None:
    assert OUTPUTS["boolean"]("maybe") == "maybe"
    assert OUTPUTS["boolean"](2) == 2
    assert OUTPUTS["boolean"](None) is None


@pytest.mark.parametrize(
    ("kind", "value", "read"),
    [
        ("string", 7, "7"),
        ("string", True, "true"),
        ("string", 2.0, "2"),
        ("string", [1], [1]),  # a list declared string: kept, not written out
        ("number", " 2 ", 2),
        ("number", "2.5", 2.5),
        ("number", "nan", "nan"),
        ("number", True, True),
        ("integer", "3", 3),
        ("integer", 4.0, 4),
        ("integer", 4.5, 4.5),
        ("integer", "many", "many"),
    ],
)
def test_outputs_convert_only_where_nothing_is_lost(kind: str, value: Any, read: Any) -> None:
    assert OUTPUTS[kind](value) == read
    assert type(OUTPUTS[kind](value)) is type(read)


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        ("integer", "4.5", "expected an integer"),
        ("number", "inf", "expected a finite number"),
        ("object", "[1]", "expected a JSON object"),
        ("string", {"a": 1}, "expected a string"),
    ],
)
def test_inputs_refuse_what_their_type_cannot_read(kind: str, value: Any, problem: str) -> None:
    with pytest.raises(BadValue, match=problem):
        INPUTS[kind](value)


def test_inputs_keep_repeated_keys_and_wrap_one_value_in_an_array() -> None:
    assert INPUTS["string"](["a", "b"]) == ["a", "b"]
    assert INPUTS["array"]("x") == ["x"] and INPUTS["array"]('["x", 1]') == ["x", 1]
    assert INPUTS[None]({"any": "thing"}) == {"any": "thing"}


async def test_mock_outputs_read_as_outputs_do() -> None:
    """A mock value declared `integer` becomes a number (it was left as text while one
    declared `number` was converted); what a type cannot read stays text."""
    outputs = (
        StaticOutput("flag", "boolean", "{{flag}}"),
        StaticOutput("word", "boolean", "yes"),
        StaticOutput("unsure", "boolean", "maybe"),
        StaticOutput("count", "integer", "{{count}}"),
        StaticOutput("ratio", "number", "0.5"),
        StaticOutput("label", "string", "n={{count}}"),
        StaticOutput("odd", "number", "many"),
    )
    inputs = (
        Input("flag", "argument", "boolean", True, None),
        Input("count", "argument", "integer", True, None),
    )
    operation = compile_static(StaticInvocation(inputs, outputs), "mock")
    result = await operation({"flag": True, "count": "42"})
    assert result.shaped == {
        "flag": True,
        "word": True,
        "unsure": "maybe",
        "count": 42,
        "ratio": 0.5,
        "label": "n=42",
        "odd": "many",
    }
    assert MOCKS is OUTPUTS
