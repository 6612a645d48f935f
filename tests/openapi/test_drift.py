"""`naftiko-runtime check PATH --against OPENAPI`: every difference between a consumed
operation and the upstream's OpenAPI is a located diagnostic with a rule id, in all four
output formats; the bundled capabilities agree with the Letta OpenAPI."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from naftiko_runtime.cli import run
from tests.conftest import CAPABILITIES, REPO

CORPUS = REPO.parent / "shared" / "corpus"
LETTA_OPENAPI = CORPUS / "letta" / "openapi" / "letta-openapi-full.json"
SEED_RUNS = REPO.parent / "shared" / "seeds" / "letta-runs-capability.txt"
needs_letta = pytest.mark.skipif(not LETTA_OPENAPI.exists(), reason="corpus not present")


def check(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["check", *args], out, err, {})
    return code, out.getvalue(), err.getvalue()


@needs_letta
def test_the_bundled_capabilities_agree_with_the_letta_openapi() -> None:
    code, out, _ = check(str(CAPABILITIES), "--against", str(LETTA_OPENAPI))
    assert code == 0, out
    assert "0 error(s), 0 warning(s)" in out


def seed_runs(tmp: Path) -> Path:
    """The bundled Runs capability as the seed file declared it: the stream body required."""
    if SEED_RUNS.exists():  # the seed itself says so (its indentation is lost: not loadable)
        seed = SEED_RUNS.read_text()
        stream = seed[seed.index('- name: "runs-by-id-stream"') :]
        body = stream[stream.index('- name: "body"') :]
        assert re.match(r'- name: "body"\s+in: body\s+type: object\s+required: true', body)
    text = (CAPABILITIES / "letta-runs.yaml").read_text()
    marker = '- name: "body"\n                  in: body\n                  type: object\n'
    assert text.count(marker) == 1
    text = text.replace(
        marker + "                  required: false", marker + "                  required: true"
    )
    spec = tmp / "letta-runs.yaml"
    spec.write_text(text)
    return spec


@needs_letta
@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_the_seed_stream_body_drift_is_found_in_every_format(tmp_path: Path, fmt: str) -> None:
    spec = seed_runs(tmp_path)
    lines = spec.read_text().splitlines()
    body = next(n for n, text in enumerate(lines) if text.strip() == '- name: "body"')
    line = next(n for n in range(body, len(lines)) if lines[n].strip() == "required: true") + 1
    code, out, _ = check(str(spec), "--against", str(LETTA_OPENAPI), "--format", fmt)
    assert code == 1
    if fmt == "text":
        assert f"letta-runs.yaml:{line}:" in out and "[drift-body-required]" in out
    elif fmt == "json":
        (found,) = json.loads(out)["diagnostics"]
        assert (found["rule"], found["line"], found["severity"]) == (
            "drift-body-required",
            line,
            "error",
        )
        assert found["pointer"].endswith("/inputParameters/1/required")
    elif fmt == "sarif":
        sarif = json.loads(out)
        (result,) = sarif["runs"][0]["results"]
        assert result["ruleId"] == "drift-body-required"
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] == line
        rules = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
        assert "drift-body-required" in rules
    else:
        assert out.startswith("::error file=") and f"line={line}" in out


OPENAPI_30 = """\
openapi: 3.0.3
info: {title: shop, version: "1"}
servers: [{url: "https://shop.example/api/{v}", variables: {v: {default: v2}}}]
paths:
  /orders/{id}:
    parameters:
      - $ref: "common.yaml#/parameters/OrderId"
    get:
      operationId: getOrder
      parameters:
        - {name: expand, in: query, schema: {type: boolean}}
        - {name: X-Tenant, in: header, required: true, schema: {type: string}}
      responses:
        "200": {description: ok, content: {text/event-stream: {}}}
  /orders/:
    post:
      operationId: createOrder
      requestBody: {required: true, content: {application/json: {}}}
      responses:
        "201": {description: made, content: {application/json: {}}}
  /ping:
    get:
      responses: {"200": {description: ok, content: {application/json: {}}}}
"""
COMMON = """\
parameters:
  OrderId: {name: id, in: path, required: true, schema: {type: integer}}
"""
CAPABILITY = """\
naftiko: "1.0.0-alpha2"
info: {label: Shop, description: "Orders."}
capability:
  consumes:
    - type: http
      namespace: shop
      description: "The shop API."
      baseUri: "https://shop.example/api/v2"
      resources:
        - name: order
          path: "/orders/{id}"
          operations:
            - name: get-order
              method: GET
              inputParameters:
                - {name: id, in: path, type: string}
                - {name: expand, in: header, type: boolean}
                - {name: verbose, in: query, type: boolean}
              outputRawFormat: json
        - name: orders
          path: "/orders"
          operations:
            - name: create-order
              method: POST
        - name: ping
          path: "/ping"
          operations:
            - name: ping
              method: DELETE
            - name: ping-get
              method: GET
              inputParameters:
                - {name: payload, in: body, type: object, required: false}
  exposes:
    - type: rest
      namespace: shop-rest
      port: 8080
      resources:
        - path: "/ping"
          description: "Ping."
          operations:
            - method: GET
              call: shop.ping-get
