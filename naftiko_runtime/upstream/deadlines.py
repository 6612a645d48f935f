"""The total bound of an exchange, which every client keeps the same way: `within`.

One sweep every 50 ms per event loop keeps the deadlines of all exchanges in flight, instead
of a timer per request (`asyncio.timeout` costs ~4.5 us a request here).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from naftiko_runtime.upstream.base import UpstreamReply, UpstreamRequest
from naftiko_runtime.upstream.errors import timed_out


class _Deadlines:
    """Total timeouts of every exchange in flight on one loop, kept by a single sweep. A
    task past its deadline is cancelled; `within` turns that cancel into a timeout."""

    SWEEP = 0.05

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.due: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self._sweeping = False

    def add(self, task: asyncio.Task[Any], seconds: float) -> None:
        self.due[task] = self.loop.time() + seconds
        if not self._sweeping:
            self._sweeping = True
            self.loop.call_later(self.SWEEP, self._sweep)

    def _sweep(self) -> None:
        now = self.loop.time()
        for task, due in list(self.due.items()):
            if due <= now and task not in self.expired:
                self.expired.add(task)
                task.cancel()
        if self.due:
            self.loop.call_later(self.SWEEP, self._sweep)
        else:
            self._sweeping = False


_deadlines: list[_Deadlines] = []  # the one of the running loop (a new loop gets its own)


async def within(
    exchange: Coroutine[Any, Any, UpstreamReply], seconds: float, request: UpstreamRequest
) -> UpstreamReply:
    """`exchange`, refused with a timeout once `seconds` have passed (to within 50 ms)."""
    loop = asyncio.get_running_loop()
    if not _deadlines or _deadlines[0].loop is not loop:
        _deadlines[:] = [_Deadlines(loop)]
    deadlines = _deadlines[0]
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    deadlines.add(task, seconds)
    try:
        return await exchange
    except asyncio.CancelledError as exc:
        if task in deadlines.expired and task.uncancel() <= cancelling:
            raise timed_out(request) from exc
        raise  # a cancel of its own (shutdown, a client gone): not a timeout
    finally:
        deadlines.due.pop(task, None)
        deadlines.expired.discard(task)
