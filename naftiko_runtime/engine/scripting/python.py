"""Python script steps in a child process per call: RestrictedPython inside (no imports but a
few pure modules, no dunder access, no `open`), a statement counter, and the kernel's limits
(address space, CPU seconds). A runaway script is killed; the server never waits on it."""

from __future__ import annotations

import asyncio
import resource
import sys
from typing import TYPE_CHECKING, Any

import orjson

from naftiko_runtime.engine.scripting import ScriptError

if TYPE_CHECKING:
    from naftiko_runtime.engine.scripting import ScriptSettings

_WORKER = "naftiko_runtime.engine.scripting.python_worker"
_MAX_OUTPUT = 16 * 1024 * 1024


def _limits(memory_mb: int, cpu_seconds: int) -> Any:
    def apply() -> None:  # runs in the child, before exec
        memory = memory_mb * 1024 * 1024 + 256 * 1024 * 1024  # the interpreter's own share
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


class _WarmPool:
    """Interpreters started ahead of need (each runs one script, then exits), so a call
    does not wait for Python to start; one pool per event loop and limit setting."""

    def __init__(self, memory_mb: int, cpu_seconds: int, size: int = 2) -> None:
        self.key = (memory_mb, cpu_seconds)
        self.size = size
        self.idle: list[asyncio.subprocess.Process] = []
        self.filling: set[asyncio.Task[None]] = set()

    async def _spawn(self) -> asyncio.subprocess.Process:
        memory_mb, cpu_seconds = self.key
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-m",
            _WORKER,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=_limits(memory_mb, cpu_seconds),
            env={"PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"},
            close_fds=True,
        )

    def _refill(self) -> None:
        missing = self.size - len(self.idle) - len(self.filling)
        for _ in range(max(0, missing)):

            async def fill() -> None:
                try:
                    self.idle.append(await self._spawn())
                except OSError:
                    pass  # the next call starts its own

            task = asyncio.ensure_future(fill())
            self.filling.add(task)
            task.add_done_callback(self.filling.discard)

    async def take(self) -> asyncio.subprocess.Process:
        while self.idle:
            process = self.idle.pop()
            if process.returncode is None:
                self._refill()
                return process
        self._refill()
        return await self._spawn()


_POOLS: dict[tuple[int, tuple[int, int]], _WarmPool] = {}
MAX_RUNNING = 4
_RUNNING: dict[int, asyncio.Semaphore] = {}


def _pool(memory_mb: int, cpu_seconds: int) -> _WarmPool:
    key = (id(asyncio.get_running_loop()), (memory_mb, cpu_seconds))
    pool = _POOLS.get(key)
    if pool is None:
        pool = _POOLS[key] = _WarmPool(memory_mb, cpu_seconds)
    return pool


async def run_python(
    step: str, sources: list[tuple[str, str]], context: dict[str, Any], settings: ScriptSettings
) -> Any:
    timeout = settings.timeout_ms / 1000
    payload = {
        "step": step,
        "sources": sources,
        "context": context,
        "statement_limit": settings.statement_limit,
    }
    try:
        request = orjson.dumps(payload)
    except TypeError:  # integers beyond 64 bits: the standard encoder keeps them exact
        import json

        try:
            request = json.dumps(payload).encode()
        except (TypeError, ValueError) as exc:
            raise ScriptError("failed", step, f"script step '{step}': inputs: {exc}") from None
    loop_id = id(asyncio.get_running_loop())
    gate = _RUNNING.get(loop_id) or _RUNNING.setdefault(loop_id, asyncio.Semaphore(MAX_RUNNING))
    async with gate:  # at most this many script interpreters at once
        return await _run(step, request, settings, timeout)


async def _run(step: str, request: bytes, settings: ScriptSettings, timeout: float) -> Any:
    process = await _pool(settings.memory_mb, max(1, int(timeout) + 1)).take()
    try:
        out, _ = await asyncio.wait_for(process.communicate(request), timeout)
    except TimeoutError:
        raise ScriptError(
            "timeout",
            step,
            f"script step '{step}' exceeded the timeout limit ({settings.timeout_ms} ms)",
        ) from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if not out or len(out) > _MAX_OUTPUT:
        if process.returncode and process.returncode < 0:
            raise ScriptError(
                "memory" if process.returncode != -24 else "timeout",
                step,
                f"script step '{step}' was stopped by its resource limits",
            )
        raise ScriptError("failed", step, f"script step '{step}' failed without a result")
    try:
        answer = orjson.loads(out)
    except orjson.JSONDecodeError:
        import json

        try:
            answer = json.loads(out)  # integers beyond 64 bits
        except ValueError:
            raise ScriptError("failed", step, f"script step '{step}' answered garbage") from None
    if "error" in answer:
        kind = answer.get("kind", "failed")
        raise ScriptError(kind, step, f"script step '{step}' {answer['error']}")
    return answer.get("result") if answer.get("has_result") else None
