"""`validate` on small specs: each schema failure class and semantic rule, located exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli

# A valid capability; line numbers below refer to this text.
BASE = """\
naftiko: "1.0.0-alpha2"
info:
  label: "Jobs"
  description: "Job tracking."
binds:
  - namespace: env
    keys:
      API_KEY: API_KEY
capability:
  consumes:
    - type: http
      namespace: "jobs-api"
      baseUri: "https://api.example.com"
      authentication:
        type: bearer
        token: "{{env.API_KEY}}"
      resources:
        - name: "jobs"
          path: "/v1/jobs/{job_id}"
          operations:
            - name: "get_job"
              method: GET
              inputParameters:
                - name: "job_id"
                  in: path
                  type: string
                  required: true
                - name: "verbose"
                  in: query
                  type: boolean
              outputParameters:
                - name: result
                  type: object
                  value: "$."
  exposes:
    - type: rest
      namespace: "jobs-rest"
      port: 8080
      resources:
        - path: "/jobs/{job-id}"
          name: "job"
          operations:
            - method: GET
              name: "get_job"
              call: "jobs-api.get_job"
              with:
                "job_id": "rest.job_id"
                "verbose": "rest.verbose"
              outputParameters:
                - type: object
                  mapping: "$."
    - type: mcp
      namespace: "jobs-mcp"
      port: 9090
      tools:
        - name: "get-job"
          description: "Get a job"
          call: "jobs-api.get_job"
          with:
            "job_id": "tools.job_id"
          outputParameters:
            - type: object
              mapping: "$."
"""


def validate(write_spec: Callable[..., Path], text: str, *extra: str) -> tuple[int, list[Any]]:
    path = write_spec(text)
    result = cli("validate", "--format", "json", "--ignore", "naftiko-", *extra, str(path))
    return result.code, result.json()["diagnostics"]


def only(diags: list[Any], rule: str) -> dict[str, Any]:
    matching = [d for d in diags if d["rule"] == rule]
    assert len(matching) == 1, diags
    return matching[0]


def test_base_spec_is_valid(write_spec: Callable[..., Path]) -> None:
    code, diags = validate(write_spec, BASE)
    assert (code, diags) == (0, [])


def position(text: str, anchor: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) where the `occurrence`-th `anchor` starts in `text`."""
    offset = -1
    for _ in range(occurrence):
        offset = text.index(anchor, offset + 1)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# (old, new, rule, anchor where the finding must point, pointer, words in message or hint)
