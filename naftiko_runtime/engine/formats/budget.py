"""What decoding one upstream payload may cost: values made, JSON text produced and CPU time,
counted by the decoders as they go. A payload of a few bytes can claim billions of items (an
Avro block count) and a few megabytes can make gigabytes of parser tokens, so each decoder
charges what it creates before it creates it, and the first bound crossed stops it."""

from __future__ import annotations

import time
from dataclasses import dataclass

VALUES_PER_BODY_BYTE = 1 / 8  # 2 Mi values for the default 16 MiB body cap
TEXT_PER_BODY_BYTE = 4  # 64 MiB of JSON for the default body cap
CPU_SECONDS = 5.0
HEAVY = 4
"""What a parser node costs in values: a decoded value or an lxml node takes ~100 bytes, a
Markdown token or a YAML node ~350-570, four times as much."""


class DecodeLimitError(ValueError):
    """The payload decodes past one of the bounds; the message names which."""


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    values: int  # values and parser nodes (elements, rows, cells, tokens) made
    text: int  # bytes of the decoded document written as JSON (counted approximately)
    seconds: float  # CPU seconds of the decoding thread

    @classmethod
    def for_body_cap(cls, max_body: int) -> DecodeLimits:
        """The bounds for a body cap (`--max-upstream-body`): one value per 8 bytes of the
        largest body (~100 bytes of memory each: a decode holds ~250 MB at most), JSON text
        four times the largest body (CSV rows repeat their header's names), 5 s of CPU."""
        return cls(
            values=max(int(max_body * VALUES_PER_BODY_BYTE), 1024),
            text=max(max_body * TEXT_PER_BODY_BYTE, 64 * 1024),
            seconds=CPU_SECONDS,
        )


DEFAULT_LIMITS = DecodeLimits.for_body_cap(16 * 1024 * 1024)


class Budget:
    """What is left of the limits for one decode, in the thread that decodes (CPU time is
    the calling thread's, so a budget never crosses threads)."""

    __slots__ = ("limits", "values", "text", "_deadline", "_ticks")

    def __init__(self, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.values = limits.values
        self.text = limits.text
        self._deadline = time.thread_time() + limits.seconds
        self._ticks = 0

    def take(self, values: int = 1, text: int = 0) -> None:
        """Charge what is about to be made."""
        self.values -= values
        self.text -= text
        if self.values < 0:
            raise DecodeLimitError(f"more than {self.limits.values} values")
        if self.text < 0:
            raise DecodeLimitError(f"more than {self.limits.text} bytes as JSON")
        self.tick()

    def ensure(self, values: int) -> None:
        """Refuse a claim (`values` items to come) that cannot fit, before allocating."""
        if values > self.values:
            raise DecodeLimitError(f"more than {self.limits.values} values")

    def tick(self) -> None:
        """A step of work: the CPU clock is read every 256 of them (~0.3 us each)."""
        self._ticks -= 1
        if self._ticks <= 0:
            self._ticks = 256
            if time.thread_time() > self._deadline:
                raise DecodeLimitError(f"more than {self.limits.seconds:g} s of CPU")


def tree_nodes(body: bytes) -> int:
    """At least the nodes lxml makes of `body` (an element ~120 bytes, an attribute ~200),
    counted before it parses: one per `<` that is not of an end tag, one per `=`."""
    return body.count(b"<") - body.count(b"</") + body.count(b"=")
