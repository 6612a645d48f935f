"""What start-up leaves out: a valid spec is checked and served without importing jsonschema
(only an invalid document needs its worded errors) or aiohttp (the default client hands it
only digest auth, streamed request bodies and authorities it does not speak). Each import
costs a large spec's start-up about 0.1 s and 10 MB; each case runs in a fresh interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CAPABILITIES, REPO
from tests.fixtures.probe import probe

pytestmark = pytest.mark.e2e

PROBE = """
import json, sys
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.capability.load import load_paths

result = load_paths([sys.argv[1]])
assert result.ok, result.diagnostics
runtime = compile_runtime(result.capabilities, {"LETTA_API_KEY": "k-1"}, ServeOptions())
print(json.dumps([m for m in ("jsonschema", "aiohttp") if m in sys.modules]))
"""


def test_a_valid_spec_is_checked_and_compiled_without_jsonschema_or_aiohttp() -> None:
    assert probe(PROBE, str(CAPABILITIES)) == []


DIGEST = """naftiko: "1.0.0-alpha2"
info:
  label: "Digest"
  description: "An upstream behind digest auth."
capability:
  consumes:
    - type: http
      namespace: guarded
      description: "Digest."
      baseUri: "http://127.0.0.1:9"
      authentication:
        type: digest
        username: "ops"
        password: "not-a-real-password"
      resources:
        - name: items
          path: "/items"
          operations:
            - name: list-items
              method: GET
  exposes:
    - type: rest
      namespace: guarded-rest
      port: 8080
      resources:
        - path: "/items"
          name: items
          description: "Items."
          operations:
            - method: GET
              name: items
              call: guarded.list-items
"""


def test_a_spec_the_default_client_hands_to_aiohttp_imports_it_when_compiled(
    tmp_path: Path,
) -> None:
    """Digest auth goes through aiohttp: imported when compiled, not by the first request on
    the event loop."""
    spec = tmp_path / "digest.yaml"
    spec.write_text(DIGEST)
    assert probe(PROBE, str(spec)) == ["aiohttp"]


def test_an_invalid_spec_still_gets_located_worded_schema_errors() -> None:
    script = """
import json, sys
from naftiko_runtime.capability.source import parse_text
from naftiko_runtime.capability.schema import validate_schema
from pathlib import Path
text = 'naftiko: "1.0.0-alpha2"\\ninfo:\\n  label: x\\ncapability:\\n  exposes: 7\\n'
found = validate_schema(parse_text(text, Path("x.yaml"), "x.yaml")[0])
print(json.dumps(["jsonschema" in sys.modules, [f"{d.line}:{d.rule}" for d in found]]))
"""
    imported, found = probe(script)
    assert imported and "5:schema-type" in found, found


def test_serve_prepares_the_mcp_sdk_only_for_a_spec_that_exposes_mcp(tmp_path: Path) -> None:
    """While a large spec loads aside, `serve` imports the MCP SDK if a file exposes MCP."""
    rest_only = tmp_path / "rest.yaml"
    rest_only.write_text("capability:\n  exposes:\n    - type: rest\n")
    with_mcp = tmp_path / "mcp.yaml"
    with_mcp.write_text("capability:\n  exposes:\n    - type: 'mcp'\n")
    script = """
import json, sys
from pathlib import Path
from naftiko_runtime.serving.launch import warm_up
warm_up([Path(p) for p in sys.argv[1:]])
print(json.dumps("mcp" in sys.modules))
"""
    for files, imported in (([rest_only], False), ([rest_only, with_mcp], True)):
        assert probe(script, *map(str, files)) is imported, files


EXTRAS_PROBE = """
import json, sys
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.capability.load import load_paths
from tests.fixtures.without_extras import EVERY_EXTRA

result = load_paths(sys.argv[1:])
assert result.ok, result.diagnostics
runtime = compile_runtime(result.capabilities, {"LETTA_API_KEY": "k-1"}, ServeOptions())
extra = [m for m in sys.modules if any(m == e or m.startswith(e + ".") for e in EVERY_EXTRA)]
print(json.dumps(sorted(extra)))
"""


def test_json_capabilities_are_checked_and_compiled_without_any_extra() -> None:
    """What the core install serves (REST, MCP, a control plane, JSON over the default
    client) imports no module of an optional extra: the slim install is not a promise the
    first import breaks."""
    examples = REPO / "docs" / "examples"
    files = [str(examples / name) for name in ("quickstart.yaml", "steps.yaml", "mcp.yaml")]
    assert probe(EXTRAS_PROBE, *files) == []


VALIDATE_PROBE = """
import io, json, sys
from naftiko_runtime.cli import run

code = run(["validate", sys.argv[1]], io.StringIO(), io.StringIO(), {})
parts = ("cli.", "serving", "adapters", "upstream", "openapi", "policies", "simulators")
ours = tuple(f"naftiko_runtime.{part}" for part in parts)
loaded = [m for m in sys.modules if m.startswith(ours) or m in ("asyncio", "uvicorn", "httpx")]
print(json.dumps([code, sorted(loaded)]))
"""


def test_validate_imports_its_own_command_and_nothing_that_serves() -> None:
    """Each command's module is imported only when it is the command given: `validate` (run
    on every commit, in editors) loads and checks, and imports nothing that serves, calls out
    or writes (the adapters, the clients, uvicorn, the other commands)."""
    code, loaded = probe(VALIDATE_PROBE, str(CAPABILITIES))
    assert code == 0
    assert loaded == [
        "naftiko_runtime.cli.commands",
        "naftiko_runtime.cli.parser",
        "naftiko_runtime.cli.validate",
    ]
