"""The Ikanos repository's own capability fixtures and tutorial (read from the `fetch`
mirror, skipped without it): every Spectral finding of the Ikanos ruleset is ours at the same
line, the verdicts agree with the Ikanos schema + ruleset but for documented departures, and
the tutorial's first step answers as its Java test asserts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.capability.rules import Selection
from tests.conftest import REPO
from tests.fixtures.process import serve
from tests.ikanos.roundtrip import capability_files, ikanos_tree

SPECTRAL = REPO / "node_modules" / ".bin" / "spectral"
RULES = "modules/ikanos-spec/src/main/resources/rules"
OURS_ONLY = ("ikanos-legacy-list", "ikanos-unserved")
DEPARTURES = {
    "ikanos-engine/src/test/resources/aggregates/aggregate-invalid-ref.yaml": "a ref to no flow "
    "(call-target); the engine refuses it too (AggregateRefResolverTest)",
    "ikanos-engine/src/test/resources/baseuri-trailing-slash-capability.yaml": "the engine "
    "refuses a trailing slash (BaseUriTrailingSlashIntegrationTest): base-uri-slash",
    "ikanos-engine/src/test/resources/formats/avro-capability.yaml": "avro without "
    "outputSchema (output-schema): the issue's reference-fidelity item 5, not done",
    "ikanos-engine/src/test/resources/formats/proto-capability.yaml": "protobuf without "
    "outputSchema (output-schema): item 5, not done",
    "ikanos-engine/src/test/resources/imports/aggregates/shared.aggregates.yml": "legacy lists: "
    "the engine reads them (a warning here); the schema does not",
    "ikanos-engine/src/test/resources/imports/consumes/shared-clients.yml": "legacy lists",
    "ikanos-engine/src/test/resources/imports/consumes/shared.consumes.yml": "legacy lists",
    "ikanos-engine/src/test/resources/imports/exposes/shared-servers.yml": "legacy lists",
    "ikanos-spec/src/main/resources/schemas/examples/reverse-tunnel-ziti.yml": "a tunnel this "
    "runtime cannot open (ikanos-unserved)",
    "ikanos-spec/src/test/resources/rules/spectral-tunnel-identity-bound.yaml": "a tunnel",
    "ikanos-spec/src/test/resources/imports/import-from-self.yaml": "`from: .` is no file "
    "(import); the engine's resolver refuses it at load",
}


@pytest.fixture(scope="module")
def ikanos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = ikanos_tree(tmp_path_factory.mktemp("ikanos"))
    if tree is None:
        pytest.skip("the Ikanos repository is not mirrored here (fetch github:naftiko/ikanos)")
    return tree / "modules"


def _files(root: Path) -> list[Path]:
    return capability_files(root)


def _spectral(ikanos: Path, tmp: Path, all_rules: bool) -> list[dict[str, object]]:
    if not SPECTRAL.exists():
        if os.environ.get("CI"):
            pytest.fail("Spectral is missing: scripts/install installs it from the npm registry")
        pytest.skip("Spectral is not installed (run scripts/install)")
    ruleset = tmp / "ruleset"
    shutil.copytree(ikanos.parent / RULES, ruleset, dirs_exist_ok=True)
    chosen = ruleset / "ikanos-rules.yml"
    if all_rules:
        chosen = ruleset / "all.yml"
        chosen.write_text("extends:\n  - [./ikanos-rules.yml, all]\n")
    out = tmp / f"spectral-{all_rules}.json"
    run = subprocess.run(
        [str(SPECTRAL), "lint", "--ruleset", str(chosen), "--format", "json"]
        + ["--output", str(out), *map(str, _files(ikanos))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode in (0, 1), run.stderr
    found: list[dict[str, object]] = json.loads(out.read_text())
    return found


@pytest.mark.contract
@pytest.mark.parametrize("all_rules", [False, True], ids=["default-rules", "all-rules"])
def test_IkanosPolychroRulesetTest_every_spectral_finding_is_ours(
    ikanos: Path, tmp_path: Path, all_rules: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Ikanos ruleset as Spectral runs it on every fixture: the same rule ids at the same
    lines, nothing more (IkanosPolychroRulesetTest runs it on a few)."""
    theirs: Counter[tuple[str, str, int]] = Counter()
    for result in _spectral(ikanos, tmp_path, all_rules):
        source = str(Path(str(result["source"])).resolve())
        line = int(result["range"]["start"]["line"]) + 1  # type: ignore[index]
        theirs[(source, str(result["code"]), line)] += 1
    ours: Counter[tuple[str, str, int]] = Counter()
    for path in _files(ikanos):
        result = load_paths([path], build_model=False, selection=Selection(all_rules=all_rules))
        for d in result.diagnostics:
            mine = d.rule.startswith("ikanos-") and d.rule not in OURS_ONLY
            if mine and d.file == result.files[0]:
                ours[(str(path.resolve()), d.rule, d.line)] += 1
    with capsys.disabled():
        print(
            f"\nikanos ruleset: Spectral {sum(theirs.values())} findings, ours {sum(ours.values())}"
        )
    assert theirs - ours == Counter() and ours - theirs == Counter()
    assert sum(theirs.values()) >= (200 if all_rules else 140)