CASES = [
    # schema failure classes
    (
        'naftiko: "1.0.0-alpha2"',
        'naftiko: "1.0.0-alpha1"',
        "version",
        '"1.0.0-alpha1"',
        "/naftiko",
        "supported: 1.0.0-alpha2, 1.0.0-alpha3",
    ),
    ('  label: "Jobs"\n', "", "schema-required", 'description: "Job', "/info", "'label'"),
    (
        "      port: 8080",
        "      port: eighty",
        "schema-type",
        "eighty",
        "/capability/exposes/0/port",
        "not of type integer",
    ),
    (
        "      port: 9090",
        "      port: 90900",
        "schema-range",
        "90900",
        "/capability/exposes/1/port",
        "90900",
    ),
    (
        "            - method: GET",
        "            - method: FETCH",
        "schema-enum",
        "FETCH",
        "/capability/exposes/0/resources/0/operations/0/method",
        "FETCH",
    ),
    (
        '      baseUri: "https://api.example.com"',
        '      baseUri: "ftp://x"',
        "schema-pattern",
        '"ftp://x"',
        "/capability/consumes/0/baseUri",
        "does not match",
    ),
    (
        '          name: "job"',
        '          nmae: "job"',
        "schema-unknown-property",
        "nmae",
        "/capability/exposes/0/resources/0/nmae",
        "did you mean 'name'",
    ),
    (
        "                  in: query",
        "                  in: querystring",
        "param-location",
        "querystring",
        "/capability/consumes/0/resources/0/operations/0/inputParameters/1/in",
        "query, header, path, cookie, body",
    ),
    ("      port: 8080\n", "", "schema-required", "type: rest", "/capability/exposes/0", "'port'"),
    # semantic rules
    (
        '              call: "jobs-api.get_job"',
        '              call: "jobs-api.get_jobs"',
        "call-target",
        '"jobs-api.get_jobs"',
        "/capability/exposes/0/resources/0/operations/0/call",
        "did you mean 'jobs-api.get_job'",
    ),
    (
        '                "verbose": "rest.verbose"',
        '                "verbos": "rest.verbose"',
        "with-key",
        '"verbos"',
        "/capability/exposes/0/resources/0/operations/0/with/verbos",
        "did you mean 'verbose'",
    ),
    (
        '        - path: "/jobs/{job-id}"',
        '        - path: "/jobs/{job-id}/{other}"',
        "path-param",
        '"/jobs/{job-id}/{other}"',
        "/capability/exposes/0/resources/0/path",
        "{other}",
    ),
    (
        '            "job_id": "tools.job_id"',
        '            "verbose": "tools.v"',
        "required-param",
        '"jobs-api.get_job"\n          with:\n            "verbose"',
        "/capability/exposes/1/tools/0/call",
        "'job_id'",
    ),
    (
        '        token: "{{env.API_KEY}}"',
        '        token: "{{env.API_TOKEN}}"',
        "binding",
        '"{{env.API_TOKEN}}"',
        "/capability/consumes/0/authentication/token",
        "no key 'API_TOKEN'",
    ),
    (
        '      namespace: "jobs-mcp"',
        '      namespace: "jobs-rest"',
        "namespace-unique",
        '"jobs-rest"\n      port: 9090',
        "/capability/exposes/1/namespace",
        "already used",
    ),
    (
        "      port: 9090",
        "      port: 8080",
        "port-conflict",
        "8080\n      tools",
        "/capability/exposes/1/port",
        "rest adapter",
    ),
    (
        '                  value: "$."',
        '                  value: "$.[?(@.x ==]"',
        "jsonpath",
        '"$.[?(@.x ==]"',
        "/capability/consumes/0/resources/0/operations/0/outputParameters/0/value",
        "invalid JSONPath",
    ),
    (
        '        token: "{{env.API_KEY}}"',
        '        token: "{{#env.API_KEY}}"',
        "template-syntax",
        '"{{#env.API_KEY}}"',
        "/capability/consumes/0/authentication/token",
        "never closed",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "rule", "anchor", "pointer", "words"),
    CASES,
    ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)],
)
def test_each_failure_is_located(
    write_spec: Callable[..., Path],
    old: str,
    new: str,
    rule: str,
    anchor: str,
    pointer: str,
    words: str,
) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    code, diags = validate(write_spec, text)
    assert code == 1
    found = only(diags, rule)
    assert (found["line"], found["column"]) == position(text, anchor)
    assert found["pointer"] == pointer
    assert words in found["message"] + (found["hint"] or "")


def validate_beside_base(write_spec: Callable[..., Path], moved_port: str) -> list[Any]:
    """BASE as a.yaml and, as b.yaml, a copy with other namespaces and one port moved."""
    first = write_spec(BASE, "a.yaml")
    second = write_spec(
        BASE.replace("jobs-rest", "other-rest")
        .replace("jobs-mcp", "other-mcp")
        .replace(f"port: {moved_port}", f"port: {int(moved_port) + 1}"),
        "b.yaml",
    )
    result = cli("validate", "--format", "json", "--ignore", "naftiko-", str(first), str(second))
    assert result.code == 1
    diagnostics: list[Any] = result.json()["diagnostics"]
    return diagnostics


def test_route_conflict_across_files(write_spec: Callable[..., Path]) -> None:
    found = only(validate_beside_base(write_spec, "9090"), "route-conflict")
    line, column = position(BASE, 'GET\n              name: "get_job"')
    assert found["file"].endswith("b.yaml") and (found["line"], found["column"]) == (line, column)
    assert "GET /jobs/{job-id} on port 8080" in found["message"]
    assert f"a.yaml:{line}:{column}" in found["message"]


def test_tool_conflict_across_files(write_spec: Callable[..., Path]) -> None:
    found = only(validate_beside_base(write_spec, "8080"), "tool-conflict")
    assert found["file"].endswith("b.yaml")
    assert (found["line"], found["column"]) == position(BASE, '"get-job"')
    assert "'get-job'" in found["message"]


