"""The official Naftiko lint rules: one file per rule that breaks only that rule (at the line
Spectral reports) and the clean file that passes them all; rule selection, ignore comments,
--max-warnings, --compile (the docs' rule table is kept in step with the registry by
tests/docs/test_reference_pages.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from naftiko_runtime.capability.rules.official import RULES as OFFICIAL_RULES
from tests.capability.test_validate_rules import position
from tests.conftest import cli


@pytest.fixture(autouse=True)
def script_beside_the_spec(tmp_path: Path) -> None:
    """The script step's file exists beside the spec (`validate` reads script files)."""
    (tmp_path / "scripts").mkdir(exist_ok=True)
    (tmp_path / "scripts" / "shape.js").write_text("result = context;")


CLEAN = """\
naftiko: "1.0.0-alpha2"
info:
  label: "Clean"
  description: "Passes every official rule."
  tags: [demo]
capability:
  consumes:
    - type: http
      namespace: api
      description: "The upstream."
      baseUri: "https://api.acme.test/v1"
      resources:
        - name: items
          path: "/items"
          operations:
            - name: list-items
              method: GET
  aggregates:
    - label: "Items"
      namespace: items
      functions:
        - name: list
          description: "List items."
          semantics:
            safe: true
            idempotent: true
          call: api.list-items
  exposes:
    - type: rest
      namespace: items-rest
      port: 8080
      address: "127.0.0.1"
      resources:
        - path: "/items"
          description: "Items."
          operations:
            - method: GET
              name: list
              description: "List items."
              ref: items.list
        - path: "/steps"
          description: "Steps."
          operations:
            - method: GET
              name: stepped
              description: "Steps."
              steps:
                - name: fetch
                  type: call
                  call: api.list-items
                - name: shape
                  type: script
                  language: javascript
                  location: "file:///./scripts"
                  file: shape.js
              mappings:
                - targetName: all
                  value: "$.fetch"
    - type: mcp
      namespace: items-mcp
      port: 9090
      description: "Tools."
      tools:
        - name: list
          description: "List items."
          ref: items.list
          hints:
            readOnly: true
    - type: control
      port: 9191
      address: localhost
"""

OAUTH = """\
      authentication:
        type: oauth2
        authorizationServerUri: "https://auth.acme.test"
        resource: "https://api.acme.test/mcp"
        scopes: [read]
"""

# (rule, old, new, anchor, occurrence): `new` replaces `old` once; the finding is at `anchor`
CASES: list[tuple[str, str, str, str, int]] = [
    ("naftiko-namespaces-unique", "namespace: items-mcp", "namespace: items-rest", "items-rest", 2),
    (
        "naftiko-consumes-baseuri-no-trailing-slash",
        '"https://api.acme.test/v1"',
        '"https://api.acme.test/v1/"',
        '"https://api.acme.test/v1/"',
        1,
    ),
    (
        "naftiko-consumed-resource-no-query-in-path",
        'path: "/items"\n          operations:\n            - name: list-items',
        'path: "/items?all=1"\n          operations:\n            - name: list-items',
        '"/items?all=1"',
        1,
    ),
    (
        "naftiko-rest-resource-path-no-trailing-slash",
        'path: "/steps"',
        'path: "/steps/"',
        '"/steps/"',
        1,
    ),
    ("naftiko-rest-resource-path-no-query", 'path: "/steps"', 'path: "/steps?x"', '"/steps?x"', 1),
    (
        "naftiko-address-not-example",
        'address: "127.0.0.1"',
        'address: "api.example.com"',
        '"api.example.com"',
        1,
    ),
    (
        "naftiko-aggregate-function-description",
        '          description: "List items."\n          semantics:',
        "          semantics:",
        "name: list\n          semantics",
        1,
    ),
    ("naftiko-aggregate-semantics-consistency", "readOnly: true", "readOnly: false", "false", 1),
    (
        "naftiko-mcp-auth-stdio-conflict",
        "      port: 9090\n",
        "      transport: stdio\n      authentication:\n        type: bearer\n        token: abc\n",
        "authentication:",
        1,
    ),
    (
        "naftiko-oauth2-https-authserver",
        "      port: 9090\n",
        "      port: 9090\n" + OAUTH.replace('"https://auth', '"http://auth'),
        '"http://auth',
        1,
    ),
    (
        "naftiko-oauth2-resource-https",
        "      port: 9090\n",
        "      port: 9090\n" + OAUTH.replace('"https://api', '"http://api'),
        '"http://api',
        1,
    ),
    (
        "naftiko-oauth2-scopes-defined",
        "      port: 9090\n",
        "      port: 9090\n" + OAUTH.replace("        scopes: [read]\n", ""),
        "authentication:",
        1,
    ),
    ("naftiko-info-tags", "  tags: [demo]\n", "", "info:", 1),
    ("naftiko-consumes-description", '      description: "The upstream."\n', "", "type: http", 1),
    (
        "naftiko-rest-resource-description",
        '          description: "Steps."\n',
        "",
        'path: "/steps"',
        1,
    ),
    (
        "naftiko-rest-operation-description",
        '              description: "Steps."\n',
        "",
        "method: GET\n              name: stepped",
        1,
    ),
    ("naftiko-steps-name-pattern", "- name: fetch", "- name: fetch.all", "fetch.all", 1),
    (
        "naftiko-no-script-tags-in-markdown",
        '"Passes every official rule."',
        '"Passes <script>alert(1)</script>"',
        '"Passes <script>',
        1,
    ),
    (
        "naftiko-no-eval-in-markdown",
        '"Passes every official rule."',
        '"Passes eval(x)"',
        '"Passes eval(x)"',
        1,
    ),
    (
        "naftiko-baseuri-not-example",
        '"https://api.acme.test/v1"',
        '"https://api.example.com/v1"',
        '"https://api.example.com/v1"',
        1,
    ),
    (
        "naftiko-control-port-singleton-and-unique",
        "      port: 9191",
        "      port: 9090",
        "9090",
        2,
    ),
    (
        "naftiko-control-address-localhost-warning",
        "address: localhost",
        "address: 0.0.0.0",
        "0.0.0.0",
        1,
    ),
    (
        "naftiko-script-defaults-required",
        "                  language: javascript\n",
        "",
        "name: shape",
        1,
    ),
]


