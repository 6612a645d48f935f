"""`naftiko-runtime check --exercise`: each capability served in-process against a mock of
its upstream's OpenAPI (Prism, or the built-in mock), every REST operation and MCP tool
called with generated input, and each kind of finding reported at the capability's own line
and column: requests the upstream refuses, outputs left null though the example has the
field, answers outside /openapi.json or a tool's outputSchema, errors for valid input. The
bundled capabilities exercise clean; so does an imported real document; a corpus capability
shows what it gets wrong. Nothing is left listening or running afterwards."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from tests.capability.test_validate_rules import position
from tests.conftest import CAPABILITIES, CORPUS, CliResult, cli
from tests.fixtures.prism import PRISM
from tests.openapi import test_hostile_documents as hostile

SLICE = CORPUS / "letta" / "openapi" / "letta-openapi-jobs-runs.json"
FULL = CORPUS / "letta" / "openapi" / "letta-openapi-full.json"
needs_corpus = pytest.mark.skipif(not FULL.exists(), reason="corpus not present")
needs_prism = pytest.mark.skipif(not PRISM.exists(), reason="npm @stoplight/prism-cli missing")
MOCKS = [pytest.param("prism", marks=needs_prism), "builtin"]
pytestmark = [pytest.mark.e2e, needs_corpus]


def exercise(*paths: Path, mock: str = "builtin", against: Path = SLICE, fmt: str = "json",
             extra: tuple[str, ...] = ()) -> CliResult:  # fmt: skip
    return cli(
        "check", *map(str, paths), "--against", str(against), "--exercise", "--mock", mock,
        "--prism", str(PRISM), "--format", fmt, *extra,
    )  # fmt: skip


def mutant(tmp_path: Path, old: str, new: str, name: str = "letta-jobs.yaml") -> tuple[Path, str]:
    text = (CAPABILITIES / name).read_text()
    assert text.count(old) >= 1, old
    text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text)
    return path, text


def after(text: str, marker: str, occurrence: int, anchor: str) -> tuple[int, int]:
    """Where `anchor` first comes after the `occurrence`-th `marker`."""
    offset = -1
    for _ in range(occurrence):
        offset = text.index(marker, offset + 1)
    return position(text, anchor, text[:offset].count(anchor) + 1)


def found(result: CliResult, prefix: str = "exercise-") -> list[tuple[str, int, int]]:
    return sorted(
        (d["rule"], d["line"], d["column"])
        for d in result.json()["diagnostics"]
        if d["rule"].startswith(prefix)
    )


def messages(result: CliResult) -> str:
    return " ".join(f"{d['message']} {d['hint']}" for d in result.json()["diagnostics"])


@pytest.mark.parametrize("mock", MOCKS)
def test_the_bundled_capabilities_exercise_clean(mock: str) -> None:
    started = time.monotonic()
    result = exercise(CAPABILITIES, mock=mock, fmt="text")
    assert result.code == 0, result.out
    assert "2 file(s) checked: 0 error(s), 0 warning(s); valid" in result.out
    assert time.monotonic() - started < 30  # 30 calls, Prism's start included


@pytest.mark.parametrize("mock", MOCKS)
def test_a_value_the_upstream_refuses_is_reported_where_it_is_given(
    tmp_path: Path, mock: str
) -> None:
    path, text = mutant(tmp_path, '"order": "rest.order"', '"order": "sideways"')
    result = exercise(path, mock=mock)
    assert result.code == 1
    assert found(result) == [("exercise-request", *position(text, '"sideways"'))]
    assert "query parameter `order` is refused by the upstream: 'sideways' is not one of " in (
        messages(result)
    )
    # a value the upstream takes is no finding
    path, _ = mutant(tmp_path, '"order": "rest.order"', '"order": "asc"')
    assert exercise(path, mock=mock).code == 0


def test_missing_credentials_are_reported_at_the_consumed_namespace(tmp_path: Path) -> None:
    auth = '      authentication:\n        type: bearer\n        token: "{{env.LETTA_API_KEY}}"\n'
    path, text = mutant(tmp_path, auth, "")
    result = exercise(path)
    # every operation and tool sends the same requests without it: one finding, where to fix
    assert found(result) == [("exercise-request", *position(text, '"letta-jobs"\n'))]
    assert "none of the credentials the upstream's security requires" in messages(result)


RETRIEVE = '''              call: "letta-jobs.retrieve_job"
              with:
                "job_id": "rest.job_id"
              outputParameters:
                - type: object
                  mapping: "$."'''
TYPED = '''              call: "letta-jobs.retrieve_job"
              with:
                "job_id": "rest.job_id"
              outputParameters:
                - type: object
                  properties:
                    id:
                      type: string
                      mapping: "$.id"
                    status:
                      type: string
                      mapping: "$.stauts"
                    owner:
                      type: string
                      mapping: "$.owner_of_the_job"
                    usage:
                      type: object
                      mapping: "$.metadata"
                      properties:
                        tokens:
                          type: number
                          mapping: "$.tokens"'''


@pytest.mark.parametrize("mock", MOCKS)
def test_a_misspelt_output_path_is_reported_where_the_example_has_the_field(
    tmp_path: Path, mock: str
) -> None:
    path, text = mutant(tmp_path, RETRIEVE, TYPED)
    result = exercise(path, mock=mock)
    assert result.code == 1
    # `id` is read right; `owner_of_the_job` and `tokens` are nowhere in the example (an
    # empty `metadata`): only the misspelt `status` is reported
    assert found(result) == [("exercise-null-output", *position(text, '"$.stauts"'))]
    assert "`status` stays null: `$.stauts` finds nothing" in messages(result)
    assert "Read `$.status`." in messages(result)


def test_a_consumed_output_left_null_is_reported_at_its_value(tmp_path: Path) -> None:
    text = (CAPABILITIES / "letta-jobs.yaml").read_text()
    consumed = '''              outputRawFormat: json
              outputParameters:
                - name: result
                  type: object
                  value: "$."
            - name: "delete_job"'''
    assert consumed in text and RETRIEVE in text
    text = text.replace(
        consumed,
        consumed.replace(
            '- name: result\n                  type: object\n                  value: "$."',
            '- name: id\n                  type: string\n                  value: "$.id"\n'
            "                - name: state\n                  type: string\n"
            '                  value: "$.stat"',
        ),
    ).replace(RETRIEVE, RETRIEVE.split("\n              outputParameters")[0])
    path = tmp_path / "letta-jobs.yaml"
    path.write_text(text)
    result = exercise(path)
    assert found(result) == [("exercise-null-output", *position(text, '"$.stat"'))]
    assert "which has `status` where it looks for `stat`" in messages(result)


TOOL = '''          call: "letta-jobs.retrieve_job"
          with:
            "job_id": "tools.job_id"
          outputParameters:
            - type: object
              mapping: "$."'''


@pytest.mark.parametrize(("value", "caught"), [('"none"', True), ('"3"', False)])
def test_a_tool_result_outside_its_output_schema_is_reported(
    tmp_path: Path, value: str, caught: bool
) -> None:
    typed = TOOL.replace(
        '            - type: object\n              mapping: "$."',
        "            - type: object\n              properties:\n"
        '                id:\n                  type: string\n                  mapping: "$.id"\n'
        f"                attempts:\n                  type: number\n"
        f"                  value: {value}",
    )
    path, text = mutant(tmp_path, TOOL, typed)
    result = exercise(path)
    if not caught:  # "3" becomes the number 3, as outputSchema says
        assert result.code == 0, result.out
        return
    tool_call = position(text, 'call: "letta-jobs.retrieve_job"', 2)
    assert found(result) == [("exercise-response", tool_call[0], tool_call[1] + 6)]
    assert "'none' is not of type 'number', 'null'" in messages(result)


def test_an_error_for_generated_valid_input_is_reported_at_each_call(tmp_path: Path) -> None:
    path, text = mutant(tmp_path, "outputRawFormat: json", "outputRawFormat: xml")
    result = exercise(path)
    rest, tool = (position(text, 'call: "letta-jobs.list_jobs"', n) for n in (1, 2))
    assert found(result) == [
        ("exercise-status", rest[0], rest[1] + 6),
        ("exercise-status", tool[0], tool[1] + 6),
    ]
    assert found(result, "drift-") == [("drift-response-format", *position(text, "xml"))]
    assert "not valid xml" in messages(result)


SWAGGER = """\
swagger: "2.0"
info: {title: pets, version: "1"}
host: pets.example
basePath: /v1
produces: [application/json]
paths:
  /pets:
    get:
      parameters:
        - {name: kind, in: query, required: true, type: string, enum: [cat, dog]}
      responses:
        "200":
          description: ok
          schema: {type: array, items: {type: object, properties: {name: {type: string}}}}
          examples: {application/json: [{name: Tom}]}
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
            - name: list-pets
              method: GET
              inputParameters:
                - {name: kind, in: query, type: string, required: true}
  exposes:
    - type: rest
      namespace: pets-rest
      port: 8080
      resources:
        - path: "/pets"
          description: "Pets."
          operations:
            - method: GET
              call: pets.list-pets
              with:
                kind: KIND
