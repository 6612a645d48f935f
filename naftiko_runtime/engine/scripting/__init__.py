"""Script steps: JavaScript in V8 (mini-racer) and Python under RestrictedPython, each call in
a child process with a time and a memory limit and no file, network or process access; a
gate per language bounds how many run and how many wait.

Groovy needs a JVM: `validate` rejects it with a diagnostic instead of pretending.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from naftiko_runtime.engine.scripting.base import (
    LANGUAGES,
    ScriptError,
    ScriptSettings,
    read_sources,
)
from naftiko_runtime.errors import StartupError
from naftiko_runtime.model import ScriptStep


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
