"""Hundreds of broken variants of real specs: the pipeline answers with located diagnostics
and never raises (seeded, so a failure reproduces)."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import yaml

from naftiko_runtime.cli import _AnyValue
from naftiko_runtime.errors import StartupError
from naftiko_runtime.runtime import ServeOptions, compile_runtime
from naftiko_runtime.spec.load import load_paths
from naftiko_runtime.spec.schema import schema_verdicts_agree
from naftiko_runtime.spec.source import load_source
from tests.conftest import CAPABILITIES
from tests.spec.test_validate_rules import BASE

JUNK: list[Any] = [
    None,
    0,
    -1,
    3.5,
    True,
    "",
    "x",
    "{{",
    "$..[",
    [],
    {},
    [1, {"a": None}],
    {"type": "rest"},
    "{bad}",
    "rest.",
    "jobs-api.",
    70000,
]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*path, i))
    return found


def _mutate(data: Any, rng: random.Random) -> Any:
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = rng.choice(paths)
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = rng.choice(["junk", "delete", "rename", "duplicate"])
        if action == "junk":
            parent[last] = copy.deepcopy(rng.choice(JUNK))
        elif action == "delete":
            del parent[last]
        elif action == "rename" and isinstance(parent, dict):
            parent[f"{last}_x"] = parent.pop(last)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return data


def _check(path: Path) -> bool:
    result = load_paths([path])  # must not raise
    doc, _ = load_source(path)
    if doc is not None and isinstance(doc.data, dict):  # fast and detailed schema verdicts
        assert schema_verdicts_agree(doc.data), path.read_text()
    lines = path.read_text().count("\n") + 1
    for diagnostic in result.diagnostics:
        assert 1 <= diagnostic.line <= lines and diagnostic.column >= 1, diagnostic
        assert diagnostic.rule and diagnostic.message
    if result.ok and result.capabilities:  # a still-valid mutant must also compile to serve
        try:
            compile_runtime(
                result.capabilities,
                _AnyValue(),
                ServeOptions(upstreams={"*": "http://upstream.invalid"}),
                tracing=None,
            )
        except StartupError:
            pass  # a clear refusal (e.g. unverifiable inbound auth) is an answer, not a crash
    return result.ok


def test_structural_mutations_never_crash(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    sources = [yaml.safe_load(BASE)] + [
        yaml.safe_load(p.read_text()) for p in sorted(CAPABILITIES.glob("*.yaml"))
    ]
    target = tmp_path / "mutant.yaml"
    verdicts = []
    for _ in range(300):
        target.write_text(yaml.safe_dump(_mutate(rng.choice(sources), rng), sort_keys=False))
        verdicts.append(_check(target))
    assert 20 < sum(verdicts) < 280  # the mutants are a real mix of valid and invalid


def test_text_mutations_never_crash(tmp_path: Path) -> None:
    rng = random.Random(7)
    texts = [BASE] + [p.read_text() for p in sorted(CAPABILITIES.glob("*.yaml"))]
    target = tmp_path / "mutant.yaml"
    verdicts = []
    for _ in range(300):
        text = list(rng.choice(texts))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text))
            op = rng.choice(["drop", "insert", "swap"])
            if op == "drop":
                del text[at : at + rng.randint(1, 30)]
            elif op == "insert":
                text.insert(at, rng.choice([":", "-", " ", "\n", "{", "[", "&a", "*a", "'", "\t"]))
            else:
                other = rng.randrange(len(text))
                text[at], text[other] = text[other], text[at]
        target.write_text("".join(text))
        verdicts.append(_check(target))
    assert sum(verdicts) < 280