"""


@needs_prism
@pytest.mark.parametrize(("kind", "caught"), [("bird", True), ("cat", False)])
def test_an_upstream_error_for_generated_valid_input_is_reported(
    tmp_path: Path, kind: str, caught: bool
) -> None:
    """Swagger 2.0 (which openapi-core does not read): Prism's own check answers 422, past
    the base path it routes without."""
    (tmp_path / "pets.yaml").write_text(SWAGGER)
    spec = tmp_path / "cap.yaml"
    spec.write_text(PETS.replace("KIND", kind))
    result = exercise(spec, mock="prism", against=tmp_path / "pets.yaml")
    if not caught:
        assert result.code == 0, result.out
        return
    line, column = position(PETS, "pets.list-pets\n")
    assert found(result) == [("exercise-status", line, column)]
    assert "the upstream answered 422 to GET /v1/pets for generated valid input" in messages(result)


def test_an_input_no_value_fits_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """The job id must match a pattern; without the document's example nothing is made that
    matches, and nothing is sent that would be blamed on the capability."""
    document = json.loads(SLICE.read_text())
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                parameter.get("schema", {}).pop("examples", None)
    bare = tmp_path / "letta.json"
    bare.write_text(json.dumps(document))
    text = (CAPABILITIES / "letta-jobs.yaml").read_text()
    result = exercise(CAPABILITIES / "letta-jobs.yaml", against=bare)
    assert result.code == 0  # warnings
    located = found(result)
    assert len(located) == 6 and {rule for rule, _, _ in located} == {"exercise-skipped"}
    retrieve = position(text, '- method: GET\n              name: "retrieve_job"')
    assert ("exercise-skipped", retrieve[0], retrieve[1] + 2) in located
    assert "no value for the required input `job_id` fits the upstream's schema" in messages(result)


def test_the_time_budget_ends_the_exercise_with_a_warning() -> None:
    started = time.monotonic()
    result = exercise(CAPABILITIES, extra=("--exercise-budget", "0.001"))
    assert time.monotonic() - started < 15
    assert result.code == 0
    (skipped,) = result.json()["diagnostics"]
    assert skipped["rule"] == "exercise-skipped" and skipped["severity"] == "warning"
    assert skipped["message"].endswith(
        "was not exercised, nor 29 more operation(s) and tool(s): the time budget of 0.001 s "
        "ran out"
    )


def test_a_call_past_its_timeout_is_an_error_not_a_hang() -> None:
    started = time.monotonic()
    result = exercise(CAPABILITIES, extra=("--exercise-call-timeout", "0.001"))
    assert time.monotonic() - started < 15
    assert result.code == 1
    timed_out = [d["message"] for d in result.json()["diagnostics"]]
    # the call's own timeout, or (on a loaded machine) the gateway's upstream time-out first
    assert timed_out and all(
        m.endswith(": no answer within 0.001 s") or "did not answer" in m for m in timed_out
    ), timed_out


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_findings_come_in_every_format(tmp_path: Path, fmt: str) -> None:
    path, text = mutant(tmp_path, '"order": "rest.order"', '"order": "sideways"')
    line, column = position(text, '"sideways"')
    result = exercise(path, fmt=fmt)
    assert result.code == 1
    if fmt == "text":
        assert f"letta-jobs.yaml:{line}:{column}: error [exercise-request]" in result.out
        assert '"order": "sideways"' in result.out  # the source line under it
    elif fmt == "json":
        (diagnostic,) = result.json()["diagnostics"]
        assert diagnostic["pointer"] == (
            "/capability/exposes/0/resources/0/operations/0/with/order"
        )
    elif fmt == "sarif":
        sarif = result.json()
        (finding,) = sarif["runs"][0]["results"]
        region = finding["locations"][0]["physicalLocation"]["region"]
        assert (finding["ruleId"], region["startLine"], region["startColumn"]) == (
            "exercise-request",
            line,
            column,
        )
        rules = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
        assert "exercise-request" in rules
    else:
        assert result.out.startswith(
            f"::error file={path},line={line},col={column},title=exercise-request::"
        )


def _listening_inodes() -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for row in list(lines)[1:]:
                fields = row.split()
                if fields[3] == "0A":  # LISTEN
                    inodes.add(fields[9])
    return inodes


def _ours() -> tuple[set[str], set[str]]:
    """Sockets this process listens on, and its child processes."""
    sockets = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            sockets.add(target[8:-1])
    children: set[str] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as listed:
            children |= set(listed.read().split())
    return sockets & _listening_inodes(), children


@needs_prism
def test_nothing_is_left_listening_or_running() -> None:
    before = _ours()
    result = exercise(CAPABILITIES, mock="prism")
    assert result.code == 0
    assert _ours() == before


HOSTILE = {
    "fan-out": hostile.fan_out,
    "ref-cycle": hostile.cycle,
    "allof-cycle": lambda: hostile.document(
        {"$ref": "#/components/schemas/A"}, {"A": {"allOf": [{"$ref": "#/components/schemas/A"}]}}
    ),
    "min-length-huge": lambda: hostile.document({"type": "string", "minLength": 10**12}),
    "multiple-of-overflow": lambda: hostile.document(
        {"type": "number", "minimum": 1e308, "multipleOf": 1e-308}
    ),
    **{
        change: (lambda change=change: hostile._broken(change))
        for change in ("paths-a-list", "responses-a-number", "response-null", "content-a-number",
                       "servers-a-string", "security-a-number", "ref-nowhere", "any-of-a-number")
    },
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_document_gets_an_answer_never_a_traceback(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The built-in mock and openapi-core on broken documents: a finding, a skipped call or
    a usage error, in bounded time, with nothing logged by the proxy."""
    document = tmp_path / "hostile.json"
    document.write_text(json.dumps(HOSTILE[name]()))
    spec = tmp_path / "items.yaml"
    spec.write_text(hostile.CAPABILITY)
    started = time.monotonic()
    result = exercise(spec, against=document, fmt="text")
    assert time.monotonic() - started < hostile.SECONDS
    assert "Traceback" not in result.out + result.err
    if result.code == 2:  # the document itself cannot be followed: said as drift says it
        assert "naftiko-runtime: error: " in result.err and "cannot follow $ref" in result.err
    else:
        assert result.code in (0, 1) and "file(s) checked" in result.out
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("--mock", "prism", "--prism", "/nonexistent/prism"), "Prism not found"),
        (("--exercise-budget", "0"), "must be above 0"),
    ],
)
def test_usage_errors(extra: tuple[str, ...], says: str) -> None:
    result = cli("check", str(CAPABILITIES), "--against", str(SLICE), "--exercise", *extra)
    assert result.code == 2 and says in result.err


