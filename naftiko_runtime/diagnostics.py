"""One finding about a spec file, located precisely enough for an editor or CI to point at it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How much a finding matters; only errors make a spec invalid."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A located finding: file, 1-based line and column, JSON pointer, rule id, message, hint."""

    file: str
    line: int
    column: int
    pointer: str
    rule: str
    message: str
    severity: Severity = Severity.ERROR
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.rule, self.message)


def pointer_of(path: tuple[str | int, ...]) -> str:
    """Render a data path as an RFC 6901 JSON pointer."""
    parts = (str(p).replace("~", "~0").replace("/", "~1") for p in path)
    return "".join("/" + p for p in parts)