"""


def test_each_kind_of_drift_is_a_located_diagnostic(tmp_path: Path) -> None:
    """Follows the issue's list: path and method, parameter names, locations, types and
    required flags, request bodies, response content types; `$ref`s into another file and
    server variables are followed."""
    (tmp_path / "shop.yaml").write_text(OPENAPI_30)
    (tmp_path / "common.yaml").write_text(COMMON)
    spec = tmp_path / "caps" / "shop.yaml"
    spec.parent.mkdir()
    spec.write_text(CAPABILITY)
    code, out, _ = check(str(spec), "--against", str(tmp_path / "shop.yaml"), "--format", "json")
    assert code == 1
    found = {(d["rule"], d["line"]) for d in json.loads(out)["diagnostics"]}
    assert found == {
        ("drift-parameter-type", 16),  # id: string here, integer upstream ($ref in common.yaml)
        ("drift-parameter-location", 17),  # expand: header here, query upstream
        ("drift-parameter-unknown", 18),  # verbose: not declared upstream
        ("drift-parameter-missing", 13),  # X-Tenant header required, never sent
        ("drift-response-format", 19),  # an event stream declared as JSON
        ("drift-path", 21),  # /orders vs /orders/ (trailing slash)
        ("drift-method", 29),  # DELETE /ping
        ("drift-body-unknown", 33),  # GET /ping takes no body
    }
    messages = " ".join(f"{d['message']} {d['hint']}" for d in json.loads(out)["diagnostics"])
    assert "'/api/v2/orders/' (trailing slash)" in messages


SWAGGER_20 = """\
swagger: "2.0"
info: {title: pets, version: "1"}
host: pets.example
basePath: /v1
produces: [application/json]
paths:
  /pets:
    post:
      parameters:
        - {name: pet, in: body, required: true, schema: {type: object}}
        - {name: limit, in: query, type: integer}
      responses: {"200": {description: ok, schema: {type: object}}}
"""
PETS = """\
naftiko: "1.0.0-alpha2"
info: {label: Pets, description: "Pets."}
capability:
  consumes:
    - type: http
      namespace: pets
      description: "The pets API."
      baseUri: "https://pets.example/v1"
      resources:
        - name: pets
          path: "/pets"
          operations:
            - name: add-pet
              method: POST
              inputParameters:
                - {name: limit, in: query, type: boolean}
                - {name: pet, in: body, type: object, required: false}
              outputRawFormat: xml
  exposes:
    - type: rest
      namespace: pets-rest
      port: 8080
      resources:
        - path: "/pets"
          description: "Pets."
          operations:
            - method: POST
              call: pets.add-pet
"""


def test_swagger_2_documents_are_checked_too(tmp_path: Path) -> None:
    (tmp_path / "pets.yaml").write_text(SWAGGER_20)
    spec = tmp_path / "pets-capability.yaml"
    spec.write_text(PETS)
    code, out, _ = check(str(spec), "--against", str(tmp_path / "pets.yaml"), "--format", "json")
    assert code == 1
    found = {(d["rule"], d["line"]) for d in json.loads(out)["diagnostics"]}
    assert found == {
        ("drift-parameter-type", 16),
        ("drift-body-required", 17),
        ("drift-response-format", 18),  # xml declared, json produced
    }


def test_an_unreadable_openapi_document_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: [text")
    code, _, err = check(str(CAPABILITIES), "--against", str(bad))
    assert code == 2 and "not JSON or YAML" in err
    (tmp_path / "other.yaml").write_text("hello: world\n")
    code, _, err = check(str(CAPABILITIES), "--against", str(tmp_path / "other.yaml"))
    assert code == 2 and "not an OpenAPI or Swagger document" in err


def test_an_invalid_capability_reports_its_own_diagnostics_first(tmp_path: Path) -> None:
    (tmp_path / "pets.yaml").write_text(SWAGGER_20)
    spec = tmp_path / "broken.yaml"
    spec.write_text("naftiko: nope\n")
    code, out, _ = check(str(spec), "--against", str(tmp_path / "pets.yaml"))
    assert code == 1 and "drift-" not in out and "broken.yaml:1:" in out


def test_an_event_stream_declared_where_the_upstream_answers_json_is_drift(
    tmp_path: Path,
) -> None:
    """The reverse of a stream declared as JSON: `outputRawFormat: event-stream` on an
    operation whose upstream answers only `application/json`."""
    (tmp_path / "shop.yaml").write_text(OPENAPI_30)
    (tmp_path / "common.yaml").write_text(COMMON)
    spec = tmp_path / "ping.yaml"
    spec.write_text(
        CAPABILITY.replace(
            "              inputParameters:\n                - {name: payload, in: body, type: "
            "object, required: false}\n",
            "              outputRawFormat: event-stream\n",
        )
    )
    code, out, _ = check(str(spec), "--against", str(tmp_path / "shop.yaml"), "--format", "json")
    formats = [d for d in json.loads(out)["diagnostics"] if d["rule"] == "drift-response-format"]
    assert code == 1 and {d["line"] for d in formats} == {19, 32}
    assert any("application/json, not event-stream" in d["message"] for d in formats)
