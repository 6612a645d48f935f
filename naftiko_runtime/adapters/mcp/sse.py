"""Server-sent events read incrementally, as the WHATWG event-stream grammar says: lines end in
CRLF, LF or CR; a blank line ends an event; one space after `data:` is dropped. Unlike a
browser, a final event without its blank line is kept, so a tool result never loses the last
message of an upstream that closes early."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass
class EventStreamDecoder:
    """Feed it chunks as they arrive; it yields each event's joined `data` as bytes."""

    _pending: bytes = b""
    _data: list[bytes] = field(default_factory=list)

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        text = self._pending + chunk
        start = 0
        for end in _LINE_END.finditer(text):
            if end.group() == b"\r" and end.end() == len(text):
                break  # a CR at the end of a chunk may be the first half of CRLF
            yield from self._line(text[start : end.start()])
            start = end.end()
        self._pending = text[start:]

    def close(self) -> Iterator[bytes]:
        """The stream ended: the last line and the last event count even without an end."""
        pending, self._pending = self._pending, b""
        for line in _LINE_END.split(pending):
            yield from self._line(line)
        yield from self._line(b"")

    def _line(self, line: bytes) -> Iterator[bytes]:
        if not line:
            lines, self._data = self._data, []
            if lines and (lines[0] or len(lines) > 1):  # one empty `data:` is no event
                yield b"\n".join(lines)
            return
        if line.startswith(b":"):
            return  # a comment
        name, _, value = line.partition(b":")
        if name == b"data":
            self._data.append(value[1:] if value.startswith(b" ") else value)
