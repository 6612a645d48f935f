"""The fast YAML path gives exactly what the careful path gives, or declines.

Whatever `fast_load` accepts must equal PyYAML-through-our-builder with no problems reported;
everything it cannot vouch for comes back `None`. Checked on every YAML file we can find (our
capabilities, the shared corpus), on the edge cases where YAML 1.1 and 1.2 disagree, and on a
bounded, seeded stream of mutated documents.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from naftiko_runtime.capability import fastyaml
from naftiko_runtime.capability.source import MAX_NODES, load_source, parse_text
from tests.conftest import CORPUS, REPO

ROOT = REPO

pytestmark = pytest.mark.skipif(not fastyaml.available(), reason="rapidyaml wheel not installed")


def careful(text: str) -> tuple[object, list[str]]:
    doc, problems = parse_text(text, Path("x.yaml"), "x.yaml", fast=False)
    return (doc.data if doc else None), [p.rule for p in problems]


def assert_agrees(text: str) -> bool:
    """True when the fast path took the text (and then it matched the careful one)."""
    fast = fastyaml.fast_load(text, MAX_NODES, force=True)
    if fast is None:
        return False
    data, problems = careful(text)
    assert problems == [], text
    assert fast == data, text
    assert repr(fast) == repr(data), text  # 1 and 1.0 and True are equal; their types are not
    return True


def yaml_files() -> list[Path]:
    roots = [ROOT / "capabilities", ROOT / "tests", CORPUS]
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            found += sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    return found


def test_every_yaml_file_we_have_reads_the_same_both_ways() -> None:
    files = yaml_files()
    taken = 0
    for path in files:
        try:
            text = path.read_text("utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        taken += assert_agrees(text)
    print(f"\nfast YAML path: took {taken} of {len(files)} files, all identical")
    assert taken > 0


def test_bundled_capabilities_take_the_fast_path() -> None:
    for path in sorted((ROOT / "capabilities").glob("*.yaml")):
        assert assert_agrees(path.read_text("utf-8")), path


@pytest.mark.parametrize(
    "text",
    [
        "a: yes\n",  # YAML 1.1 bool
        "a: 'yes'\n",
        "a: ~\n",
        "a: Null\n",
        "a: 0x1F\n",
        "a: 012\n",  # octal to PyYAML
        "a: 1_000\n",
        "a: 1e3\n",  # a string to PyYAML, a number to JSON
        "a: .5\n",
        "a: +1\n",
        "a: .inf\n",
        "a: 190:20:30\n",  # sexagesimal int
        "2: x\n",
        "'2': x\n",
        "on: x\n",
        "2001-12-14: x\n",
        "a: 1\na: 2\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "<<: {a: 1}\n",
        "%YAML 1.1\n---\na: 1\n",
        "---\na: 1\n---\nb: 2\n",
        "- a\n- b\n",
        "just a string\n",
        "",
        "# nothing\n",
        'a: "tab\\there"\n',
        'a: "\\x41\\u00e9\\N"\n',
        "a:\tb\n",
        "a: b\rc: d\n",
        "a: x\u2028y\n",
        "a: x\x85y\n",
        "\ufeffa: 1\n",
        "? [a, b]\n: c\n",
        "a: @b\n",
        "a: `b`\n",
        "a: [1, 2\nb: 3\n",
        "a: b: c\n",
        "a:\n  - 1\n  -\n  - c\n",
        "a: ''\nb: \"\"\nc:\n",
        "a: '1.0'\nb: \"true\"\nc: 'null'\nd: '-3'\n",
        "a: 1.0\nb: -0\nc: 10\nd: 1.5e+3\ne: 2.\n",
        "a: |\n  keep\n\n  lines\nb: >-\n  folded\n  text\n\n  para\nc: |+\n  x\n\n",
        "a: multi\n  line\n  plain\nb: 'single\n  quoted'\nc: \"double\n  quoted\"\n",
        "a: x # comment\nb: x#not\nc: 'it''s'\n",
        "a: {x: 1, y: [1, {z: q}]}\nb: [[1, 2], [yes]]\n",
        "k" * 1100 + ": v\n",
        "a: café ✓ 😀\n",
        "a: 1\r\nb: |\r\n  x\r\n  y\r\n",
        "---\na: 1\n",
        "a: 1\n...\n",
    ],
)
def test_edge_cases_agree_or_decline(text: str) -> None:
    assert_agrees(text)


def test_declines_what_pyyaml_reads_differently() -> None:
    for text in ("a: yes\n", "a: ~\n", "a: 0x1F\n", "a: 1e3\n", "a: &x 1\nb: *x\n", "2: x\n"):
        assert fastyaml.fast_load(text, MAX_NODES, force=True) is None, text


def test_takes_plain_documents() -> None:
    text = "a: 1.0\nb: '1.0'\nc: [x, \"true\", null]\nd:\n  e: |\n    hi\n"
    assert assert_agrees(text)


def test_mutated_documents_agree_or_decline() -> None:
    seed_docs = [
        path.read_text("utf-8") for path in sorted((ROOT / "capabilities").glob("*.yaml"))
    ][:2] or ["a:\n  b: [1, two]\n  c: {d: 'e'}\n"]
    pieces = [" ", "\n", ":", "- ", "'", '"', "#", "[", "]", "{", "}", ",", "|", ">", "  ", "1"]
    rng = random.Random(17)
    taken = 0
    for _ in range(1500):
        text = rng.choice(seed_docs)
        for _ in range(rng.randint(1, 2)):
            at = rng.randrange(len(text) + 1)
            if rng.random() < 0.5 and text:
                text = text[:at] + text[at + 1 :]
            else:
                text = text[:at] + rng.choice(pieces) + text[at:]
        taken += assert_agrees(text)
    assert taken > 300  # the mutations still exercise the fast path, not only the decline


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in the CLI: the default path is only tried with one thread, and earlier tests in the
    same session may leave threads behind."""
    monkeypatch.setattr(fastyaml.threading, "active_count", lambda: 1)


