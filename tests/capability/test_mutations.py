"""Hundreds of broken variants of real specs: the pipeline answers with located diagnostics
and never raises (seeded, so a failure reproduces)."""

from __future__ import annotations

import copy
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.capability.schema import schema_verdicts_agree
from naftiko_runtime.capability.source import load_source
from naftiko_runtime.errors import StartupError
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.offline import AnyValue
from naftiko_runtime.serving.options import ServeOptions
from tests.capability.test_flow_rules import BASE as FLOW
from tests.capability.test_flow_rules import SCRIPTED
from tests.capability.test_validate_rules import BASE
from tests.conftest import CAPABILITIES, REPO, cli

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
                AnyValue(),
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


# ------------------------------------------------------------------ the mutation corpus
# Issue 32: for every rule of plain `validate` on what flows through an operation, of
# `check` (drift) and of `check --exercise`, seeded mutants of real specs that must be
# caught, each by its rule; and the share of all mutants caught without and with
# `--exercise`. The bundled capabilities are checked against the Letta slice their
# operations come from (the built-in mock answers: the corpus stays fast and needs no node);
# the flow-rule example (its upstream has no document) by `validate` alone.

SLICE = REPO.parent / "shared" / "corpus" / "letta" / "openapi" / "letta-openapi-jobs-runs.json"
JOBS = (CAPABILITIES / "letta-jobs.yaml").read_text()
RUNS = (CAPABILITIES / "letta-runs.yaml").read_text()
BUNDLED = {"letta-jobs.yaml": JOBS, "letta-runs.yaml": RUNS}
TOOL_OUTPUT = (  # a tool whose output is the upstream's body as it comes
    r'          call: "[\w-]+\.(\w+)"\n(?: {10}with:\n(?: {12}.*\n)+)? {10}outputParameters:\n'
    r' {12}- type: object\n {14}(mapping: "\$\.")'
)
ALBUMS = "            - name: list-albums\n              method: GET\n"
SCRIPT_FILES = {"scripts/shape.js": "result = context;", "scripts/lib/util.js": "var u = 1;"}
# fields the slice's example answers hold (non-null) for each retrieve operation
EXAMPLE_FIELDS = {
    "retrieve_job": ("status", "created_at", "job_type"),
    "retrieve_run": ("status", "agent_id", "created_at"),
}


@dataclass(frozen=True)
class Mutant:
    rule: str  # the rule that must catch it
    name: str
    text: str
    file: str = "spec.yaml"
    upstream: bool = True  # checked against the Letta slice (else `validate` alone)
    beside: tuple[tuple[str, str], ...] = ()  # files it needs next to it


def _sites(text: str, pattern: str) -> list[re.Match[str]]:
    return list(re.finditer(pattern, text))


def _at(text: str, match: re.Match[str], group: int, new: str) -> str:
    return text[: match.start(group)] + new + text[match.end(group) :]


def _pick(rng: random.Random, text: str, pattern: str, count: int) -> list[re.Match[str]]:
    sites = _sites(text, pattern)
    assert sites, pattern
    return rng.sample(sites, min(count, len(sites)))


