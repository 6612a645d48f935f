"""Every rule `validate` knows, in one table: each module of this package exports the rows
of its rules (`RULES`), and this one joins them, as jsonschema's keyword table joins its
keyword functions. SARIF's rule metadata, the docs' rule table (docs/reference/rules.md),
`naftiko-runtime rules` and the `--select`/`--ignore`/`--all-rules` switches all read it.

The rows, in the table's order:
  structure    what reading the YAML and the schema report
  references   names resolve: calls, `with` keys, path parameters, binds, templates, imports
  graph        what runs as a graph: steps, lookups, scripts, aggregates, forwards, outputs
  compile      what `serve` needs at start-up: files, extras, `validate --compile`
  (here)       `ignore-comment`: the comments that switch rules off
  portability  what one dialect or engine has and the other lacks (`--strict`, `migrate`)
  commands     what `validate --policies` and `check` report
  official     the official Naftiko lint rules (the alpha2 Spectral ruleset)
  ikanos       the Ikanos lint rules (the beta5 Spectral ruleset)
Checks and rows need not sit together: `flows.py` reports `template-variable`,
`step-field` and `lookup-index`, listed with `references` and `graph`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from naftiko_runtime.capability.rules import (
    commands,
    graph,
    ikanos,
    official,
    portability,
    references,
    structure,
)
from naftiko_runtime.capability.rules import compile as compile_rules
from naftiko_runtime.capability.rules.rule import WARN, Rule, ours
from naftiko_runtime.capability.source import SourceDocument
from naftiko_runtime.diagnostics import Diagnostic, Severity

IGNORE_COMMENT = ours(
    "ignore-comment",
    WARN,
    "`# naftiko-runtime: ignore RULE reason` names a rule and a reason",
    "Give a known rule id (or prefix) and a reason after it.",
)

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        *structure.RULES,
        *references.RULES,
        *graph.RULES,
        *compile_rules.RULES,
        IGNORE_COMMENT,
        *portability.RULES,
        *commands.RULES,
        *official.RULES,
        *ikanos.RULES,
    )
}


def _matches(rule_id: str, patterns: Iterable[str]) -> bool:
    return any(rule_id == p or rule_id.startswith(p.rstrip("*")) for p in patterns)


@dataclass(frozen=True)
class Selection:
    """Which rules report: the default set, `--all-rules`, `--select` and `--ignore`."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    all_rules: bool = False

    def enabled(self, rule_id: str) -> bool:
        known = RULES.get(rule_id)
        if self.ignore and _matches(rule_id, self.ignore) and (known is None or known.ignorable):
            return False
        if self.select:
            return _matches(rule_id, self.select) or (known is not None and not known.ignorable)
        return known is None or known.default_on or self.all_rules

    def runs_official(self, rule_id: str) -> bool:
        return self.enabled(rule_id)


DEFAULT = Selection()
_IGNORE = re.compile(r"#\s*naftiko-runtime:\s*ignore\s+(?P<rules>[A-Za-z0-9*,_-]+)(?P<reason>.*)$")


def ignore_comments(doc: SourceDocument) -> tuple[set[str], list[Diagnostic]]:
    """Rules a file switches off for itself, and problems with the comments that do it."""
    ignored: set[str] = set()
    problems: list[Diagnostic] = []
    for number, line in enumerate(doc.lines, start=1):
        match = _IGNORE.search(line)
        if match is None:
            continue
        column = match.start() + 1
        reason = match.group("reason").strip(" -:—")
        for rule_id in match.group("rules").split(","):
            known = [r for r in RULES.values() if _matches(r.id, [rule_id])]
            if not known:
                problems.append(_comment_problem(doc, number, column, f"unknown rule {rule_id!r}"))
            elif not reason:
                problems.append(
                    _comment_problem(doc, number, column, f"ignoring {rule_id} needs a reason")
                )
            elif not all(r.ignorable for r in known):
                problems.append(
                    _comment_problem(
                        doc,
                        number,
                        column,
                        f"{rule_id} is a structural error and cannot be ignored",
                    )
                )
            else:
                ignored.add(rule_id)
    return ignored, problems


def _comment_problem(doc: SourceDocument, line: int, column: int, message: str) -> Diagnostic:
    return Diagnostic(
        doc.display, line, column, "", "ignore-comment", message, severity=Severity.WARNING
    )


def apply_selection(
    diagnostics: Sequence[Diagnostic],
    selection: Selection,
    ignored_by_file: dict[str, set[str]],
) -> list[Diagnostic]:
    kept = []
    for d in diagnostics:
        if not selection.enabled(d.rule):
            continue
        ignored = ignored_by_file.get(d.file)
        known = RULES.get(d.rule)
        if ignored and _matches(d.rule, ignored) and (known is None or known.ignorable):
            continue
        kept.append(d)
    return kept


def markdown_table() -> str:
    """The docs' rule table (a test keeps docs/reference/rules.md in step with this)."""
    lines = ["| rule | severity | default | checks |", "|---|---|---|---|"]
    for entry in RULES.values():
        default = "on" if entry.default_on else "off (`--all-rules`)"
        origin = " (official)" if entry.official else ""
        lines.append(
            f"| `{entry.id}` | {entry.severity.value} | {default} | {entry.summary}{origin} |"
        )
    return "\n".join(lines) + "\n"
