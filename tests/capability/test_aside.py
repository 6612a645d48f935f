"""Checks done beside, in a forked child (`load_paths(aside=...)`), find exactly what the same
checks find in one process: the same diagnostics, the same model, with or without errors,
and when the child dies. Each case runs in a fresh interpreter: only a process with a single
thread forks, and a test process has several."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from naftiko_runtime.capability.load import load_paths
from tests.conftest import CORPUS, REPO
from tests.fixtures.probe import probe

pytestmark = pytest.mark.e2e

ROOT = REPO

COMPARE = r"""
import json, os, sys
from pathlib import Path
from naftiko_runtime.capability import load

paths, build, how = json.loads(sys.argv[1])
forks = []
real_start = load.start_aside
kill = how == "kill"
if how == "sigchld":
    import signal
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # as some launchers leave it: no waitpid
if how == "changed":  # what this process reads of a file differs from what the child read
    parent, real_load = os.getpid(), load.load_source

    def changed(path, display=None):
        if os.getpid() != parent or not str(path).endswith(".yaml"):
            return real_load(path, display)
        from naftiko_runtime.capability.source import parse_text
        text = Path(path).read_text().replace("method: GET", "method: FETCH")
        return parse_text(text, Path(path), display or str(path))

    load.load_source = changed

def counting(work):
    parent = os.getpid()

    def guarded():
        if kill:
            os._exit(3)  # the child dies before it answers
        return work()

    beside = real_start(guarded)
    forks.append(beside is not None and parent == os.getpid())
    return beside

load.start_aside = counting
prepared = []

def meanwhile(model):
    prepared.append(len(model))
    if how == "prepare-fails":
        raise RuntimeError("the caller's preparation failed")

alone = load.load_paths(paths, build_model=build, aside=False, meanwhile=meanwhile)
assert prepared == [], "nothing is prepared while nothing is checked aside"
beside = load.load_paths(paths, build_model=build, aside=True, meanwhile=meanwhile)
assert forks == [True], forks
assert beside.diagnostics == alone.diagnostics, (beside.diagnostics, alone.diagnostics)
assert beside.capabilities == alone.capabilities
assert beside.files == alone.files
print(json.dumps({
    "diagnostics": len(alone.diagnostics),
    "errors": len(alone.errors),
    "capabilities": len(alone.capabilities),
    "prepared": prepared,
}))
"""


def compare(paths: list[Path], *, build: bool, how: str = "") -> dict[str, Any]:
    answer: dict[str, Any] = probe(COMPARE, json.dumps([[str(p) for p in paths], build, how]))
    return answer


def invalid_spec(tmp_path: Path) -> Path:
    text = (ROOT / "capabilities").glob("*.yaml").__next__().read_text()
    broken = tmp_path / "broken.yaml"
    # an unknown call target and a port clash with the bundled files: file and cross-file errors
    broken.write_text(text.replace("call: ", "call: nowhere-", 1))
    return broken


@pytest.mark.parametrize("build", [True, False], ids=["serve", "validate"])
def test_bundled_capabilities_check_the_same_beside(build: bool) -> None:
    counts = compare([ROOT / "capabilities"], build=build)
    assert counts["errors"] == 0 and counts["capabilities"] == (2 if build else 0)


@pytest.mark.parametrize("build", [True, False], ids=["serve", "validate"])
def test_an_invalid_spec_reports_the_same_errors_beside(tmp_path: Path, build: bool) -> None:
    counts = compare([ROOT / "capabilities", invalid_spec(tmp_path)], build=build)
    assert counts["errors"] > 0 and counts["capabilities"] == 0


def test_serve_prepares_on_the_model_while_the_child_checks() -> None:
    """`meanwhile` (serve's imports) gets the model built while the child still checks, once;
    `validate` builds no model and prepares nothing."""
    assert compare([ROOT / "capabilities"], build=True)["prepared"] == [2]
    assert compare([ROOT / "capabilities"], build=False)["prepared"] == []


def test_a_preparation_that_fails_changes_nothing(tmp_path: Path) -> None:
    counts = compare([ROOT / "capabilities"], build=True, how="prepare-fails")
    assert counts["errors"] == 0 and counts["capabilities"] == 2
    counts = compare([ROOT / "capabilities", invalid_spec(tmp_path)], build=True)
    assert counts["errors"] > 0 and counts["capabilities"] == 0


def test_a_child_that_dies_leaves_the_checks_to_this_process(tmp_path: Path) -> None:
    for build in (True, False):
        counts = compare([ROOT / "capabilities", invalid_spec(tmp_path)], build=build, how="kill")
        assert counts["errors"] > 0


@pytest.mark.parametrize("build", [True, False], ids=["serve", "validate"])
def test_a_file_that_changed_between_two_reads_is_checked_as_this_process_read_it(
    build: bool,
) -> None:
    """The child's findings are kept only for the very texts this process read: here every
    file this process reads says `method: FETCH` (an error) while the child's copy says
    `GET`; the result is the in-process one, errors and no model."""
    counts = compare([ROOT / "capabilities"], build=build, how="changed")
    assert counts["errors"] > 0 and counts["capabilities"] == 0


def test_an_ignored_sigchld_still_gets_the_childs_answer() -> None:
    for build in (True, False):
        counts = compare([ROOT / "capabilities"], build=build, how="sigchld")
        assert counts["errors"] == 0


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not present")
@pytest.mark.parametrize("build", [True, False], ids=["serve", "validate"])
def test_the_corpus_checks_the_same_beside(build: bool) -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yaml", ".yml"))
    counts = compare(files, build=build)
    assert counts["diagnostics"] > 0


def test_small_specs_are_checked_in_this_process() -> None:
    """Below ASIDE_MIN_BYTES a fork costs more than it saves: `aside=None` stays here."""
    from naftiko_runtime.capability import load

    started: list[object] = []
    real = load.start_aside
    try:
        load.start_aside = lambda work: started.append(work)  # type: ignore[assignment,func-returns-value]
        result = load_paths([ROOT / "capabilities"], aside=None)
    finally:
        load.start_aside = real
    assert result.ok and started == []


BROKEN_STREAM = r"""
import json
from naftiko_runtime.capability.aside import start_streaming

def work(send):
    send("first")
    try:
        send(lambda: None)  # cannot be pickled: the stream is out of step from here
    except Exception:
        pass  # a caller that swallows errors must not go on sending
    send("third")
    return "done"

got = []
beside = start_streaming(work)
answer = beside.collect(got.append)
print(json.dumps([answer, got]))
"""


def test_a_stream_that_cannot_send_an_item_ends_with_no_answer() -> None:
    """An item that fails to pickle leaves the stream out of step: the child ends there
    (whatever it would have caught), the caller gets no answer and does the work itself."""
    answer, got = probe(BROKEN_STREAM)
    assert answer is None and got == ["first"]
