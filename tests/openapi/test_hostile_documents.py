"""Hostile or broken OpenAPI documents given to `import openapi` and `check --against`: a
1 KB YAML alias bomb, a 24-level `$ref` fan-out (2^24 paths to one schema), a `$ref` cycle
through `anyOf`, and values of the wrong type anywhere. Each command ends within seconds,
with a clean error (`naftiko-runtime: error: ...`, exit 2) or its ordinary result, never a
traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, cli
from tests.fixtures.specs import api_header

pytestmark = pytest.mark.e2e

SECONDS = 10  # each command, start-up included, on a shared machine
CAPABILITY = (
    api_header(base_uri="http://127.0.0.1:9/api")
    + """\
        - name: items
          path: "/items"
          operations:
            - name: list-items
              method: GET
              inputParameters:
                - name: q
                  in: query
                  type: string
  exposes:
    - type: rest
      namespace: api-rest
      port: 8080
      resources:
        - path: "/items"
          operations:
            - method: GET
              call: api.list-items
"""
)


def document(q_schema: Any, schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    """One GET /items whose query parameter `q` has `q_schema`."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "Items", "version": "1"},
        "servers": [{"url": "http://127.0.0.1:9/api"}],
        "paths": {
            "/items": {
                "get": {
                    "operationId": "listItems",
                    "parameters": [{"name": "q", "in": "query", "schema": q_schema}],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "components": {"schemas": schemas or {}},
    }


def alias_bomb() -> str:
    """~1 KB of YAML: nine levels of nine aliases each, 9^9 schemas once written out."""
    lines = ["x-levels:", "  l0: &l0 {type: string}"]
    for level in range(1, 10):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"  l{level}: &l{level} {{anyOf: [{refs}]}}")
    head = yaml.safe_dump({k: v for k, v in document({}).items() if k != "paths"})
    paths = (
        "paths:\n  /items:\n    get:\n      operationId: listItems\n      parameters:\n"
        "        - {name: q, in: query, schema: *l9}\n"
        "      responses: {'200': {description: ok}}\n"
    )
    return head + "\n".join(lines) + "\n" + paths


def fan_out() -> dict[str, Any]:
    """24 schemas, each an `anyOf` of two `$ref`s to the next: 2^24 paths to a string."""
    schemas: dict[str, Any] = {
        f"S{i}": {"anyOf": [{"$ref": f"#/components/schemas/S{i + 1}"}] * 2} for i in range(24)
    }
    schemas["S24"] = {"type": "string"}
    return document({"$ref": "#/components/schemas/S0"}, schemas)


def cycle() -> dict[str, Any]:
    """A schema that is itself or a string."""
    schemas = {"S": {"anyOf": [{"$ref": "#/components/schemas/S"}, {"type": "string"}]}}
    return document({"$ref": "#/components/schemas/S"}, schemas)


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "naftiko_runtime", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=SECONDS,
    )


def _both(tmp_path: Path, name: str, text: str) -> list[subprocess.CompletedProcess[str]]:
    """`import openapi` and `check --against` on the document `text`."""
    spec = tmp_path / name
    spec.write_text(text)
    capability = tmp_path / "items.yaml"
    capability.write_text(CAPABILITY)
    done = [
        _run("import", "openapi", str(spec)),
        _run("check", str(capability), "--against", str(spec)),
    ]
    for result in done:
        assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return done


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    text = alias_bomb()
    assert len(text) < 1500
    for result in _both(tmp_path, "bomb.yaml", text):
        assert result.returncode == 2, result
        assert "naftiko-runtime: error: " in result.stderr
        assert "YAML aliases expand it past 1000000 more nodes" in result.stderr


def test_a_ref_fan_out_is_walked_once_per_schema(tmp_path: Path) -> None:
    imported, checked = _both(tmp_path, "fan-out.json", json.dumps(fan_out()))
    assert imported.returncode == 0, imported.stderr
    tools = yaml.safe_load(imported.stdout)["capability"]["exposes"][1]["tools"]
    assert tools[0]["inputParameters"][0]["type"] == "string"
    assert checked.returncode == 0, checked.stdout
    assert "0 error(s)" in checked.stdout


