"""`serve`'s load (`load_detached`): a large spec is loaded whole in a forked loader and its
model comes back pickled, so the serving process never holds the parse's leftovers. What it
gives must be exactly what an in-process load gives: diagnostics, report, model, and every
position a start-up error may ask for (read again from the file). Forking cases run in a
fresh interpreter: only a process with a single thread forks, and a test process has several.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from bench.scale import generate
from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.capability.source import parse_text
from tests.conftest import CORPUS, REPO
from tests.fixtures.probe import probe

pytestmark = pytest.mark.e2e

ROOT = REPO

DETACHED = r"""
import json, os, sys
from naftiko_runtime.capability import load
from naftiko_runtime.report import render_text

paths, how = json.loads(sys.argv[1])
import io, logging
warned = io.StringIO()
logging.getLogger("naftiko_runtime").addHandler(logging.StreamHandler(warned))
load.ASIDE_MIN_BYTES = 0  # detach even small specs
parent, forks = os.getpid(), []

def counting(start):
    def counted(work):
        forks.append(os.getpid() == parent)
        return start(work)
    return counted

load.start_aside = counting(load.start_aside)
load.start_streaming = counting(load.start_streaming)
if how == "kill":  # the loader dies before it answers
    load._detached = lambda files, send: os._exit(3)
if how == "orphan":  # the loader dies while its own child still checks (for 6 s)
    import time
    real_check, real_model = load._check_all, load._speculative_model

    def slow_check(*args):
        if os.getpid() != parent and os.getppid() != parent:  # the loader's child
            time.sleep(6)
        return real_check(*args)

    def dying_model(*args):
        if os.getpid() != parent:
            os._exit(3)
        return real_model(*args)

    load._check_all, load._speculative_model = slow_check, dying_model
began = __import__("time").perf_counter()
prepared = []
alone = load.load_paths(paths, aside=False)
arrived = []
detached = load.load_detached(
    paths,
    meanwhile=lambda files: prepared.append(len(files)),
    each=lambda capability: arrived.append(capability),
)
took = __import__("time").perf_counter() - began
# one fork here when the loader answers; a second when it died and this process loads
assert forks == ([True, True] if how in ("kill", "orphan") else [True]), forks
assert how != "orphan" or took < 4, took  # not held up by the orphaned checker
assert detached.diagnostics == alone.diagnostics, (detached.diagnostics, alone.diagnostics)
assert detached.files == alone.files
# every model position is compared: the detached model's are read again from the files
assert detached.capabilities == alone.capabilities
report = render_text(detached.diagnostics, detached.files, detached.documents)
assert report == render_text(alone.diagnostics, alone.files, alone.documents), report
# the maps a server releases once compiled are the ones the model's positions use
again = load.load_detached(paths)
for source_map in again.source_maps():
    source_map.release()
released = {o.where.line for c in again.capabilities for a in c.rest for o in a.operations}
assert released <= {1}, released
print(json.dumps({
    "errors": len(alone.errors),
    "capabilities": len(alone.capabilities),
    "prepared": prepared,
    "warned": warned.getvalue(),
    # each capability arrived before the load returned: the very objects of the model
    "arrived": [a is c for a, c in zip(arrived, detached.capabilities)],
    "lines": [o.where.line for c in detached.capabilities for a in c.rest for o in a.operations],
}))
"""


def detached(paths: list[Path], how: str = "") -> dict[str, Any]:
    answer: dict[str, Any] = probe(DETACHED, json.dumps([[str(p) for p in paths], how]))
    return answer


def test_a_detached_load_gives_the_in_process_model_and_positions() -> None:
    answer = detached([ROOT / "capabilities"])
    assert answer["errors"] == 0 and answer["capabilities"] == 2
    assert answer["prepared"] == [2]  # the caller prepared while the loader worked
    assert answer["warned"] == ""
    assert answer["arrived"] == [True, True]
    assert answer["lines"] and all(line > 1 for line in answer["lines"])


def test_a_large_generated_spec_loads_the_same_detached(tmp_path: Path) -> None:
    """Above the fast YAML path's threshold: its lazy positions travel as a re-read."""
    for part in range(2):
        (tmp_path / f"scale-{part}.yaml").write_text(generate(150, 150 * part, part))
    assert detached([tmp_path])["capabilities"] == 2


def test_small_files_and_their_positions_load_the_same_detached(tmp_path: Path) -> None:
    """Files below the fast path's threshold have filled maps: they travel once, with the
    model, and are the ones released."""
    for part in range(3):
        (tmp_path / f"scale-{part}.yaml").write_text(generate(20, 20 * part, part))
    assert detached([tmp_path])["capabilities"] == 3


def test_an_invalid_spec_reports_the_same_report_detached(tmp_path: Path) -> None:
    text = next((ROOT / "capabilities").glob("*.yaml")).read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("call: ", "call: nowhere-", 1))
    answer = detached([ROOT / "capabilities", broken])
    assert answer["errors"] > 0 and answer["capabilities"] == 0


def test_a_loader_that_dies_leaves_the_load_to_this_process() -> None:
    answer = detached([ROOT / "capabilities"], how="kill")
    assert answer["errors"] == 0 and answer["capabilities"] == 2
    assert answer["warned"].endswith("failed or died; loading in this process\n")


def test_a_loader_that_dies_is_not_waited_for_through_its_child() -> None:
    """The loader's own child holds no end of the pipe this process reads: when the loader
    dies, this process loads at once instead of waiting for the orphan to finish."""
    answer = detached([ROOT / "capabilities"], how="orphan")
    assert answer["errors"] == 0 and answer["capabilities"] == 2


def test_a_position_asked_after_the_file_changed_is_the_files_start(tmp_path: Path) -> None:
    """A copied map reads the file again; if its text is not the one the loader read, the
    positions would be wrong, so every one is the file's start."""
    path = tmp_path / "big.yaml"
    path.write_text(generate(100))
    # the fast path (forced: it is off while other threads run) keeps positions lazy
    doc, problems = parse_text(path.read_text(), path, "big.yaml", fast=True)
    assert doc is not None and not problems
    pointer = ("capability", "exposes", 0, "resources", 3)
    fresh, stale = (pickle.loads(pickle.dumps(doc.source_map)) for _ in range(2))
    here = doc.source_map.locate(pointer)
    assert fresh.locate(pointer) == here and here[0] > 1
    path.write_text("\n" + path.read_text())
    assert stale.locate(pointer) == (1, 1)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not present")
def test_every_corpus_model_pickles_to_an_equal_model() -> None:
    """Every model class travels whole (each is pickled as its fields)."""
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yaml", ".yml"))
    models = 0
    for path in files:
        result = load_paths([path])
        if result.ok and result.capabilities:
            assert pickle.loads(pickle.dumps(result.capabilities)) == result.capabilities, path
            models += 1
    assert models > 10
