"""Python script steps in a child process per call: RestrictedPython inside (no imports but a
few pure modules, no dunder access, no `open`), a statement counter, and the kernel's limits
(address space, CPU seconds). A runaway script is killed; the server never waits on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from naftiko_runtime import jsoncodec
from naftiko_runtime.engine.scripting.base import ScriptError
from naftiko_runtime.engine.scripting.workers import run_worker

if TYPE_CHECKING:
    from naftiko_runtime.engine.scripting.base import ScriptSettings

_INTERPRETER_SHARE = 256 * 1024 * 1024  # the interpreter's own address space


async def run_python(
    step: str, sources: list[tuple[str, str]], context: dict[str, Any], settings: ScriptSettings
) -> Any:
    payload = {
        "step": step,
        "sources": sources,
        "context": context,
        "statement_limit": settings.statement_limit,
    }
    try:
        request = jsoncodec.dumps(payload)  # exact for integers past 64 bits
    except (TypeError, ValueError) as exc:
        raise ScriptError("failed", step, f"script step '{step}': inputs: {exc}") from None
    address_space = settings.memory_mb * 1024 * 1024 + _INTERPRETER_SHARE
    return await run_worker(
        "python", "python_worker.py", (), address_space, step, request, settings
    )