def lint(write_spec: Callable[..., Path], text: str, *extra: str) -> tuple[int, list[Any]]:
    result = cli("validate", "--format", "json", "--all-rules", *extra, str(write_spec(text)))
    return result.code, result.json()["diagnostics"]


def test_the_clean_file_passes_every_official_rule(write_spec: Callable[..., Path]) -> None:
    code, diagnostics = lint(write_spec, CLEAN)
    assert (code, diagnostics) == (0, [])


def test_every_official_rule_has_a_case() -> None:
    assert {case[0] for case in CASES} == {rule.id for rule in OFFICIAL_RULES}
    assert len(OFFICIAL_RULES) == 23  # the ruleset defines 23 ids


@pytest.mark.parametrize(("rule", "old", "new", "anchor", "occurrence"), CASES)
def test_each_official_rule_fires_alone_where_spectral_reports_it(
    write_spec: Callable[..., Path], rule: str, old: str, new: str, anchor: str, occurrence: int
) -> None:
    assert old in CLEAN, old
    text = CLEAN.replace(old, new, 1)
    code, diagnostics = lint(write_spec, text)
    official = [d for d in diagnostics if d["rule"].startswith("naftiko-")]
    assert [d["rule"] for d in official] == [rule], diagnostics
    [found] = official
    line, _ = position(text, anchor, occurrence)
    assert found["line"] == line, (found, line)
    expected = next(r for r in OFFICIAL_RULES if r.id == rule)
    assert found["severity"] == expected.severity.value
    assert code == (1 if any(d["severity"] == "error" for d in diagnostics) else 0)


def test_off_by_default_rules_need_all_rules(write_spec: Callable[..., Path]) -> None:
    text = CLEAN.replace("  tags: [demo]\n", "")
    default = cli("validate", "--format", "json", str(write_spec(text))).json()["diagnostics"]
    assert default == []
    assert [d["rule"] for d in lint(write_spec, text)[1]] == ["naftiko-info-tags"]


def test_select_ignore_and_max_warnings(write_spec: Callable[..., Path]) -> None:
    text = CLEAN.replace('path: "/steps"', 'path: "/steps/"').replace(
        '          description: "Steps."\n          operations:', "          operations:"
    )
    path = write_spec(text)
    rules = {
        d["rule"] for d in cli("validate", "--format", "json", str(path)).json()["diagnostics"]
    }
    assert rules == {
        "naftiko-rest-resource-path-no-trailing-slash",
        "naftiko-rest-resource-description",
    }
    only = cli("validate", "--format", "json", "--select", "naftiko-rest-resource-d", str(path))
    assert [d["rule"] for d in only.json()["diagnostics"]] == ["naftiko-rest-resource-description"]
    ignored = cli("validate", "--format", "json", "--ignore", "naftiko-", str(path))
    assert ignored.json()["diagnostics"] == []
    assert cli("validate", str(path)).code == 0  # warnings never fail a run...
    assert cli("validate", "--max-warnings", "1", str(path)).code == 1  # ...unless asked
    assert cli("validate", "--max-warnings", "2", str(path)).code == 0


def test_ignore_comments_need_a_known_rule_and_a_reason(write_spec: Callable[..., Path]) -> None:
    broken = CLEAN.replace('path: "/steps"', 'path: "/steps/"')
    reason = "# naftiko-runtime: ignore naftiko-rest-resource-path-no-trailing-slash - legacy\n"
    assert lint(write_spec, reason + broken)[1] == []
    code, diagnostics = lint(
        write_spec,
        "# naftiko-runtime: ignore naftiko-rest-resource-path-no-trailing-slash\n" + broken,
    )
    assert {d["rule"] for d in diagnostics} == {
        "ignore-comment",
        "naftiko-rest-resource-path-no-trailing-slash",
    }
    code, diagnostics = lint(write_spec, "# naftiko-runtime: ignore call-target - nope\n" + CLEAN)
    [problem] = diagnostics
    assert problem["rule"] == "ignore-comment" and "cannot be ignored" in problem["message"]
    _, diagnostics = lint(write_spec, "# naftiko-runtime: ignore no-such-rule - why\n" + CLEAN)
    assert "unknown rule" in diagnostics[0]["message"]


def test_missing_script_file_is_found_without_compile(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    """Plain `validate` reads script files as serve would: a missing one is reported at the
    step's `file`, once (not at the operation, not repeated in the message)."""
    path = write_spec(CLEAN)
    (tmp_path / "scripts" / "shape.js").unlink()
    for extra in ((), ("--compile",)):
        result = cli("validate", *extra, "--format", "json", str(path))
        assert result.code == 1
        [problem] = result.json()["diagnostics"]
        assert problem["rule"] == "script-file" and "'shape.js'" in problem["message"]
        assert (problem["line"], problem["column"]) == position(CLEAN, "shape.js")
        assert problem["pointer"].endswith("/steps/1/file")
        assert str(tmp_path) not in problem["message"]
        assert f":{problem['line']}:" not in problem["message"]
    (tmp_path / "scripts" / "shape.js").write_text("result = 1;")
    assert cli("validate", "--compile", str(path)).code == 0
