"""The one placeholder grammar (`text/placeholders`): what a `{{name}}` and a `{name}` are,
and the cases where the copies it replaced disagreed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from naftiko_runtime.adapters.rest.routes import RouteTable
from naftiko_runtime.capability.callers import template_names
from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.text.placeholders import (
    Slot,
    is_name,
    norm,
    only_variable,
    parameters,
    path_variables,
    prefix,
    route,
    shape,
    split,
    uri_pattern,
    variables,
)


def test_names_hold_dash_and_dot_as_mustache_names_do() -> None:
    assert all(is_name(n) for n in ("job-id", "env.API_KEY", "a_b", "v2"))
    assert not any(is_name(n) for n in ("a b", "", "a/b", "{a}", "a*"))
    assert variables("{{job-id}} and {{ env.API_KEY }}") == ["job-id", "env.API_KEY"]
    assert norm("job-id") == "job_id"


def test_a_path_holds_both_forms_in_order() -> None:
    assert path_variables("/ships/{{imo}}/crew/{crew-id}/{{ env.X }}") == [
        "imo",
        "crew-id",
        "env.X",
    ]
    assert split("/v{version}.json") == ("/v", Slot("version", False), ".json")
    assert route("/ships/{{ imo }}/{x}") == "/ships/{imo}/{x}"
    assert prefix("/notion/{{path}}") == "/notion/" and prefix("/plain") == "/plain"


def test_only_mustache_placeholders_are_filled_by_binds() -> None:
    """A baseUri's `{name}` is filled by nothing; its `{{name}}` by a bind."""
    assert parameters("https://{tenant}.example.com/{{env.REGION}}") == ["tenant"]


def test_anything_else_between_braces_is_text() -> None:
    """The REST router took `{a b}` for a parameter the model never declared (its value was
    dropped); now it is literal text everywhere."""
    assert path_variables("/files/{a b}/{}") == []
    table: RouteTable[str] = RouteTable()
    table.add("/files/{a b}", "literal")
    table.add("/files/{name}", "param")
    assert table.match("/files/{a b}") == ("/files/{a b}", "literal", {})
    assert table.match("/files/x") == ("/files/{name}", "param", {"name": "x"})


def test_one_shape_for_both_spellings_of_a_route() -> None:
    """`route-conflict` and `check`'s drift shaped `/a/{{x}}` as `/a/{}}`, so it matched
    neither `/a/{y}` nor the upstream's `/a/{id}`; the model serves both as one route."""
    assert shape("/a/{{x}}/b") == "/a/{}/b"
    assert shape("/a/{{x}}") == shape("/a/{y}") == shape("/a/{{ z }}") == "/a/{}"


@pytest.mark.parametrize(
    "uri", ["data://ships/{imo}", "data://ships/{{imo}}", "data://ships/{{ imo }}"]
)
def test_a_resource_uri_template_binds_like_a_path(uri: str) -> None:
    """The MCP adapter matched `{{imo}}` as literal braces around a segment while the rules
    took it for the input `imo`, and neither saw `{{ imo }}`; now each spelling is one
    parameter, bound and matched alike."""
    pattern, names = uri_pattern(uri)
    assert names == ("imo",) and template_names(uri) == ("imo",)
    found = pattern.fullmatch("data://ships/IMO-1")
    assert found is not None and found.groups() == ("IMO-1",)
    assert pattern.fullmatch("data://ships/a/b") is None  # one segment, never a `/`


def test_only_variable_is_one_tag_and_nothing_else() -> None:
    assert only_variable("{{ job-id }}") == "job-id"
    assert only_variable("x{{a}}") is None and only_variable("{a}") is None


SPEC = """\
naftiko: "1.0.0-alpha2"
capability:
  consumes:
    - type: http
      namespace: "{namespace}-api"
      baseUri: "https://api.example.com"
      resources:
        - name: "jobs"
          path: "/v1/jobs/{{{{job_id}}}}"
          operations:
            - name: "get-job"
              method: GET
  exposes:
    - type: rest
      namespace: "{namespace}-rest"
      port: 8080
      resources:
        - path: "{path}"
          operations:
            - method: GET
              call: "{namespace}-api.get-job"
              with:
                job_id: "{namespace}-rest.id"
"""


def test_routes_spelled_both_ways_conflict(write_spec: Callable[..., Path]) -> None:
    first = write_spec(SPEC.format(namespace="a", path="/jobs/{id}"), "a.yaml")
    second = write_spec(SPEC.format(namespace="b", path="/jobs/{{id}}"), "b.yaml")
    found = [d for d in load_paths([first, second], build_model=False).diagnostics]
    conflicts = [d for d in found if d.rule == "route-conflict"]
    assert len(conflicts) == 1 and conflicts[0].file.endswith("b.yaml"), found
