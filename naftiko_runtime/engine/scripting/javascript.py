"""JavaScript script steps in V8 (mini-racer): a fresh isolate per call, bounded in time and
heap, with no `require`, file, network or process API (plain V8 has none)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson

from naftiko_runtime.engine.scripting import ScriptError

if TYPE_CHECKING:
    from naftiko_runtime.engine.scripting import ScriptSettings

_EPILOGUE = (
    "\n;(typeof result === 'undefined' && !('result' in globalThis)) ? '\\u0000none' : "
    "JSON.stringify(result === undefined ? null : result)"
)


def _run(step: str, sources: list[tuple[str, str]], context: bytes, settings: Any) -> Any:
    from py_mini_racer import MiniRacer
    from py_mini_racer._exc import JSEvalException, JSOOMException, JSTimeoutException

    racer = MiniRacer()
    try:
        racer.set_hard_memory_limit(settings.memory_mb * 1024 * 1024)
        timeout = settings.timeout_ms
        racer.eval("var context = " + context.decode() + ";", timeout=timeout)
        *dependencies, (_, main) = sources
        for _name, source in dependencies:
            racer.eval(source, timeout=timeout)
        text = racer.eval(main + _EPILOGUE, timeout=timeout)
    except JSTimeoutException:
        raise ScriptError(
            "timeout", step, f"script step '{step}' exceeded the timeout limit ({timeout} ms)"
        ) from None
    except JSOOMException:
        raise ScriptError(
            "memory",
            step,
            f"script step '{step}' exceeded the memory limit ({settings.memory_mb} MB)",
        ) from None
    except JSEvalException as exc:
        first = str(exc).strip().splitlines()
        detail = next((line for line in first if "Error" in line), first[0] if first else "")
        raise ScriptError("failed", step, f"script step '{step}' failed: {detail}") from None
    finally:
        racer.close()
    if text == "\u0000none":
        return None
    return orjson.loads(text) if isinstance(text, str) else text


async def run_javascript(
    step: str, sources: list[tuple[str, str]], context: dict[str, Any], settings: ScriptSettings
) -> Any:
    """Run off the event loop: V8 holds its thread until the script ends or is terminated."""
    try:
        payload = orjson.dumps(context)
    except TypeError as exc:
        message = f"script step '{step}': inputs cannot be encoded: {exc}"
        raise ScriptError("failed", step, message) from None
    return await asyncio.to_thread(_run, step, sources, payload, settings)