def test_all_problems_in_all_files_are_reported(write_spec: Callable[..., Path]) -> None:
    bad = BASE.replace("port: 8080", "port: x").replace('"jobs-api.get_job"', '"nope.get_job"')
    first = write_spec(bad, "a.yaml")
    second = write_spec(bad.replace("jobs-", "j2-").replace("9090", "9091"), "b.yaml")
    result = cli("validate", "--format", "json", "--ignore", "naftiko-", str(first), str(second))
    rules = sorted((d["file"][-6:], d["rule"]) for d in result.json()["diagnostics"])
    assert rules == [
        ("a.yaml", "call-target"),
        ("a.yaml", "call-target"),
        ("a.yaml", "schema-type"),
        ("b.yaml", "call-target"),
        ("b.yaml", "call-target"),
        ("b.yaml", "schema-type"),
    ]


def test_one_of_failure_reports_the_branch_meant(write_spec: Callable[..., Path]) -> None:
    # an MCP adapter with a bad port: the error is about the port, not "no branch matched"
    code, diags = validate(write_spec, BASE.replace("      port: 9090", '      port: "nine"'))
    assert code == 1
    assert [(d["rule"], d["pointer"]) for d in diags] == [
        ("schema-type", "/capability/exposes/1/port")
    ]


def test_stdio_mcp_with_port_is_one_clear_error(write_spec: Callable[..., Path]) -> None:
    text = BASE.replace("      port: 9090", "      transport: stdio\n      port: 9090")
    code, diags = validate(write_spec, text)
    assert code == 1 and [d["rule"] for d in diags] == ["schema-not"]
    assert diags[0]["pointer"] == "/capability/exposes/1"


def test_with_key_on_undeclared_operation_is_a_warning(write_spec: Callable[..., Path]) -> None:
    text = BASE.replace(
        """              inputParameters:
                - name: "job_id"
                  in: path
                  type: string
                  required: true
                - name: "verbose"
                  in: query
                  type: boolean
""",
        "",
    ).replace('path: "/v1/jobs/{job_id}"', 'path: "/v1/jobs"')
    code, diags = validate(write_spec, text)
    assert code == 0
    assert {d["rule"] for d in diags} == {"with-key"}
    assert all(d["severity"] == "warning" for d in diags)


def test_strict_reports_dialect_as_portability(write_spec: Callable[..., Path]) -> None:
    code, diags = validate(write_spec, BASE, "--strict")
    assert code == 1
    assert {d["rule"] for d in diags} == {"portability"}
    located = {(d["line"], d["column"]) for d in diags}
    assert position(BASE, '"get_job"') in located  # snake_case consumed operation name
    assert position(BASE, "type: string") in located  # type on a consumed input parameter
    assert position(BASE, "type: object", 3) in located  # an output mapping without properties


def test_strict_reports_description_on_rest_adapter(write_spec: Callable[..., Path]) -> None:
    text = BASE.replace(
        '      namespace: "jobs-rest"\n',
        '      namespace: "jobs-rest"\n      description: "REST"\n',
    )
    assert validate(write_spec, text)[0] == 0
    code, diags = validate(write_spec, text, "--strict")
    assert any(
        (d["line"], d["column"]) == position(text, 'description: "REST"')
        and "'description' on a rest adapter" in d["message"]
        for d in diags
    )


def test_alpha3_is_accepted(write_spec: Callable[..., Path]) -> None:
    assert validate(write_spec, BASE.replace("alpha2", "alpha3"))[0] == 0


def test_templated_host_is_a_warning_that_names_the_fix(write_spec: Callable[..., Path]) -> None:
    text = BASE.replace(
        'baseUri: "https://api.example.com"', 'baseUri: "https://{tenant}.example.com"'
    )
    code, diags = validate(write_spec, text)
    assert code == 0
    found = only(diags, "base-uri")
    assert found["severity"] == "warning" and "{tenant}" in found["message"]
    assert (found["line"], found["column"]) == position(text, '"https://{tenant}')
    assert found["hint"] == "serve with --upstream jobs-api=URL"
