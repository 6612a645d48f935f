"""Conformance with the official lint rules as Spectral runs them: for every corpus file,
every finding Spectral makes with the official ruleset (default rules, and all rules) is one
of ours with the same rule id and line, and we report nothing it does not.

Runs Spectral from ./node_modules (scripts/install puts it there); the ruleset and its
functions are read from ../shared/reference. Documented departures: none on the corpus (the
`naftiko-oauth2-*` rules differ only on oauth2-protected adapters, which the corpus lacks;
see test_official_rules for what ours report there).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from naftiko_runtime.capability.load import expand_paths, load_paths
from naftiko_runtime.capability.rules import Selection
from tests.conftest import CORPUS, REPO, SHARED

SPECTRAL = REPO / "node_modules" / ".bin" / "spectral"
RULESET = SHARED / "reference" / "naftiko-rules-1.0.0-alpha2.yml"
FUNCTIONS = SHARED / "reference" / "rules-functions"
DEPARTURES: dict[tuple[str, str, int], str] = {}  # (file, rule, line) -> why

needs = pytest.mark.skipif(
    not (CORPUS.is_dir() and RULESET.is_file()), reason="shared corpus and reference absent"
)

pytestmark = pytest.mark.contract


def _spectral(tmp_path: Path, files: list[Path], all_rules: bool) -> Counter[tuple[str, str, int]]:
    ruleset = tmp_path / "ruleset"
    (ruleset / "functions").mkdir(parents=True, exist_ok=True)
    shutil.copy(RULESET, ruleset / "naftiko-rules.yml")  # functionsDir is ./functions
    for function in FUNCTIONS.glob("*.js"):
        shutil.copy(function, ruleset / "functions" / function.name)
    chosen = ruleset / "naftiko-rules.yml"
    if all_rules:
        chosen = ruleset / "all.yml"
        chosen.write_text("extends:\n  - [./naftiko-rules.yml, all]\n")
    out = tmp_path / ("all.json" if all_rules else "default.json")
    run = subprocess.run(
        [
            str(SPECTRAL),
            "lint",
            "--ruleset",
            str(chosen),
            "--format",
            "json",
            "--output",
            str(out),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode in (0, 1), run.stderr
    found: Counter[tuple[str, str, int]] = Counter()
    for result in json.loads(out.read_text()):
        source = str(Path(result["source"]).resolve())
        found[(source, result["code"], result["range"]["start"]["line"] + 1)] += 1
    return found


def _ours(files: list[Path], all_rules: bool) -> Counter[tuple[str, str, int]]:
    found: Counter[tuple[str, str, int]] = Counter()
    for path in files:
        result = load_paths([path], build_model=False, selection=Selection(all_rules=all_rules))
        for d in result.diagnostics:
            if d.rule.startswith("naftiko-"):
                found[(str(path.resolve()), d.rule, d.line)] += 1
    return found


@needs
@pytest.mark.parametrize("all_rules", [False, True], ids=["default-rules", "all-rules"])
def test_every_spectral_finding_is_ours_at_the_same_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], all_rules: bool
) -> None:
    if not SPECTRAL.exists():
        if os.environ.get("CI"):
            pytest.fail("Spectral is missing: scripts/install installs it from the npm registry")
        pytest.skip("Spectral is not installed (run scripts/install)")
    files = expand_paths([CORPUS])
    theirs = _spectral(tmp_path, files, all_rules)
    ours = _ours(files, all_rules)
    missing = {k: v for k, v in (theirs - ours).items() if k not in DEPARTURES}
    extra = {k: v for k, v in (ours - theirs).items() if k not in DEPARTURES}
    with capsys.disabled():
        label = "all rules" if all_rules else "default rules"
        print(
            f"\nspectral conformance ({label}): {len(files)} files, Spectral "
            f"{sum(theirs.values())} findings, ours {sum(ours.values())}, "
            f"{len(missing)} missing, {len(extra)} extra"
        )
    assert missing == {} and extra == {}
    assert sum(theirs.values()) >= (141 if all_rules else 92)