@pytest.mark.contract
def test_verdicts_agree_with_the_ikanos_schema_and_ruleset(
    ikanos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Valid for us exactly when valid for the Ikanos schema with no Spectral error, on every
    fixture, but for the departures listed (each one the engine's own verdict or a construct
    this runtime refuses to serve)."""
    from jsonschema import Draft202012Validator

    schema = json.loads((REPO / "schemas" / "ikanos-schema.json").read_text())
    validator = Draft202012Validator(schema)
    errors: Counter[str] = Counter()
    for result in _spectral(ikanos, tmp_path, False):
        if result["severity"] == 0:
            errors[str(Path(str(result["source"])).resolve())] += 1
    differ = {}
    files = _files(ikanos)
    for path in files:
        data = yaml.safe_load(path.read_text())
        theirs = not any(validator.iter_errors(data)) and errors[str(path.resolve())] == 0
        ours = load_paths([path], build_model=False).ok
        if theirs != ours:
            differ[str(path.relative_to(ikanos))] = ours
    with capsys.disabled():
        print(f"\nverdicts: {len(files) - len(differ)}/{len(files)} agree")
    assert set(differ) == set(DEPARTURES)
    legacy = [name for name in differ if "legacy" in DEPARTURES[name]]
    assert len(legacy) == 4
    for name in legacy:  # --strict: what the reference toolchain rejects is an error too
        assert not load_paths([ikanos / name], build_model=False, strict=True).ok


def _mcp(url: str, method: str, params: dict[str, object], ident: int) -> dict[str, object]:
    reply = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": ident, "method": method, "params": params},
        headers={
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2025-06-18",
        },
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    body = reply.text
    if body.startswith(("event:", "data:")):
        body = next(line[5:] for line in body.splitlines() if line.startswith("data:"))
    answer: dict[str, object] = json.loads(body)
    return answer


@pytest.fixture
def step1(ikanos: Path) -> Iterator[str]:
    tutorial = ikanos / "ikanos-engine/src/test/resources/tutorial/step-1-shipyard-mock.yml"
    with serve(tutorial, ports=[3001], ready="/mcp") as served:
        yield served.url(3001) + "/mcp"


@pytest.mark.contract  # the Ikanos repository's own tutorial file, served
def test_Step1ShipyardMcpClientIntegrationTest_tools_and_mock_call(step1: str) -> None:
    """The tutorial's step 1 as its Java test drives it: one tool `get-ship` with its
    description, and a call answered from the mock outputs with the input templated in."""
    _mcp(
        step1,
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
        1,
    )
    listed = _mcp(step1, "tools/list", {}, 2)["result"]
    tools = listed["tools"]  # type: ignore[index]
    assert [t["name"] for t in tools] == ["get-ship"]
    assert tools[0]["description"] == "Retrieve a ship's details by IMO number"
    called = _mcp(
        step1, "tools/call", {"name": "get-ship", "arguments": {"imo_number": "IMO-9321483"}}, 3
    )
    result = called["result"]
    assert result["isError"] is False  # type: ignore[index]
    ship = json.loads(result["content"][0]["text"])  # type: ignore[index]
    assert ship == {
        "imo": "IMO-9321483",
        "name": "Northern Star",
        "type": "cargo",
        "flag": "NO",
        "status": "active",
    }