def test_a_ref_cycle_through_any_of_adds_nothing_to_the_types(tmp_path: Path) -> None:
    """A recursive schema: the types found on the way (here a string); the cycle itself
    says nothing more."""
    imported, checked = _both(tmp_path, "cycle.json", json.dumps(cycle()))
    assert imported.returncode == 0, imported.stderr
    tools = yaml.safe_load(imported.stdout)["capability"]["exposes"][1]["tools"]
    assert tools[0]["inputParameters"][0]["type"] == "string"
    assert checked.returncode == 0, checked.stdout


def test_a_yaml_alias_to_its_own_container_is_refused(tmp_path: Path) -> None:
    text = alias_bomb().replace("*l9}", "&self {anyOf: [*self]}}")
    for result in _both(tmp_path, "self.yaml", text):
        assert result.returncode == 2, result
        assert "a YAML alias refers to a node that contains it" in result.stderr


def _broken(change: str) -> dict[str, Any]:
    """The fan-out-free document with one value of the wrong type."""
    doc = document({"type": "string"}, {"Q": {"type": "string"}})
    get = doc["paths"]["/items"]["get"]
    changes: dict[str, Any] = {
        "paths-a-list": lambda: doc.update(paths=["/items"]),
        "parameters-a-string": lambda: get.update(parameters="q"),
        "parameter-name-a-list": lambda: get["parameters"][0].update(name=["q"]),
        "responses-a-number": lambda: get.update(responses=1),
        "response-null": lambda: get.update(responses={"200": None}),
        "content-a-number": lambda: get.update(responses={"200": {"content": 1}}),
        "servers-a-string": lambda: doc.update(servers="http://x"),
        "server-variables-a-list": lambda: doc.update(servers=[{"url": "/", "variables": [1]}]),
        "any-of-a-number": lambda: get["parameters"][0].update(schema={"anyOf": 1}),
        "enum-null": lambda: get["parameters"][0].update(schema={"enum": None}),
        "ref-into-null-components": lambda: (
            doc.update(components=None),
            get["parameters"][0].update(schema={"$ref": "#/components/schemas/Q"}),
        ),
        "ref-into-a-string": lambda: (
            doc.update(components="x"),
            get["parameters"][0].update(schema={"$ref": "#/components/schemas/Q"}),
        ),
        "ref-nowhere": lambda: get["parameters"][0].update(schema={"$ref": "#/nowhere"}),
        "host-not-an-address": lambda: doc.update(swagger="2.0", host="[1]", openapi=None),
        "security-a-number": lambda: get.update(security=1),
        "security-schemes-a-list": lambda: doc["components"].update(securitySchemes=[1]),
        "info-a-number": lambda: doc.update(info=1),
    }
    changes[change]()
    return doc


@pytest.mark.parametrize(
    "change",
    [
        "paths-a-list",
        "parameters-a-string",
        "parameter-name-a-list",
        "responses-a-number",
        "response-null",
        "content-a-number",
        "servers-a-string",
        "server-variables-a-list",
        "any-of-a-number",
        "enum-null",
        "ref-into-null-components",
        "ref-into-a-string",
        "ref-nowhere",
        "host-not-an-address",
        "security-a-number",
        "security-schemes-a-list",
        "info-a-number",
    ],
)
def test_a_value_of_the_wrong_type_is_no_traceback(tmp_path: Path, change: str) -> None:
    """Read as absent, or a one-line error (a `$ref` that leads nowhere names the file)."""
    spec = tmp_path / "broken.json"
    spec.write_text(json.dumps(_broken(change)))
    capability = tmp_path / "items.yaml"
    capability.write_text(CAPABILITY)
    for argv in (
        ("import", "openapi", str(spec)),
        ("check", str(capability), "--against", str(spec)),
    ):
        result = cli(*argv)  # an exception here is the traceback a user would see
        assert result.code in (0, 1, 2), result
        if result.code == 2:  # one line: the file and why, or "no operations"
            assert result.err.startswith("naftiko-runtime: error: "), result.err
            assert result.err.count("\n") == 1 and "Error" not in result.err, result.err
