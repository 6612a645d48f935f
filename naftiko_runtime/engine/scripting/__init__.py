"""Script steps: JavaScript in V8 (mini-racer) and Python under RestrictedPython, each call in
a child process with a time and a memory limit and no file, network or process access; a
gate per language bounds how many run and how many wait.

Groovy needs a JVM: `validate` rejects it with a diagnostic instead of pretending.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naftiko_runtime.capability.model import ScriptStep
from naftiko_runtime.errors import NaftikoError, StartupError

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


class CompiledScript:
    """One script step: sources read once; settings read at each call."""

    def __init__(self, step: ScriptStep, settings: ScriptSettings) -> None:
        self.step = step
        self.settings = settings
        self._sources: list[tuple[str, str]] | None = None
        self._loaded_from: str | None = None

    def _resolve(self) -> tuple[str, list[tuple[str, str]]]:
        step, settings = self.step, self.settings
        language = step.language or settings.default_language
        if language == "js":
            language = "javascript"
        if not language:
            raise ScriptError(
                "config",
                step.name,
                f"script step '{step.name}' has no 'language' and no "
                "default language is configured",
            )
        if settings.allowed_languages and language not in settings.allowed_languages:
            raise ScriptError(
                "config",
                step.name,
                f"script step '{step.name}' uses language '{language}' "
                f"which is not in the allowed languages: {list(settings.allowed_languages)}",
            )
        if language not in LANGUAGES:
            raise ScriptError(
                "config",
                step.name,
                f"script step '{step.name}': language '{language}' is not "
                f"supported here (supported: {', '.join(LANGUAGES)})",
            )
        directory = step.directory or _location_path(settings.default_location)
        if not directory:
            raise ScriptError(
                "config",
                step.name,
                f"script step '{step.name}' has no 'location' and no "
                "default location is configured",
            )
        if self._sources is None or self._loaded_from != directory:
            self._sources = read_sources(Path(directory), step)
            self._loaded_from = directory
        return language, self._sources

    def preload(self) -> None:
        """Read the files now when they do not depend on run-time defaults (start-up errors)."""
        if self.step.directory and (self.step.language or self.settings.default_language):
            try:
                self._resolve()
            except ScriptError as exc:
                where = self.step.where
                raise StartupError(f"{where.file}:{where.line}:{where.column}: {exc}") from None

    async def __call__(self, context: dict[str, Any]) -> Any:
        settings = self.settings
        if not settings.permitted():
            raise ScriptError(
                "disabled",
                self.step.name,
                f"script step '{self.step.name}' requires scripting, "
                "which is disabled (management.scripting.enabled or NAFTIKO_SCRIPTING=false)",
            )
        language, sources = self._resolve()
        started = time.perf_counter()
        settings.stats.executions += 1
        try:
            if language == "javascript":
                from naftiko_runtime.engine.scripting.javascript import run_javascript

                return await run_javascript(self.step.name, sources, context, settings)
            from naftiko_runtime.engine.scripting.python import run_python

            return await run_python(self.step.name, sources, context, settings)
        except ScriptError:
            settings.stats.errors += 1
            raise
        finally:
            settings.stats.total_seconds += time.perf_counter() - started
            settings.stats.last_at = time.time()


def _location_path(location: str | None) -> str | None:
    if not location:
        return None
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(location).path) or None


class ScriptEngines:
    """Hands each script step its compiled runner, all sharing one settings object."""

    def __init__(self, settings: ScriptSettings | None = None) -> None:
        self.settings = settings or ScriptSettings()

    def runner(self, step: ScriptStep) -> CompiledScript:
        script = CompiledScript(step, self.settings)
        script.preload()
        return script
