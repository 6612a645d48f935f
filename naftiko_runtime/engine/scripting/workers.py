"""The parent side of both sandboxes: every script runs in a child process under kernel
limits, so a script that eats memory kills its own child, never the server.

A gate per language bounds how many children run at once and how many calls wait for
one; a call that finds the queue full, or waits past its deadline, fails at once with a
`busy` error (503) instead of holding its client for the whole backlog.
"""

from __future__ import annotations

import asyncio
import resource
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from naftiko_runtime import jsoncodec
from naftiko_runtime.engine.scripting.base import ScriptError

if TYPE_CHECKING:
    from naftiko_runtime.engine.scripting.base import ScriptSettings

HERE = Path(__file__).resolve().parent
MAX_OUTPUT = 16 * 1024 * 1024
READY = b"+"  # what a child writes first, once its interpreter is loaded
STARTUP_SECONDS = 10.0
_SIGXCPU = -24


class Gate:
    """At most `running` children of a language at once, at most `waiting` calls in line,
    each waiting no longer than its deadline."""

    def __init__(self, running: int, waiting: int) -> None:
        self.running = running
        self.waiting = waiting
        self._slots = asyncio.Semaphore(running)
        self._queued = 0

    @asynccontextmanager
    async def slot(self, step: str, wait_seconds: float) -> AsyncIterator[None]:
        if self._slots.locked() and self._queued >= self.waiting:
            raise _busy(step, "its queue is full")
        self._queued += 1
        try:
            async with asyncio.timeout(wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise _busy(
                step, f"no interpreter was free within {wait_seconds * 1000:.0f} ms"
            ) from None
        finally:
            self._queued -= 1
        try:
            yield
        finally:
            self._slots.release()


def _busy(step: str, why: str) -> ScriptError:
    return ScriptError("busy", step, f"script step '{step}' could not run: {why}; retry later")


_GATES: dict[tuple[int, str, int, int], Gate] = {}


def gate(language: str, settings: ScriptSettings) -> Gate:
    """The gate of this language on the running event loop (a new loop gets its own)."""
    running = max(1, settings.concurrency)
    waiting = max(0, settings.queue)
    key = (id(asyncio.get_running_loop()), language, running, waiting)
    found = _GATES.get(key)
    if found is None:
        found = _GATES[key] = Gate(running, waiting)
    return found


def _limits(address_space: int | None, cpu_seconds: int) -> Callable[[], None]:
    def apply() -> None:  # runs in the child, before exec
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


class WarmPool:
    """Children started ahead of need (each runs one script, then exits), so a call does
    not wait for an interpreter to start; one pool per event loop, worker and limits."""

    def __init__(
        self, argv: Sequence[str], address_space: int | None, cpu_seconds: int, size: int = 2
    ) -> None:
        self.argv = tuple(argv)
        self.address_space = address_space
        self.cpu_seconds = cpu_seconds
        self.size = size
        self.idle: list[asyncio.subprocess.Process] = []
        self.filling: set[asyncio.Task[None]] = set()

    async def _spawn(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=_limits(self.address_space, self.cpu_seconds),
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


_POOLS: dict[tuple[int, tuple[str, ...], int | None, int], WarmPool] = {}


def _pool(worker: str, args: Sequence[str], address_space: int | None, cpu: int) -> WarmPool:
    # the worker runs by path (not -m): the file next to this one, whatever is installed
    argv = (sys.executable, "-I", str(HERE / worker), *args)
    key = (id(asyncio.get_running_loop()), argv, address_space, cpu)
    pool = _POOLS.get(key)
    if pool is None:
        pool = _POOLS[key] = WarmPool(argv, address_space, cpu)
    return pool


async def run_worker(
    language: str,
    worker: str,
    args: Sequence[str],
    address_space: int | None,
    step: str,
    request: bytes,
    settings: ScriptSettings,
) -> Any:
    """Wait for a slot, hand `request` to a warm child, and turn its answer into the
    script's result or a `ScriptError`."""
    timeout = settings.timeout_ms / 1000
    async with gate(language, settings).slot(step, settings.queue_wait_ms / 1000):
        cpu = max(1, int(timeout) + 1)
        process = await _pool(worker, args, address_space, cpu).take()
        try:
            await _started(step, process)
            async with asyncio.timeout(timeout):
                out = await _exchange(process, request)
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
    return _result(step, out, process.returncode)


async def _started(step: str, process: asyncio.subprocess.Process) -> None:
    """Wait for the child's ready mark, so its start-up is not counted in the script's time
    (a warm child has long written it)."""
    assert process.stdout is not None
    try:
        async with asyncio.timeout(STARTUP_SECONDS):
            mark = await process.stdout.readexactly(1)
    except (TimeoutError, asyncio.IncompleteReadError):
        mark = b""
    if mark != READY:
        message = f"script step '{step}' failed: its interpreter did not start"
        raise ScriptError("failed", step, message)


async def _exchange(process: asyncio.subprocess.Process, request: bytes) -> bytes:
    """Write the request, read at most MAX_OUTPUT + 1 bytes back (the server never buffers
    more than that of one child), and wait for the child to end."""
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(request)
        await process.stdin.drain()
        process.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the child died: its exit status says why
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_OUTPUT:
        chunk = await process.stdout.read(MAX_OUTPUT + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_OUTPUT:
        process.kill()
    await process.wait()
    return b"".join(chunks)


def _result(step: str, out: bytes, returncode: int | None) -> Any:
    if len(out) > MAX_OUTPUT:
        message = f"script step '{step}' failed: its result is larger than {MAX_OUTPUT} bytes"
        raise ScriptError("failed", step, message)
    if returncode is not None and returncode < 0:  # killed by a limit, whatever it wrote
        raise ScriptError(
            "timeout" if returncode == _SIGXCPU else "memory",
            step,
            f"script step '{step}' was stopped by its resource limits",
        )
    if not out:
        raise ScriptError("failed", step, f"script step '{step}' failed without a result")
    try:
        answer = jsoncodec.loads(out)  # exact for integers past 64 bits
    except ValueError:
        raise ScriptError("failed", step, f"script step '{step}' answered garbage") from None
    if not isinstance(answer, dict):
        raise ScriptError("failed", step, f"script step '{step}' answered garbage")
    if "error" in answer:
        kind = str(answer.get("kind", "failed"))
        raise ScriptError(kind, step, f"script step '{step}' {answer['error']}")
    return answer.get("result") if answer.get("has_result") else None
