"""The h1 client with a first-byte bound: an upstream that accepted the request but sends
no byte of its answer within an operation's `firstByte` seconds gets a 504, long before the
whole exchange's `total`. Used only when policies are served (`--policies`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from naftiko_runtime.errors import UpstreamError
from naftiko_runtime.upstream.base import Timeouts, UpstreamReply, UpstreamRequest
from naftiko_runtime.upstream.h1 import H1Upstream, _Connection


class FirstByteH1Upstream(H1Upstream):
    def __init__(self, timeouts: Timeouts, first_byte: Callable[[str], float | None]) -> None:
        super().__init__(timeouts)
        self._first_byte = first_byte

    async def _exchange(
        self, connection: _Connection, request: UpstreamRequest, payload: bytes
    ) -> UpstreamReply:
        limit = self._first_byte(request.operation)
        if limit is None:
            return await super()._exchange(connection, request, payload)
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        fired = False

        def due() -> None:
            nonlocal fired
            if not connection.received:
                fired = True
                task.cancel()

        timer = asyncio.get_running_loop().call_later(limit, due)
        try:
            return await super()._exchange(connection, request, payload)
        except asyncio.CancelledError:
            if fired and task.uncancel() <= cancelling:
                raise UpstreamError(
                    "timeout",
                    f"upstream sent no byte of its answer to {request.operation} within "
                    f"{limit:g} s",
                    operation=request.operation,
                ) from None
            raise
        finally:
            timer.cancel()
