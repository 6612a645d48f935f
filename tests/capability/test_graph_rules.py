"""`validate` on graphs: step names, step references, lookups, script languages, aggregate
refs, forward targets, baseUri slashes, apikey placement, output depth — each located."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.capability.test_validate_rules import position
from tests.conftest import cli


@pytest.fixture(autouse=True)
def script_beside_the_spec(tmp_path: Path) -> None:
    """The script step's file exists beside the spec (`validate` reads script files)."""
    (tmp_path / "scripts").mkdir(exist_ok=True)
    (tmp_path / "scripts" / "shape.js").write_text("result = context;")


BASE = """\
naftiko: "1.0.0-alpha2"
capability:
  consumes:
    - type: http
      namespace: api
      baseUri: "https://api.example.com"
      authentication:
        type: apikey
        key: X-Key
        value: "secret"
        placement: header
      resources:
        - name: ships
          path: "/ships"
          operations:
            - name: list-ships
              method: GET
        - name: crew
          path: "/crew"
          operations:
            - name: list-crew
              method: GET
  aggregates:
    - label: "Fleet"
      namespace: fleet
      functions:
        - name: crew-of
          description: "Crew of a ship"
          steps:
            - name: ships
              type: call
              call: api.list-ships
            - name: crew
              type: call
              call: api.list-crew
            - name: pick
              type: lookup
              index: crew
              match: crewId
              lookupValue: "$.ships.crew"
              outputParameters: [fullName, role]
            - name: again
              type: lookup
              index: pick
              match: fullName
              lookupValue: "$.ships.captain"
              outputParameters: [role]
            - name: shape
              type: script
              language: javascript
              location: "file:///./scripts"
              file: shape.js
          mappings:
            - targetName: crew
              value: "$.pick"
  exposes:
    - type: rest
      namespace: fleet-rest
      port: 8080
      resources:
        - path: "/crew"
          operations:
            - method: GET
              name: crew
              ref: fleet.crew-of
        - path: "/proxy/{path}"
          forward:
            targetNamespace: api
"""

CASES = [
    # (old, new, rule, anchor, occurrence, words)
    (
        "            - name: again\n",
        "            - name: pick\n",
        "step-name",
        "pick",
        2,
        "already",
    ),
    (
        'lookupValue: "$.ships.crew"',
        'lookupValue: "$.shape.crew"',
        "step-reference",
        '"$.shape.crew"',
        1,
        "runs later",
    ),
    (
        "              index: crew\n",
        "              index: crews\n",
        "step-reference",
        "crews",
        1,
        "did you mean 'crew'",
    ),
    ('value: "$.pick"', 'value: "$.picked"', "step-reference", '"$.picked"', 1, "does not have"),
    (
        "              match: fullName",
        "              match: name",
        "lookup-field",
        'name\n              lookupValue: "$.ships.captain"',
        1,
        "returns fullName, role",
    ),
    ("language: javascript", "language: groovy", "script-language", "groovy", 1, "JVM"),
    (
        'baseUri: "https://api.example.com"',
        'baseUri: "https://api.example.com/"',
        "base-uri-slash",
        '"https://api.example.com/"',
        1,
        "refuses",
    ),
    ("targetNamespace: api", "targetNamespace: apx", "forward-target", "apx", 1, "not a consumed"),
    (
        "        - name: crew-of\n          description",
        '        - name: crew-of\n          description: "again"\n          call: api.list-crew\n'
        "        - name: crew-of\n          description",
        "aggregate-duplicate",
        "crew-of",
        2,
        "already defined",
    ),
]


def validate(write_spec: Callable[..., Path], text: str) -> tuple[int, list[Any]]:
    path = write_spec(text)
    result = cli("validate", "--format", "json", "--ignore", "naftiko-", str(path))
    return result.code, result.json()["diagnostics"]


def test_base_graph_is_valid(write_spec: Callable[..., Path]) -> None:
    assert validate(write_spec, BASE) == (0, [])


@pytest.mark.parametrize(("old", "new", "rule", "anchor", "occurrence", "words"), CASES)
def test_each_graph_rule_is_located(
    write_spec: Callable[..., Path],
    old: str,
    new: str,
    rule: str,
    anchor: str,
    occurrence: int,
    words: str,
) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    code, diags = validate(write_spec, text)
    assert code == 1, diags
    [found] = [d for d in diags if d["rule"] == rule]
    assert [d for d in diags if d["severity"] == "error"] == [found]
    assert (found["line"], found["column"]) == position(text, anchor, occurrence)
    assert words in found["message"] + (found.get("hint") or "")


def test_apikey_without_placement_is_a_warning(write_spec: Callable[..., Path]) -> None:
    code, diags = validate(write_spec, BASE.replace("        placement: header\n", ""))
    assert code == 0
    [warning] = diags
    assert (warning["rule"], warning["severity"]) == ("apikey-placement", "warning")


def test_outputs_nested_too_deep_are_a_diagnostic_not_a_crash(
    write_spec: Callable[..., Path],
) -> None:
    output = "              outputParameters:\n"
    indent = "                "
    output += f"{indent}- type: object\n"
    for level in range(40):
        pad = indent + "  " + "    " * level
        kind = "object" if level < 39 else "string\n" + pad + '    mapping: "$.x"'
        output += f"{pad}properties:\n{pad}  p{level}:\n{pad}    type: {kind}\n"
    text = BASE.replace(
        "              ref: fleet.crew-of\n", "              call: api.list-ships\n" + output
    )
    code, diags = validate(write_spec, text)
    assert code == 1
    assert [d["rule"] for d in diags if d["severity"] == "error"] == ["output-depth"]


def test_avro_and_protobuf_need_their_schema_and_html_selectors_parse(
    write_spec: Callable[..., Path],
) -> None:
    for fmt in ("avro", "protobuf"):
        text = BASE.replace(
            "            - name: list-ships\n              method: GET\n",
            f"            - name: list-ships\n              method: GET\n"
            f"              outputRawFormat: {fmt}\n",
        )
        code, diags = validate(write_spec, text)
        [found] = diags
        assert (code, found["rule"]) == (1, "output-schema")
        assert (found["line"], found["column"]) == position(text, fmt, 1)
    text = BASE.replace(
        "            - name: list-ships\n              method: GET\n",
        "            - name: list-ships\n              method: GET\n"
        '              outputRawFormat: html\n              outputSchema: "[[["\n',
    )
    code, diags = validate(write_spec, text)
    assert [d["rule"] for d in diags] == ["output-schema"] and code == 1