@pytest.mark.usefixtures("one_thread")
def test_syntax_error_is_a_diagnostic_and_nothing_reaches_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    padding = "".join(f"k{i}: v\n" for i in range(fastyaml.MIN_BYTES // 6))
    path.write_text("a: [1, 2\nb: 3\n" + padding)  # large enough for the fast path to try
    doc, problems = load_source(path, "bad.yaml")
    assert doc is None and problems[0].rule == "yaml-syntax" and problems[0].line == 2
    out, err = capfd.readouterr()
    assert err == "" and out == ""


def test_positions_of_a_fast_document_are_the_careful_ones() -> None:
    text = "a:\n  b: [1, two]\nc: x\n"
    fast, _ = parse_text(text, Path("x.yaml"), "x.yaml", fast=True)
    slow, _ = parse_text(text, Path("x.yaml"), "x.yaml", fast=False)
    assert fast is not None and slow is not None
    assert fast.source_map.values == slow.source_map.values
    assert fast.source_map.keys == slow.source_map.keys
    assert fast.source_map.locate(("a", "b", 1)) == (2, 10)


@pytest.mark.usefixtures("one_thread")
def test_only_large_texts_take_the_fast_path_by_default() -> None:
    small = "a: 1\n"
    large = "".join(f"k{i}: v\n" for i in range(fastyaml.MIN_BYTES // 6))
    small_doc, _ = parse_text(small, Path("x.yaml"), "x.yaml")
    large_doc, _ = parse_text(large, Path("x.yaml"), "x.yaml")
    assert small_doc is not None and large_doc is not None
    assert small_doc.source_map._fill is None  # read the careful way: positions already there
    assert large_doc.source_map._fill is not None  # read fast: positions built when asked
    assert large_doc.source_map.locate(("k3",)) == (4, 5)
