"""One loader, two dialects: `ikanos:` files read beside `naftiko:` ones into one model, every
diagnostic at the Ikanos file's own line:col and pointer, the Ikanos schema and the engine's
leniency, imports across dialects, and what this runtime refuses to serve."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from naftiko_runtime.capability.load import load_paths
from tests.conftest import cli

SHIP = """\
ikanos: "1.0.0-beta5"
info:
  display: "Shipyard"
  description: "Ships, by IMO number."
capability:
  consumes:
    - type: http
      namespace: registry
      description: "The registry."
      baseUri: "https://registry.acme.test"
      resources:
        ships:
          path: "/ships/{{imo}}"
          operations:
            get-ship:
              method: GET
              inputParameters:
                imo:
                  in: path
  exposes:
    - type: mcp
      port: 3001
      namespace: shipyard-tools
      description: "Shipyard tools."
      tools:
        get-ship:
          display: "Get ship"
          description: "One ship."
          inputParameters:
            imo:
              type: string
              required: true
              description: "IMO number."
          call: registry.get-ship
          with:
            imo: "{{imo}}"
          outputParameters:
            - type: object
              mapping: "$."
              properties:
                name:
                  type: string
                  mapping: "$.vessel_name"
"""


def _findings(result: object) -> list[tuple[str, int, int, str, str]]:
    return [
        (d.rule, d.line, d.column, d.pointer, d.severity.value)
        for d in getattr(result, "diagnostics", [])
    ]


def test_ikanos_file_is_read_into_the_one_model(write_spec: Callable[..., Path]) -> None:
    """An `ikanos:` file validates and models like its alpha2 twin: keyed entries become the
    named tool and operation, `display` its label."""
    result = load_paths([write_spec(SHIP, "ship.yaml")])
    assert result.ok, result.diagnostics
    (capability,) = result.capabilities
    (tool,) = capability.mcp[0].tools
    assert tool.name == "get-ship"
    assert [op.name for op in capability.operations] == ["get-ship"]
    assert capability.label == "Shipyard"
    assert capability.version == "1.0.0-beta5"


def test_our_rules_report_at_the_ikanos_line_and_pointer(
    write_spec: Callable[..., Path],
) -> None:
    """A call to an operation that does not exist, in a keyed tool: reported where the Ikanos
    file says it, with the Ikanos pointer (not the translated list index)."""
    broken = SHIP.replace("call: registry.get-ship", "call: registry.get-boat")
    result = cli("validate", "--format", "json", str(write_spec(broken, "ship.yaml")))
    assert result.code == 1
    (found,) = [d for d in result.json()["diagnostics"] if d["rule"] == "call-target"]
    assert (found["line"], found["column"]) == (34, 17)
    assert found["pointer"] == "/capability/exposes/0/tools/get-ship/call"


def test_ikanos_schema_errors_are_located(write_spec: Callable[..., Path]) -> None:
    """The bundled Ikanos schema: a key it does not know under a keyed tool, at that key, with
    a suggestion; `label` (alpha2) where Ikanos says `display`."""
    broken = SHIP.replace('display: "Get ship"', 'dispaly: "Get ship"').replace(
        '  display: "Shipyard"', '  label: "Shipyard"'
    )
    result = load_paths([write_spec(broken, "ship.yaml")], build_model=False)
    found = {(d.rule, d.line, d.pointer) for d in result.errors}
    assert found == {
        ("schema-unknown-property", 27, "/capability/exposes/0/tools/get-ship/dispaly"),
        ("schema-unknown-property", 3, "/info/label"),
        ("schema-required", 3, "/info"),
    }
    hints = {d.pointer: d.hint for d in result.errors}
    assert hints["/capability/exposes/0/tools/get-ship/dispaly"] == "did you mean 'display'?"


def test_ikanos_versions_alpha3_to_beta5_are_read_others_refused(
    write_spec: Callable[..., Path],
) -> None:
    older = load_paths([write_spec(SHIP.replace("1.0.0-beta5", "1.0.0-alpha3"), "a.yaml")])
    assert older.ok, older.diagnostics
    strict = load_paths(
        [write_spec(SHIP.replace("1.0.0-beta5", "1.0.0-beta2"), "b.yaml")], strict=True
    )
    assert [d.rule for d in strict.errors] == ["portability"]
    unknown = load_paths([write_spec(SHIP.replace("1.0.0-beta5", "2.0.0"), "c.yaml")])
    (version,) = [d for d in unknown.errors if d.rule == "version"]
    assert "1.0.0-alpha3" in version.message and "1.0.0-beta5" in version.message
    assert version.line == 1


LEGACY = SHIP.replace(
    """      tools:
        get-ship:
""",
    """      tools:
        - name: get-ship
""",
).replace(
    """          display: "Get ship"
          description: "One ship."
          inputParameters:
            imo:
              type: string
              required: true
              description: "IMO number."
          call: registry.get-ship
          with:
            imo: "{{imo}}"
          outputParameters:
            - type: object
              mapping: "$."
              properties:
                name:
                  type: string
                  mapping: "$.vessel_name"
""",
    """          display: "Get ship"
          description: "One ship."
          inputParameters:
            imo:
              type: string
              required: true
              description: "IMO number."
          call: registry.get-ship
          with:
            imo: "{{imo}}"
