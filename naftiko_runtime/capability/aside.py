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

import contextlib
import os
import pickle
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO, Generic, TypeVar

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
        if self._status() != 0 or not payload:
            return None
        try:
            answer: T = pickle.loads(payload)
        except Exception:  # a truncated or unreadable answer: the caller does the work
            return None
        return answer

    def collect(self, each: Callable[[Any], object]) -> T | None:
        """A streamed answer (`start_streaming`): `each` gets every item the child sends, as
        it arrives, while the child still works; the child's final answer is returned, None
        if it failed or died (what `each` got is then to be dropped)."""
        answer: T | None = None
        with os.fdopen(self._reader, "rb") as handle:
            unpickler = pickle.Unpickler(handle)
            try:
                while True:
                    last, value = unpickler.load()
                    if last:
                        answer = value
                        break
                    each(value)
            except Exception:  # cut, unreadable, or `each` failed: the caller does the work
                answer = None
        return answer if self._status() == 0 else None

    def _status(self) -> int:
        try:
            _, status = os.waitpid(self._pid, 0)
        except ChildProcessError:  # SIGCHLD ignored (inherited): the kernel reaped it; the
            status = 0  # answer is complete only if the child got to its end
        return status


_ANSWERING: set[int] = set()
"""In a child: the pipe end its own answer goes to. A child of it closes that end at once, or
the caller waiting for this child's answer would wait for the grandchild too if this child
died (the pipe stays open while any process holds its write end)."""


def start(work: Callable[[], T]) -> Aside[T] | None:
    """Fork and run `work` in the child; None when this process may not fork."""

    def answer(handle: BinaryIO) -> None:  # written only once it is whole
        payload = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        handle.write(payload)

    return _fork(answer)


class StreamBroken(BaseException):
    """A streamed item could not be sent: the child ends, whatever it would have caught."""


def start_streaming(work: Callable[[Callable[[Any], None]], T]) -> Aside[T] | None:
    """Fork and run `work(send)` in the child: each item it sends reaches the caller's
    `collect` at once, then its answer. One pickler carries them all, so an object sent
    twice arrives as one. None when this process may not fork."""

    def answer(handle: BinaryIO) -> None:
        pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)

        def send(item: Any) -> None:
            try:
                pickler.dump((False, item))
                handle.flush()
            except Exception as exc:  # the stream is out of step now: nothing more may go
                raise StreamBroken from exc

        pickler.dump((True, work(send)))

    return _fork(answer, streams=True)


STREAM_PIPE_BYTES = 1 << 20
"""A streaming child's pipe (Linux lets any process ask for up to 1 MiB): the child can run
ahead of a caller still busy with its own preparation instead of waiting on 64 KB."""


def _fork(answer: Callable[[BinaryIO], None], streams: bool = False) -> Aside[Any] | None:
    if not can_fork():
        return None
    try:  # what is buffered would otherwise be written twice, by each process
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken stream: do the work here instead
        return None
    reader, writer = os.pipe()
    if streams:  # forking is Linux's here, and so is fcntl's F_SETPIPE_SZ
        import fcntl

        with contextlib.suppress(OSError):  # a smaller pipe only makes the child wait more
            fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, STREAM_PIPE_BYTES)
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
            with os.fdopen(writer, "wb") as handle:
                answer(handle)
            status = 0
        except BaseException:  # noqa: BLE001 - any failure: the parent does the work itself
            status = 1
        finally:
            os._exit(status)
    os.close(writer)
    return Aside(pid, reader)
