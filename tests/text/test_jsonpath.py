"""The one `$.step...` rule (`text/jsonpath`): where a step's name ends, for the rules, the
step graph and the reader alike."""

from __future__ import annotations

import pytest

from naftiko_runtime.text.jsonpath import path_root, split_step_path, step_path, template_roots


@pytest.mark.parametrize(
    ("expression", "split"),
    [
        ("$.get-ship.imo", ("get-ship", "$.imo")),
        ("$.ships[0].imo", ("ships", "$[0].imo")),
        ("  $.ships  ", ("ships", "")),
        ("$.", None),
        ("$..imo", None),
        ("$['a']", None),
        ("ships.imo", None),
    ],
)
def test_split_step_path(expression: str, split: tuple[str, str] | None) -> None:
    assert split_step_path(expression) == split
    assert path_root(expression) == (split[0] if split else None)


def test_step_path_reads_below_the_step() -> None:
    read = step_path("$.ships[1].imo")
    assert read is not None
    assert read({"ships": [{"imo": "A"}, {"imo": "B"}]}) == "B"
    assert read({}) is None


def test_template_roots() -> None:
    assert template_roots(["step.field", "plain", "a.b.c"]) == {"step", "plain", "a"}
