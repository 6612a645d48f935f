"""The YAML loader rejects what PyYAML silently accepts, and never raises on bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from naftiko_runtime.capability import source
from naftiko_runtime.capability.source import load_source, parse_text


def parse(text: str) -> tuple[object, list[tuple[str, int, int, str]]]:
    doc, problems = parse_text(text, Path("x.yaml"), "x.yaml")
    return (doc.data if doc else None), [(p.rule, p.line, p.column, p.message) for p in problems]


def test_positions_are_kept_for_keys_and_values() -> None:
    doc, _ = parse_text("a:\n  b: [1, two]\n", Path("x.yaml"), "x.yaml")
    assert doc is not None
    assert doc.source_map.values[("a", "b", 1)] == (2, 10)
    assert doc.source_map.keys[("a", "b")] == (2, 3)
    assert doc.source_map.locate(("a", "b", "missing")) == (2, 6)


def test_duplicate_key_is_reported_at_the_second_one() -> None:
    data, problems = parse("name: a\nother: 1\nname: b\n")
    assert problems == [
        ("yaml-duplicate-key", 3, 1, "duplicate key 'name' (first defined at line 1)")
    ]
    assert data == {"name": "a", "other": 1}


def test_non_string_key_is_reported() -> None:
    _, problems = parse("200: ok\non: yes\n")
    assert [(p[0], p[1]) for p in problems] == [("yaml-key-type", 1), ("yaml-key-type", 2)]


def test_syntax_error_has_line_and_column() -> None:
    data, problems = parse("a: [1, 2\nb: 3\n")
    assert data is None
    assert problems[0][0] == "yaml-syntax" and problems[0][1] == 2


def test_alias_bomb_is_refused(monkeypatch: object) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    data, problems = parse("\n".join(lines) + "\n")
    assert data is None
    assert problems[0][0] == "yaml-too-large" and "aliases are expanded" in problems[0][3]


def test_a_document_nested_too_deep_is_refused_not_a_traceback() -> None:
    """Nesting past MAX_DEPTH is a located diagnostic on both YAML paths (the fast one
    leaves it to the careful one), never a RecursionError, however deep it goes."""
    ok = "a: " + "[" * 40 + "1" + "]" * 40 + "\n"
    assert parse(ok)[1] == []
    pad = "# " + "x" * 70_000 + "\n"  # above the fast path's threshold
    for depth in (110, 600, 5000):
        text = "a: " + "[" * depth + "1" + "]" * depth + "\n"
        for fast in (True, False):
            doc, problems = parse_text(text + pad, Path("deep.yaml"), "deep.yaml", fast=fast)
            assert doc is None and problems, (depth, fast)
            assert problems[0].rule in ("yaml-too-deep", "yaml-syntax"), problems
    doc, problems = parse_text("a: " + "[" * 110 + "]" * 110 + "\n", Path("d.yaml"), "d.yaml")
    assert doc is None and problems[0].rule == "yaml-too-deep" and problems[0].line == 1


def test_small_aliases_still_work() -> None:
    data, problems = parse("base: &b {x: 1}\ncopy: *b\n")
    assert problems == [] and data == {"base": {"x": 1}, "copy": {"x": 1}}


def test_file_size_limit(tmp_path: Path, monkeypatch: object) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 100 + "\n")
    setattr(source, "MAX_FILE_BYTES", 50)  # noqa: B010 - restored below
    try:
        doc, problems = load_source(path)
    finally:
        source.MAX_FILE_BYTES = 32 * 1024 * 1024
    assert doc is None and problems[0].rule == "yaml-too-large"


def test_dates_stay_strings_as_the_reference_reads_them() -> None:
    data, _ = parse("created: 2026-05-08\nflag: true\nn: 3\n")
    assert data == {"created": "2026-05-08", "flag": True, "n": 3}


def test_unreadable_and_non_utf8_files(tmp_path: Path, write_spec: Callable[..., Path]) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("naftiko: caf\xe9\n".encode("latin-1"))
    doc, problems = load_source(path)
    assert doc is None and problems[0].rule == "yaml-encoding"


def test_a_large_file_with_an_alias_bomb_is_still_refused() -> None:
    """A large file may hold many nodes (a whole real description fits), but what aliases
    may add is bounded by the nodes the document really holds, not by its size: padding
    does not buy a bomb room (found by review: a budget by bytes let 30 MB of comments
    carry a 2 GB expansion)."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 6):  # 10^6 nodes: past 4x the 60 real ones, under 32 MB / 4
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    padding = [f"# {'padding ' * 100}" for _ in range(40_000)]  # about 32 MB of comments
    data, problems = parse("\n".join(padding + lines) + "\n")
    assert data is None
    assert problems[0][0] == "yaml-too-large" and "aliases are expanded" in problems[0][3]