@needs_prism
def test_corpus_capabilities_against_the_full_letta_openapi() -> None:
    """Two of the corpus's Letta capabilities against the server's own description: Health
    exercises clean; Folders sends its file upload as JSON where the upstream takes
    multipart/form-data (from the REST operation and the tool), and its DELETE is answered
    204, which the gateway's /openapi.json does not describe."""
    folders = CORPUS / "letta" / "capabilities" / "letta-folders.yaml"
    health = CORPUS / "letta" / "capabilities" / "letta-health.yaml"
    result = exercise(folders, health, mock="prism", against=FULL)
    text = folders.read_text()
    call = 'call: "letta-folders.upload_file_to_folder"'
    upload = [after(text, call, n, body) for n, body in ((1, '"rest.body"'), (2, '"tools.body"'))]
    delete = position(text, 'call: "letta-folders.delete_file_from_folder"')
    assert found(result) == sorted(
        [("exercise-request", *at) for at in upload]
        + [("exercise-response", delete[0], delete[1] + 6)]
    )
    files = {Path(d["file"]).name for d in result.json()["diagnostics"] if "exer" in d["rule"]}
    assert files == {folders.name}
    assert "Valid mimetypes: ['multipart/form-data']" in messages(result)


@needs_prism
def test_an_imported_letta_document_exercises_clean(tmp_path: Path) -> None:
    imported = tmp_path / "letta.yaml"
    made = cli("import", "openapi", str(SLICE), "--namespace", "letta", "-o", str(imported))
    assert made.code == 0, made.err
    result = exercise(imported, mock="prism")
    assert result.code == 0, result.out
    assert found(result) == []
