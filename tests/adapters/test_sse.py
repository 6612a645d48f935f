"""The event-stream reader behind MCP stream results: every line ending the grammar allows,
events split across chunks anywhere, and a final event without its blank line kept."""

from __future__ import annotations

import pytest

from naftiko_runtime.adapters.mcp.sse import EventStreamDecoder


def decode(*chunks: bytes) -> list[bytes]:
    decoder = EventStreamDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events + list(decoder.close())


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_splits_events(end: bytes) -> None:
    stream = end.join([b'data: {"a": 1}', b"", b"data: two", b"", b""])
    assert decode(stream) == [b'{"a": 1}', b"two"]


def test_events_split_at_any_byte_including_between_cr_and_lf() -> None:
    stream = b"data: one\r\n\r\nevent: x\r\ndata: line1\r\ndata:line2\r\n\r\n"
    whole = decode(stream)
    assert whole == [b"one", b"line1\nline2"]
    for cut in range(1, len(stream)):
        assert decode(stream[:cut], stream[cut:]) == whole, cut


def test_a_final_event_without_its_blank_line_is_kept() -> None:
    assert decode(b"data: first\n\ndata: last") == [b"first", b"last"]
    assert decode(b"data: first\r\n\r\ndata: last\r\n") == [b"first", b"last"]


def test_comments_other_fields_and_empty_data_are_not_events() -> None:
    stream = b": keep-alive\n\nid: 7\nretry: 10\n\ndata:\n\ndata:  two spaces\n\n"
    assert decode(stream) == [b" two spaces"]  # only the first space is the separator
