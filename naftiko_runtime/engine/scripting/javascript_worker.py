"""The child side of a JavaScript script step: V8 (mini-racer) in a process of its own, so
memory V8 does not count in its heap (array buffers, WebAssembly memory) is still bounded.

V8 starts first (it maps a large code range), then the kernel caps the process's data
segment at what it holds plus the script's allowance: past it, an allocation fails inside
V8 (a RangeError) or V8 aborts, and either way only this child is gone. Usage:
`javascript_worker.py MEMORY_MB`; it writes `+` once V8 is up, then reads one request on
stdin and writes one answer on stdout.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from py_mini_racer import MiniRacer

_OVERHEAD = 64 * 1024 * 1024  # young generation, the result's copy on the Python side
_MAX_OUTPUT = 16 * 1024 * 1024
_EPILOGUE = (
    "\n;(typeof result === 'undefined' && !('result' in globalThis)) ? '\\u0000none' : "
    "JSON.stringify(result === undefined ? null : result)"
)
# what V8 says when an allocation outside its heap is refused (the data-segment cap)
_OUT_OF_MEMORY = ("allocation failed", "could not allocate", "unable to grow", "out of memory")


def _answer(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8", "surrogatepass"))
    sys.stdout.flush()


def _error(message: str, kind: str = "failed") -> None:
    _answer(json.dumps({"error": message, "kind": kind}))


def _data_in_use() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0  # pragma: no cover - every Linux has it


def _cap_memory(memory_mb: int) -> None:
    """Cap the data segment (every private writable mapping, what V8 commits included)."""
    limit = _data_in_use() + memory_mb * 1024 * 1024 + _OVERHEAD
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _drop_privileges() -> None:
    """Under root, run as nobody (best effort; plain V8 has no file or network API)."""
    if os.getuid() == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        except OSError:
            pass


def _detail(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return next((line for line in lines if "Error" in line), lines[0] if lines else "")


def _program(request: dict[str, Any]) -> list[str]:
    """The sources to evaluate in order: the inputs, the dependencies, then the main file."""
    *dependencies, (_, main_source) = request["sources"]
    return [
        "var context = " + json.dumps(request["context"]) + ";",
        *(source for _, source in dependencies),
        main_source + _EPILOGUE,
    ]


def _run(racer: MiniRacer, program: list[str], memory_mb: int) -> None:
    from py_mini_racer import JSEvalException, JSOOMException

    text: Any = None
    limit = f"exceeded the memory limit ({memory_mb} MB)"
    try:
        for source in program:
            text = racer.eval(source)
    except (JSOOMException, MemoryError):
        return _error(limit, "memory")
    except JSEvalException as exc:
        detail = _detail(exc)
        if "RangeError" in detail and any(s in detail.lower() for s in _OUT_OF_MEMORY):
            return _error(limit, "memory")
        return _error(f"failed: {detail}")
    if text == "\u0000none":
        return _answer('{"has_result":false}')
    if not isinstance(text, str):  # JSON.stringify had nothing to say (a function, say)
        return _answer('{"has_result":true}')
    if len(text) > _MAX_OUTPUT:
        return _error(f"failed: its result is larger than {_MAX_OUTPUT} bytes")
    _answer('{"has_result":true,"result":' + text + "}")


def main() -> None:
    memory_mb = int(sys.argv[1])
    from py_mini_racer import MiniRacer

    racer = MiniRacer()
    racer.set_hard_memory_limit(memory_mb * 1024 * 1024)
    racer.eval("0")  # V8 is up: what it maps from here on is the script's
    _cap_memory(memory_mb)
    sys.stdout.buffer.write(b"+")  # ready: the parent starts the script's clock now
    sys.stdout.flush()
    request = json.loads(sys.stdin.buffer.read())
    _drop_privileges()
    _run(racer, _program(request), memory_mb)


if __name__ == "__main__":
    try:
        main()
    except MemoryError:
        _error("exceeded the memory limit", "memory")
    except Exception as exc:  # a bad request, or no request (the server went away)
        _error(f"failed: the sandbox could not run it ({type(exc).__name__})")
    finally:
        os._exit(0)  # always, and at once: V8's teardown may wait on its own thread
