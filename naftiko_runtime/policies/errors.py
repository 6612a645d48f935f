"""The refusals a policy makes, each with the headers its REST answer carries."""

from __future__ import annotations

import math

from naftiko_runtime.errors import UpstreamError


class CircuitOpen(UpstreamError):
    """An upstream's circuit is open: refused at once, never sent (REST 503
    `upstream_circuit_open` with Retry-After; an MCP tool error)."""

    kind = "circuit_open"

    def __init__(self, namespace: str, operation: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            f"upstream {namespace} is failing and its circuit is open: {operation} was not "
            f"sent; retry in {self.retry_after} s",
            operation=operation,
        )

    @property
    def reply_headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"retry-after", str(self.retry_after).encode())]
