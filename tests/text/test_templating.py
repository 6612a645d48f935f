"""Mustache as the reference engine renders it (names with - and ., no escaping)."""

from __future__ import annotations

import pytest

from naftiko_runtime.text.templating import Template, TemplateSyntaxError


def test_names_with_dashes_and_dots() -> None:
    scope = {"job-id": "j-1", "env": {"LETTA_API_KEY": "k"}}
    assert Template("/jobs/{{job-id}}?k={{env.LETTA_API_KEY}}").render(scope) == "/jobs/j-1?k=k"


def test_missing_variable_renders_empty_and_nothing_is_escaped() -> None:
    assert Template("hello {{a}}/{{b}}").render({"a": "<alice>&"}) == "hello <alice>&/"


def test_lists_and_maps_render_as_json_and_sections_iterate() -> None:
    assert Template("{{x}}").render({"x": {"a": [1, True]}}) == '{"a":[1,true]}'
    assert (
        Template("{{#xs}}[{{.}}]{{/xs}}{{^ys}}none{{/ys}}").render({"xs": [1, 2]}) == "[1][2]none"
    )


def test_variables_are_known_at_compile_time() -> None:
    assert Template("{{a}} {{#b}}{{c}}{{/b}} {{! note }}").variables == ("a", "b", "c")


@pytest.mark.parametrize("bad", ["{{#open}}", "{{/close}}", "{{> partial}}", "{{bad name}}"])
def test_syntax_errors(bad: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        Template(bad)
