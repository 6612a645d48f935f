"""What every part of script steps shares: settings, the error, and safe file reading."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from naftiko_runtime.errors import NaftikoError
from naftiko_runtime.model import ScriptStep

LANGUAGES = ("javascript", "python")
DEFAULT_TIMEOUT_MS = 60_000
DEFAULT_STATEMENT_LIMIT = 100_000
DEFAULT_MEMORY_MB = 128
DEFAULT_CONCURRENCY = 4  # children running at once, per language
DEFAULT_QUEUE = 16  # calls waiting for one, per language; more are refused (busy, 503)
DEFAULT_QUEUE_WAIT_MS = 2_000  # the longest a call waits for a child before it is refused
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


class ScriptError(NaftikoError):
    """A script step failed, ran too long or used too much; `kind` says which."""

    def __init__(self, kind: str, step: str, message: str) -> None:
        self.kind = kind  # failed | timeout | statement_limit | memory | busy | disabled | config
        self.step = step
        self.message = message
        super().__init__(message)


@dataclass
class ScriptStats:
    executions: int = 0
    errors: int = 0
    total_seconds: float = 0.0
    last_at: float | None = None


@dataclass
class ScriptSettings:
    """The scripting settings: defaults from the spec's control adapter or the command line;
    the control port may change them at run time (read at each execution)."""

    enabled: bool | None = None
    default_location: str | None = None
    default_language: str | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    statement_limit: int = DEFAULT_STATEMENT_LIMIT
    memory_mb: int = DEFAULT_MEMORY_MB
    concurrency: int = DEFAULT_CONCURRENCY
    queue: int = DEFAULT_QUEUE
    queue_wait_ms: int = DEFAULT_QUEUE_WAIT_MS
    allowed_languages: tuple[str, ...] = ()
    stats: ScriptStats = field(default_factory=ScriptStats)

    def permitted(self) -> bool:
        if self.enabled is not None:
            return self.enabled
        return os.environ.get("NAFTIKO_SCRIPTING", "").strip().lower() != "false"


def safe_file(directory: Path, relative: str, step: str) -> Path:
    """`relative` inside `directory`: plain segments only, and no link may lead outside."""
    parts = relative.split("/")
    if not relative or any(not _SEGMENT.match(p) or p in (".", "..") for p in parts):
        raise ScriptError("config", step, f"script step '{step}': invalid script path {relative!r}")
    root = directory.resolve()
    target = (root / relative).resolve()
    if root != target and root not in target.parents:
        raise ScriptError("config", step, f"script step '{step}': {relative!r} leaves its folder")
    return target


def read_sources(directory: Path, step: ScriptStep) -> list[tuple[str, str]]:
    """(file name, source) for every dependency, then the main file."""
    sources = []
    for relative in (*step.dependencies, step.file):
        path = safe_file(directory, relative, step.name)
        try:
            sources.append((relative, path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ScriptError(
                "config",
                step.name,
                f"script step '{step.name}': cannot read {relative!r}: {exc.strerror or exc}",
            ) from None
    return sources