""",
)


def test_NamedMapDeserializer_legacy_list_is_a_warning_with_a_hint(
    write_spec: Callable[..., Path],
) -> None:
    """The Java engine still takes a list of entries with `name` (NamedMapDeserializer); the
    Ikanos schema does not. Served, with a warning at the list and a hint; `--strict` (what
    the reference toolchain rejects) makes it an error."""
    path = write_spec(LEGACY, "legacy.yaml")
    result = load_paths([path])
    assert result.ok, result.diagnostics
    (warning,) = [d for d in result.diagnostics if d.rule == "ikanos-legacy-list"]
    assert (warning.line, warning.severity.value) == (25, "warning")
    assert warning.pointer == "/capability/exposes/0/tools"
    assert warning.hint is not None and "migrate --to ikanos" in warning.hint
    assert result.capabilities[0].mcp[0].tools[0].name == "get-ship"
    strict = load_paths([path], strict=True, build_model=False)
    assert [(d.rule, d.line) for d in strict.errors] == [("portability", 25)]


CONSUMED_ALPHA2 = """\
naftiko: "1.0.0-alpha2"
consumes:
  - type: http
    namespace: registry
    description: "The registry."
    baseUri: "https://registry.acme.test"
    resources:
      - name: ships
        path: "/ships/{{imo}}"
        operations:
          - name: get-ship
            method: GET
            inputParameters:
              - name: imo
                in: path
"""


def test_an_import_across_dialects_is_served_with_a_warning(
    write_spec: Callable[..., Path],
) -> None:
    """An Ikanos capability importing an alpha2 consumes file: both read into one model (the
    operation is there), and a warning says neither reference engine would read it."""
    write_spec(CONSUMED_ALPHA2, "registry.yaml")
    importing = SHIP.replace(
        SHIP[SHIP.index("    - type: http") : SHIP.index("  exposes:")],
        "    - import: registry\n      from: ./registry.yaml\n      description: The registry.\n",
    )
    result = load_paths([write_spec(importing, "ship.yaml")])
    assert result.ok, result.diagnostics
    (warning,) = [d for d in result.diagnostics if d.rule == "import-dialect"]
    assert (warning.line, warning.pointer) == (8, "/capability/consumes/0/from")
    assert "naftiko" in warning.message and warning.severity.value == "warning"
    assert [op.name for op in result.capabilities[0].operations] == ["get-ship"]


def test_both_dialects_checked_together_across_files(write_spec: Callable[..., Path]) -> None:
    """Files of both dialects served together share the cross-file checks: the same MCP port
    and tool in both is one conflict, reported at the Ikanos file's line."""
    alpha2 = """\
naftiko: "1.0.0-alpha2"
info:
  label: "Old"
  description: "Old."
capability:
  exposes:
    - type: mcp
      port: 3001
      namespace: old-tools
      tools:
        - name: get-ship
          description: "One ship (mock)."
          outputParameters:
            - name: name
              type: string
              value: "Northern Star"
"""
    result = cli(
        "validate",
        "--format",
        "json",
        str(write_spec(alpha2, "old.yaml")),
        str(write_spec(SHIP, "ship.yaml")),
    )
    conflicts = [d for d in result.json()["diagnostics"] if d["rule"] == "tool-conflict"]
    assert len(conflicts) == 1 and conflicts[0]["file"].endswith("ship.yaml")
    assert conflicts[0]["line"] == 26


def test_what_this_runtime_cannot_serve_is_an_error_at_its_line(
    write_spec: Callable[..., Path],
) -> None:
    """A tunnel (no Ziti network here; `fallback: direct` is a warning) and an imported
    exposes entry (only consumed APIs are imported)."""
    tunnelled = SHIP.replace(
        '      baseUri: "https://registry.acme.test"\n',
        '      baseUri: "https://registry.acme.test"\n'
        "      tunnel:\n        type: ziti\n        service: registry\n"
        "        identity: /etc/ziti/id.json\n",
    )
    result = load_paths([write_spec(tunnelled, "t.yaml")], build_model=False)
    (error,) = [d for d in result.errors if d.rule == "ikanos-unserved"]
    assert (error.line, error.pointer) == (11, "/capability/consumes/0/tunnel")
    direct = tunnelled.replace(
        "/etc/ziti/id.json\n", "/etc/ziti/id.json\n        fallback: direct\n"
    )
    result = load_paths([write_spec(direct, "d.yaml")], build_model=False)
    assert not [d for d in result.errors if d.rule == "ikanos-unserved"]
    assert [d.line for d in result.diagnostics if d.rule == "ikanos-unserved"] == [11]
    imported = SHIP + "    - from: ./shared.yml\n      import: more-tools\n"
    result = load_paths([write_spec(imported, "i.yaml")], build_model=False)
    assert ("ikanos-unserved", 44) in {(d.rule, d.line) for d in result.errors}


def test_rules_list_the_ikanos_ruleset() -> None:
    listed = json.loads(cli("rules", "--format", "json").out)
    ids = {r["id"]: r for r in listed}
    assert ids["ikanos-namespaces-unique"]["severity"] == "error"
    assert ids["ikanos-info-tags"]["default"] is False
    assert ids["ikanos-info-tags"]["official"] is True


def test_beta5_fields_not_served_yet_are_warnings_at_their_keys(
    write_spec: Callable[..., Path],
) -> None:
    """`ttlMs` validates (the Ikanos schema has it) but caches nothing here: a warning at the
    key, never a silent accept; the file stays valid."""
    cached = SHIP.replace("      port: 3001\n", "      port: 3001\n      ttlMs: 5000\n")
    result = load_paths([write_spec(cached, "c.yaml")], build_model=False)
    assert result.ok
    (warning,) = [d for d in result.diagnostics if d.rule == "ikanos-unserved"]
    assert (warning.line, warning.pointer) == (23, "/capability/exposes/0/ttlMs")
    assert "no MCP result caching" in warning.message
