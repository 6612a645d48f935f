"""Diagnostics rendered for people (text), tools (json), code scanning (SARIF) and CI (github)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from naftiko_runtime.capability.source import SourceDocument
from naftiko_runtime.diagnostics import Diagnostic, Severity

FORMATS = ("text", "json", "sarif", "github")
JSON_FORMAT_VERSION = 1
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
PORTABILITY = "portability"  # the rule `--strict` adds
_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def render(
    fmt: str,
    diagnostics: Sequence[Diagnostic],
    files: Sequence[str],
    documents: Sequence[SourceDocument],
    version: str,
    *,
    strict: bool = False,
) -> str:
    if fmt == "json":
        return render_json(diagnostics, files, strict=strict)
    if fmt == "sarif":
        return render_sarif(diagnostics, version)
    if fmt == "github":
        return render_github(diagnostics)
    return render_text(diagnostics, files, documents, strict=strict)


def _counts(diagnostics: Sequence[Diagnostic]) -> tuple[int, int, int]:
    """(errors, warnings, portability findings): a `--strict` portability finding is an
    error for the exit code, but says the file is not portable, not that it is invalid."""
    portability = sum(d.rule == PORTABILITY for d in diagnostics)
    errors = sum(d.is_error for d in diagnostics) - portability
    warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
    return errors, warnings, portability


def render_text(
    diagnostics: Sequence[Diagnostic],
    files: Sequence[str],
    documents: Sequence[SourceDocument],
    *,
    strict: bool = False,
) -> str:
    """`file:line:col: severity [rule] message`, the source line, a caret, and the hint."""
    lines_of = {doc.display: doc.lines for doc in documents}
    out: list[str] = []
    for d in diagnostics:
        out.append(f"{d.file}:{d.line}:{d.column}: {d.severity.value} [{d.rule}] {d.message}")
        source = lines_of.get(d.file)
        if source and 0 < d.line <= len(source):
            text = source[d.line - 1].rstrip("\n")
            out.append(f"  {d.line:>4} | {text}")
            out.append(f"       | {' ' * (d.column - 1)}^")
        if d.hint:
            out.append(f"       = hint: {d.hint}")
    errors, warnings, portability = _counts(diagnostics)
    summary = f"{len(files)} file(s) checked: {errors} error(s), {warnings} warning(s)"
    if not strict:
        verdict = "invalid" if errors else "valid"
    else:
        summary += f", {portability} portability error(s)"
        if errors:
            verdict = "invalid"
        elif portability:
            verdict = (
                "valid, not portable: the reference engine would reject what is marked "
                "(naftiko-runtime serves it; plain `validate` accepts it)"
            )
        else:
            verdict = "valid and portable"
    out.append(f"{summary}; {verdict}")
    return "\n".join(out) + "\n"


def render_json(
    diagnostics: Sequence[Diagnostic], files: Sequence[str], *, strict: bool = False
) -> str:
    """A stable object: {version, valid, files, summary, diagnostics: [...]}; under
    `--strict` also `portable` and `summary.portability`, and `valid` leaves portability
    findings out (such a file serves here)."""
    errors, warnings, portability = _counts(diagnostics)
    document: dict[str, Any] = {
        "version": JSON_FORMAT_VERSION,
        "valid": not errors,
        "files": list(files),
        "summary": {
            "errors": errors,
            "warnings": warnings,
            "infos": sum(d.severity is Severity.INFO for d in diagnostics),
        },
        "diagnostics": [
            {
                "file": d.file,
                "line": d.line,
                "column": d.column,
                "pointer": d.pointer,
                "rule": d.rule,
                "severity": d.severity.value,
                "message": d.message,
                "hint": d.hint,
            }
            for d in diagnostics
        ],
    }
    if strict:
        document["portable"] = not portability
        document["summary"]["portability"] = portability
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_sarif(diagnostics: Sequence[Diagnostic], version: str) -> str:
    """SARIF 2.1.0 as GitHub code scanning accepts it (one run, rules listed, relative URIs)."""
    from naftiko_runtime.capability.rules import RULES

    rule_ids = sorted({d.rule for d in diagnostics} | set(RULES))
    results = []
    for d in diagnostics:
        text = d.message + (f" (hint: {d.hint})" if d.hint else "")
        results.append(
            {
                "ruleId": d.rule,
                "ruleIndex": rule_ids.index(d.rule),
                "level": _SARIF_LEVEL[d.severity],
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": d.file.replace("\\", "/")},
                            "region": {"startLine": d.line, "startColumn": d.column},
                        },
                        "logicalLocations": [{"fullyQualifiedName": d.pointer or "/"}],
                    }
                ],
            }
        )
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "naftiko-runtime",
                        "version": version,
                        "informationUri": "https://pypi.org/project/naftiko-runtime/",
                        "rules": [_sarif_rule(r) for r in rule_ids],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False) + "\n"


def _sarif_rule(rule_id: str) -> dict[str, Any]:
    """A rule's SARIF metadata from the registry: summary, help, default level."""
    from naftiko_runtime.capability.rules import RULES

    entry = RULES.get(rule_id)
    if entry is None:
        return {"id": rule_id, "shortDescription": {"text": rule_id}}
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": entry.summary},
        "fullDescription": {"text": entry.summary},
        "help": {"text": entry.help},
        "defaultConfiguration": {
            "level": _SARIF_LEVEL[entry.severity],
            "enabled": entry.default_on,
        },
        "properties": {"tags": ["naftiko-official" if entry.official else "naftiko-runtime"]},
    }


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: one annotation per diagnostic."""
    out = []
    for d in diagnostics:
        message = f"[{d.rule}] {d.message}" + (f" (hint: {d.hint})" if d.hint else "")
        out.append(
            f"::{_GITHUB_LEVEL[d.severity]} file={_escape_property(d.file)},"
            f"line={d.line},col={d.column},title={_escape_property(d.rule)}::"
            f"{_escape_data(message)}"
        )
    return "\n".join(out) + ("\n" if out else "")
