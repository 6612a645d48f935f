"""Specs we did not write: verdicts against the official schema, and the dialect accepted.

Reads ../shared/corpus and ../shared/reference when present; skips cleanly when absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from naftiko_runtime.capability.load import expand_paths, load_paths
from naftiko_runtime.capability.schema import schema_verdicts_agree
from naftiko_runtime.capability.source import load_source
from tests.conftest import CORPUS, SHARED

OFFICIAL = SHARED / "reference" / "naftiko-schema-1.0.0-alpha2.json"
pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(
        not (CORPUS.is_dir() and OFFICIAL.is_file()),
        reason="../shared/corpus is not beside the repo",
    ),
]

SCHEMA_RULES_PREFIXES = ("schema", "version", "param-location", "yaml", "portability")
# Real problems our semantic rules find in files the official schema accepts or never checks.
KNOWN_SEMANTIC = {
    "naftiko-framework/src/test/resources/aggregates/aggregate-invalid-ref.yaml": {"call-target"},
    # the reference's format fixtures without the schema their decoder needs
    "naftiko-framework/src/test/resources/formats/avro-capability.yaml": {"output-schema"},
    "naftiko-framework/src/test/resources/formats/proto-capability.yaml": {"output-schema"},
    # the reference's own negative fixture: its engine refuses to load it
    "naftiko-framework/src/test/resources/baseuri-trailing-slash-capability.yaml": {
        "base-uri-slash"
    },
    # the reference's example names script files under /app, a folder of its own image
    "naftiko-framework/src/main/resources/schemas/examples/script-step.yml": {"script-file"},
    # REST operations whose consumed bodies read `{{tools.x}}`: only MCP tools give those
    "other-providers/trello/capabilities/project-management.yaml": {"template-variable"},
    "letta/capabilities/letta-admin.yaml": {"route-conflict"},
    "letta/capabilities/letta-identities.yaml": {"route-conflict"},
    "other-providers/datadog/capabilities/datadog-cancel.yaml": {"path-param", "required-param"},
    "other-providers/okta/capabilities/okta-domain.yaml": {"path-param"},
    "other-providers/okta/capabilities/okta-linkedobject.yaml": {"path-param"},
    "other-providers/simplelegal/capabilities/simplelegal-cost-codes.yaml": {"binding"},
    "other-providers/simplelegal/capabilities/simplelegal-payments.yaml": {"binding"},
    "other-providers/simplelegal/capabilities/simplelegal-users.yaml": {"binding"},
}


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = []
    for path in expand_paths([CORPUS]):
        doc, _ = load_source(path)
        if doc is not None and isinstance(doc.data, dict) and "naftiko" in doc.data:
            files.append(path)
    return files


def _name(path: Path) -> str:
    return path.resolve().relative_to(CORPUS.resolve()).as_posix()


def _is_schema_rule(rule: str) -> bool:
    return rule.startswith(SCHEMA_RULES_PREFIXES)


def test_strict_verdict_matches_the_official_schema(capsys: pytest.CaptureFixture[str]) -> None:
    official = Draft202012Validator(json.loads(OFFICIAL.read_text()))
    files = _corpus_files()
    assert len(files) >= 100
    disagreements = []
    for path in files:
        doc, _ = load_source(path)
        assert doc is not None
        assert schema_verdicts_agree(doc.data), _name(path)  # fast gate == detailed validator
        official_valid = next(iter(official.iter_errors(doc.data)), None) is None
        ours = load_paths([path], strict=True, build_model=False)
        schema_valid = not any(_is_schema_rule(d.rule) for d in ours.errors)
        semantic = {d.rule for d in ours.errors if not _is_schema_rule(d.rule)}
        if schema_valid != official_valid:
            disagreements.append((_name(path), official_valid, schema_valid))
        if official_valid:  # a semantic error in an officially valid file must be a known one
            assert semantic == KNOWN_SEMANTIC.get(_name(path), set()), _name(path)
    with capsys.disabled():
        valid = sum(1 for p in files if load_paths([p], strict=True, build_model=False).ok)
        print(
            f"\ncorpus conformance: compared {len(files)} files with the official schema, "
            f"{len(disagreements)} disagreements; {valid} valid under --strict"
        )
    assert disagreements == []


def test_default_mode_accepts_every_file_that_only_uses_the_dialect() -> None:
    for path in _corpus_files():
        result = load_paths([path], build_model=False)
        rules = {d.rule for d in result.errors}
        name = _name(path)
        if name.endswith("capability-example.yml"):
            assert rules == {"version"}  # the framework's own alpha1 example
            continue
        assert rules == KNOWN_SEMANTIC.get(name, set()), (name, result.errors[:3])


def test_known_corpus_problems_are_located() -> None:
    admin = CORPUS / "letta" / "capabilities" / "letta-admin.yaml"
    result = load_paths([admin], build_model=False)
    [conflict] = [d for d in result.errors if d.rule == "route-conflict"]
    assert "GET /v1/tags/ on port 8080" in conflict.message
    text = admin.read_text().splitlines()
    assert "GET" in text[conflict.line - 1]
