"""JavaScript script steps in V8 (mini-racer): a fresh isolate per call, bounded in time and
heap, with no `require`, file, network or process API (plain V8 has none).

The isolate runs on mini-racer's own thread and reports back to this event loop, so a
looping script never blocks other requests; on time-out its task is cancelled, which
terminates the script inside V8.
"""

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


async def run_javascript(
    step: str, sources: list[tuple[str, str]], context: dict[str, Any], settings: ScriptSettings
) -> Any:
    from py_mini_racer import JSEvalException, JSOOMException, mini_racer

    try:
        payload = orjson.dumps(context).decode()
    except TypeError as exc:
        message = f"script step '{step}': inputs cannot be encoded: {exc}"
        raise ScriptError("failed", step, message) from None
    timeout = settings.timeout_ms
    *dependencies, (_, main) = sources
    program = ["var context = " + payload + ";", *(s for _, s in dependencies), main + _EPILOGUE]
    with mini_racer(asyncio.get_running_loop()) as racer:
        racer.set_hard_memory_limit(settings.memory_mb * 1024 * 1024)
        try:
            async with asyncio.timeout(timeout / 1000):
                text: Any = None
                for source in program:
                    text = await racer.eval_cancelable(source)
        except TimeoutError:
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
            lines = str(exc).strip().splitlines()
            detail = next((line for line in lines if "Error" in line), lines[0] if lines else "")
            raise ScriptError("failed", step, f"script step '{step}' failed: {detail}") from None
    if text == "\u0000none":
        return None
    return orjson.loads(text) if isinstance(text, str) else text