def _misspell(rng: random.Random, word: str) -> str:
    """Two neighbouring letters swapped (never the same word back)."""
    spots = [i for i in range(1, len(word) - 1) if word[i] != word[i + 1]]
    i = rng.choice(spots)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _bundled(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(sorted(BUNDLED))
    return name, BUNDLED[name]


def _static_mutants(rng: random.Random) -> list[Mutant]:
    found = []
    for _ in range(2):  # a consumed path input that names no placeholder of its path
        name, text = _bundled(rng)
        (site,) = _pick(rng, text, r'- name: "(\w+)"\n\s+in: path', 1)
        new = _at(text, site, 1, _misspell(rng, site.group(1)))
        found.append(Mutant("path-input", f"path-input {name}", new, name))
    flow = FLOW.replace(
        "- name: artist_id\n                  in: path\n                  type",
        "- name: artistid\n                  in: path\n                  type",
        1,
    )
    found.append(Mutant("path-input", "path-input flow", flow, upstream=False))
    for _ in range(2):  # a `with` value that reads a misspelt input
        name, text = _bundled(rng)
        (site,) = _pick(rng, text, r'"(?:rest|tools)\.(\w{4,})"', 1)
        new = _at(text, site, 0, '"{{' + _misspell(rng, site.group(1)) + '}}"')
        found.append(Mutant("template-variable", f"template-variable {name}", new, name))
    word = _misspell(rng, "album_id")
    found.append(
        Mutant(
            "template-variable",
            "template-variable flow",
            FLOW.replace('lookupValue: "{{album_id}}"', 'lookupValue: "{{' + word + '}}"'),
            upstream=False,
        )
    )
    for old, step in (('"$.album.title"', "album"), ('"$.artist.artist.name"', "artist")):
        field = rng.choice(["year", "cover", "label", "genre"])
        new = FLOW.replace(old, f'"$.{step}.{field}"', 1)
        found.append(Mutant("step-field", f"step-field {step}.{field}", new, upstream=False))
    for kind in rng.sample(["html", "markdown"], 2):
        new = FLOW.replace(ALBUMS, ALBUMS + f"              outputRawFormat: {kind}\n", 1)
        found.append(Mutant("lookup-index", f"lookup-index {kind}", new, upstream=False))
    for script in ("shape.js", "lib/util.js"):  # a script file or dependency misspelt
        stem, _, suffix = script.rpartition(".")
        new = SCRIPTED.replace(script, f"{_misspell(rng, stem)}.{suffix}", 1)
        found.append(
            Mutant(
                "script-file",
                f"script-file {script}",
                new,
                upstream=False,
                beside=tuple(SCRIPT_FILES.items()),
            )
        )
    for kind, schema in (("avro", "albums.avsc"), ("protobuf", "albums.proto")):
        new = FLOW.replace(
            ALBUMS,
            ALBUMS
            + f"              outputRawFormat: {kind}\n              outputSchema: {schema}\n",
            1,
        )
        found.append(Mutant("output-schema", f"output-schema {kind}", new, upstream=False))
    return found


def _drift_mutants(rng: random.Random) -> list[Mutant]:
    found = []
    name, text = _bundled(rng)
    (site,) = _pick(rng, text, r'\n {10}path: "(/v1/\w+)', 1)
    new = _at(text, site, 1, site.group(1) + "s")
    found.append(Mutant("drift-path", f"drift-path {name}", new, name))
    name, text = _bundled(rng)
    (site,) = _pick(rng, text, r'- name: "\w+"\n {14}method: (GET)', 1)
    found.append(Mutant("drift-method", f"drift-method {name}", _at(text, site, 1, "PUT"), name))
    name, text = _bundled(rng)
    (site,) = _pick(rng, text, r"in: query\n {18}type: (integer|boolean)", 1)
    other = "boolean" if site.group(1) == "integer" else "integer"
    found.append(
        Mutant(
            "drift-parameter-type", f"drift-parameter-type {name}", _at(text, site, 1, other), name
        )
    )
    name, text = _bundled(rng)
    (site,) = _pick(rng, text, r"outputRawFormat: (json)", 1)
    found.append(
        Mutant(
            "drift-response-format",
            f"drift-response-format {name}",
            _at(text, site, 1, "csv"),
            name,
        )
    )
    return found


def _exercise_mutants(rng: random.Random) -> list[Mutant]:
    found = []
    for _ in range(2):  # a value the upstream's enum does not hold
        name, text = _bundled(rng)
        (site,) = _pick(rng, text, r'"(?:order|order_by|stop_reason)": ("(?:rest|tools)\.\w+")', 1)
        new = _at(text, site, 1, '"' + rng.choice(["sideways", "random", "never"]) + '"')
        found.append(Mutant("exercise-request", f"exercise-request value {name}", new, name))
    name, text = _bundled(rng)  # no credentials for an upstream that wants a bearer token
    auth = re.search(r"      authentication:\n(?: {8}.*\n)+", text)
    assert auth is not None
    found.append(
        Mutant("exercise-request", f"exercise-request auth {name}", _at(text, auth, 0, ""), name)
    )
    for operation, fields in EXAMPLE_FIELDS.items():  # a misspelt field of a mapped output
        name = "letta-jobs.yaml" if "job" in operation else "letta-runs.yaml"
        field = rng.choice(fields)
        old = f'call: "{name[:-5]}.{operation}"'
        typed = _typed(BUNDLED[name], old, rng.choice([1, 2]), field, _misspell(rng, field))
        found.append(
            Mutant("exercise-null-output", f"exercise-null-output {operation}.{field}", typed, name)
        )
    for _ in range(2):  # a tool result its outputSchema does not allow
        name, text = _bundled(rng)
        (site,) = _pick(
            rng,
            text,
            TOOL_OUTPUT,
            1,
        )
        kind, value = rng.choice([("number", '"many"'), ("boolean", '"maybe"')])
        fixed = (
            "properties:\n                count:\n                  type: "
            + kind
            + "\n                  value: "
            + value
        )
        found.append(
            Mutant(
                "exercise-response", f"exercise-response {name}", _at(text, site, 2, fixed), name
            )
        )
    for _ in range(2):  # an answer the declared format cannot decode
        name, text = _bundled(rng)
        (site,) = _pick(rng, text, r"outputRawFormat: (json)", 1)
        found.append(
            Mutant("exercise-status", f"exercise-status {name}", _at(text, site, 1, "xml"), name)
        )
    return found


def _typed(text: str, call: str, occurrence: int, field: str, misspelt: str) -> str:
    """The `occurrence`-th exposed call of an operation with its `$.` output replaced by
    typed members, one of them read through a misspelt path."""
    offset = -1
    for _ in range(occurrence):
        offset = text.index(call, offset + 1)
    start = text.index('mapping: "$."', offset)
    indent = " " * (start - text.rfind("\n", 0, start) - 1)
    typed = (
        f'properties:\n{indent}  id:\n{indent}    type: string\n{indent}    mapping: "$.id"\n'
        f'{indent}  {field}:\n{indent}    type: string\n{indent}    mapping: "$.{misspelt}"'
    )
    return text[:start] + typed + text[start + len('mapping: "$."') :]


def mutation_corpus(seed: int = 32) -> list[Mutant]:
    rng = random.Random(seed)
    return _static_mutants(rng) + _drift_mutants(rng) + _exercise_mutants(rng)


def _verdict(mutant: Mutant, folder: Path, exercise: bool) -> set[str]:
    """The error rules reported for the mutant."""
    folder.mkdir(parents=True, exist_ok=True)
    for relative, content in mutant.beside:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(content)
    spec = folder / mutant.file
    spec.write_text(mutant.text)
    if mutant.upstream:
        argv = ["check", str(spec), "--against", str(SLICE), "--format", "json"]
        argv += ["--exercise", "--mock", "builtin"] if exercise else []
    else:
        argv = ["validate", "--format", "json", str(spec)]
    result = cli(*argv)
    assert result.code in (0, 1), result.err
    return {d["rule"] for d in result.json()["diagnostics"] if d["severity"] == "error"}


@pytest.mark.e2e
@pytest.mark.skipif(not SLICE.exists(), reason="corpus not present")
def test_every_rule_has_mutants_that_are_caught(tmp_path: Path) -> None:
    corpus = mutation_corpus()
    rules = {m.rule for m in corpus}
    assert {"path-input", "template-variable", "step-field", "lookup-index", "script-file",
            "output-schema", "exercise-request", "exercise-null-output", "exercise-response",
            "exercise-status"} <= rules  # fmt: skip
    static = exercised = 0
    missed = []
    for n, mutant in enumerate(corpus):
        before = _verdict(mutant, tmp_path / f"{n}-static", exercise=False)
        after = _verdict(mutant, tmp_path / f"{n}-exercise", exercise=True)
        static += bool(before)
        exercised += bool(after)
        wanted = after if mutant.rule.startswith("exercise-") else before
        if mutant.rule not in wanted:
            missed.append((mutant.name, sorted(before), sorted(after)))
    assert not missed, missed
    total = len(corpus)
    print(f"\nmutation score: static {static}/{total}, with --exercise {exercised}/{total}")
    assert exercised == total
    # only the exercise sees a value or credential the upstream refuses, an output path the
    # example has no field for, a result outside outputSchema (an undecodable format, drift
    # reports too)
    unseen = {"exercise-request", "exercise-null-output", "exercise-response"}
    assert static == total - sum(m.rule in unseen for m in corpus), static
