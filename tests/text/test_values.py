"""The one value → text rule (`text/values.to_text`) and the one name lookup."""

from __future__ import annotations

from typing import Any

import pytest

import naftiko_runtime.engine.request as request
import naftiko_runtime.openapi.targets as targets
from naftiko_runtime.text.templating import Template
from naftiko_runtime.text.values import lookup, lookup_either, to_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),  # JSON's and Java's spelling, not Python's `True`
        (False, "false"),
        (None, ""),
        (2.0, "2"),  # a whole float as the integer it is
        (2.5, "2.5"),
        (7, "7"),
        ("é", "é"),
        ({"a": [1, "é"]}, '{"a":[1,"é"]}'),  # compact JSON, not ASCII-escaped
        ([True, None], "[true,null]"),
    ],
)
def test_to_text(value: Any, text: str) -> None:
    assert to_text(value) == text


def test_a_template_and_a_request_render_values_alike() -> None:
    """`check --exercise` wrote its own rule (`{"a": 1}` with a space, `2.0`, `None`) for the
    requests it sends; it now sends what the engine sends."""
    values = {"flag": True, "n": 2.0, "obj": {"a": 1}}
    assert Template("{{flag}} {{n}} {{obj}}").render(values) == 'true 2 {"a":1}'
    assert request.to_text is to_text and targets.to_text is to_text  # no copy of their own


def test_lookup_reads_the_whole_name_then_dotted_segments() -> None:
    scope = {"env.KEY": "whole", "env": {"KEY": "nested"}, "items": [{"id": 1}]}
    assert lookup(scope, "env.KEY") == "whole"
    assert lookup({"env": {"KEY": "nested"}}, "env.KEY") == "nested"
    assert lookup(scope, "items.0.id") == 1
    assert lookup(scope, "items.5.id") is None


def test_a_kebab_name_falls_back_to_its_snake_spelling() -> None:
    scope = {"job_id": 0}
    assert lookup(scope, "job-id") is None
    assert lookup_either(scope, "job-id") == 0  # a falsy value is still found
