"""JavaScript script steps in V8 (mini-racer), one child process per call: a fresh isolate
bounded in time, heap and process memory, with no `require`, file, network or process API
(plain V8 has none).

V8's heap limit leaves out array buffers and WebAssembly memory, so the isolate never runs
inside the server: its child is capped by the kernel (see javascript_worker) and killed on
time-out, and a script that allocates past its limit loses only that child.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from naftiko_runtime import jsoncodec
from naftiko_runtime.engine.scripting.base import ScriptError
from naftiko_runtime.engine.scripting.workers import run_worker

if TYPE_CHECKING:
    from naftiko_runtime.engine.scripting.base import ScriptSettings


async def run_javascript(
    step: str, sources: list[tuple[str, str]], context: dict[str, Any], settings: ScriptSettings
) -> Any:
    try:
        request = jsoncodec.dumps({"sources": sources, "context": context})
    except (TypeError, ValueError) as exc:
        message = f"script step '{step}': inputs cannot be encoded: {exc}"
        raise ScriptError("failed", step, message) from None
    memory = str(settings.memory_mb)
    return await run_worker(
        "javascript", "javascript_worker.py", (memory,), None, step, request, settings
    )
