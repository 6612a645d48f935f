"""Work done beside the caller in a forked copy of the process, its answer sent back pickled.

Why: checking a large spec is pure Python and holds the GIL, so threads cannot share it;
a fork starts with every parsed document already in memory (nothing is sent to it), checks
on the other core while the caller builds the model or checks its own share, and takes its
garbage with it when it exits. Only a process with a single thread is forked (a fork copies
no other thread, so a lock one of them held would stay locked in the copy), and only where
`fork` is the platform's own (Linux). Whatever goes wrong beside (no fork, the copy dies, its
answer does not arrive) is reported as `None`, and the caller does the work itself.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    return sys.platform.startswith("linux") and threading.active_count() == 1


class Aside(Generic[T]):
    """`work()` running in a forked child; `result()` waits for its answer (or None)."""

    def __init__(self, pid: int, reader: int) -> None:
        self._pid, self._reader = pid, reader

    def result(self) -> T | None:
        """The child's answer; None if it failed, died or answered nothing."""
        with os.fdopen(self._reader, "rb") as handle:
            payload = handle.read()
        try:
            _, status = os.waitpid(self._pid, 0)
        except ChildProcessError:  # SIGCHLD ignored (inherited): the kernel reaped it; the
            status = 0  # child writes only once it succeeded, and a cut answer will not load
        if status != 0 or not payload:
            return None
        try:
            answer: T = pickle.loads(payload)
        except Exception:  # a truncated or unreadable answer: the caller does the work
            return None
        return answer


_ANSWERING: set[int] = set()
"""In a child: the pipe end its own answer goes to. A child of it closes that end at once, or
the caller waiting for this child's answer would wait for the grandchild too if this child
died (the pipe stays open while any process holds its write end)."""


def start(work: Callable[[], T]) -> Aside[T] | None:
    """Fork and run `work` in the child; None when this process may not fork."""
    if not can_fork():
        return None
    try:  # what is buffered would otherwise be written twice, by each process
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken stream: do the work here instead
        return None
    reader, writer = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(reader)
        os.close(writer)
        return None
    if pid == 0:  # the child: never returns, never runs the parent's cleanup or atexit
        status = 1
        try:
            os.close(reader)
            for inherited in _ANSWERING:
                os.close(inherited)
            _ANSWERING.clear()
            _ANSWERING.add(writer)
            payload = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writer, "wb") as handle:
                handle.write(payload)
            status = 0
        except BaseException:  # noqa: BLE001 - any failure: the parent does the work itself
            status = 1
        finally:
            os._exit(status)
    os.close(writer)
    return Aside(pid, reader)
