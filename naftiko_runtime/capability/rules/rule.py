"""The record every row of the rule table is (`rules.RULES`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from naftiko_runtime.capability.source import SourceDocument
from naftiko_runtime.capability.walk import Walk
from naftiko_runtime.diagnostics import Diagnostic, Severity

ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

Check = Callable[[SourceDocument, Walk], Iterator[Diagnostic]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule: its id, severity, whether it runs by default, a summary (what it checks) and
    a help text (what to do; an official rule's message). An official rule carries its own
    `check`; ours are reported by the checks of the module that lists them."""

    id: str
    severity: Severity
    summary: str
    help: str
    default_on: bool = True
    official: bool = False
    check: Check | None = None

    @property
    def ignorable(self) -> bool:
        """A structural error cannot be ignored: the spec could not be served past it."""
        return self.official or self.severity is not Severity.ERROR


def ours(rule_id: str, severity: Severity, summary: str, help: str) -> Rule:
    """A row of this runtime's own rules (on by default)."""
    return Rule(rule_id, severity, summary, help)
