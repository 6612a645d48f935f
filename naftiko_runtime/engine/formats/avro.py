"""Avro → JSON: one binary datum (no container header) read with the `.avsc` schema the
spec's `outputSchema` names, as the reference means to, or an object container file (its
records, read with the schema it embeds); unions become the plain value, bytes and fixed
base64, logical types as fastavro reads them (decimals as strings).

fastavro parses the schemas; the data is read here, because its reader trusts the payload's
counts: a 109-byte container claiming 2^62 null records, or an array block claiming billions
of items, runs until memory is gone, inside one C call nothing can stop. Every count and
length is held against what is left of the input and of the decode budget before anything
is allocated, and compressed blocks inflate only as far as the budget could hold."""

from __future__ import annotations

import base64
import bz2
import json
import lzma
import struct
import zlib
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from naftiko_runtime.engine.formats.budget import Budget, DecodeLimitError

MAGIC = b"Obj\x01"
SYNC_SIZE = 16
_FLOAT = struct.Struct("<f")
_DOUBLE = struct.Struct("<d")
_LEAST = {"null": 0, "float": 4, "double": 8}  # bytes the smallest encoding takes; others 1
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class AvroError(ValueError):
    pass


@cache
def _schema(path: str) -> Any:
    import fastavro

    try:
        return fastavro.parse_schema(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise AvroError(f"Avro schema {path!r} cannot be read: {exc}") from None


def decode_avro(body: bytes, schema_path: str | None, budget: Budget | None = None) -> Any:
    if not schema_path:
        raise AvroError("outputRawFormat avro needs outputSchema: the .avsc file")
    schema = _schema(schema_path)
    budget = budget if budget is not None else Budget()
    try:
        if body[:4] == MAGIC:  # an object container file: every record
            return _container(body, budget)
        return _Reader(body, schema, budget).read(schema)
    except RecursionError:
        raise AvroError("the datum is nested too deeply") from None


def _container(body: bytes, budget: Budget) -> list[Any]:
    header = _Reader(body, None, budget)
    header.pos = len(MAGIC)
    meta = header.items("bytes", keyed=True, read=lambda _: header.raw(header.long()))
    sync = header.raw(SYNC_SIZE)
    try:
        import fastavro

        schema = fastavro.parse_schema(json.loads(meta["avro.schema"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise AvroError(f"the container's schema cannot be read ({type(exc).__name__})") from None
    codec = meta.get("avro.codec", b"null").decode("utf-8", errors="replace")
    records: list[Any] = []
    while header.pos < len(body):
        count = header.long()
        data = header.raw(header.long())
        if header.raw(SYNC_SIZE) != sync:
            raise AvroError("a container block does not end with the file's sync marker")
        block = _Reader(_inflate(codec, data, budget.text), schema, budget)
        block.claim(count, block.least(schema))
        records.extend(block.read(schema) for _ in range(count))
    return records


def _inflate(codec: str, data: bytes, room: int) -> bytes:
    """A block's bytes, decompressed to at most `room` (what the output could still hold)."""
    if codec == "null":
        return data
    if codec == "deflate":
        inflater = zlib.decompressobj(-15)
        out = inflater.decompress(data, room + 1)
        spilled = bool(inflater.unconsumed_tail)
    elif codec in ("bzip2", "xz"):
        stream = bz2.BZ2Decompressor() if codec == "bzip2" else lzma.LZMADecompressor()
        out = stream.decompress(data, max_length=room + 1)
        spilled = not stream.eof and not stream.needs_input
    else:
        raise AvroError(f"the container's codec {codec!r} is not supported")
    if spilled or len(out) > room:
        raise DecodeLimitError(f"a container block inflates past {room} bytes")
    return out


class _Reader:
    """One Avro binary encoding read against a parsed schema (its named types by full name,
    as fastavro's `parse_schema` leaves them)."""

    def __init__(self, data: bytes, schema: Any, budget: Budget) -> None:
        self.data, self.pos, self.budget = data, 0, budget
        named = schema.get("__named_schemas", {}) if isinstance(schema, dict) else {}
        self.named: dict[str, Any] = named
        self._least: dict[str, int] = {}

    def long(self) -> int:
        """A zig-zag varint (int and long alike), at most 10 bytes."""
        data, pos, shift, value = self.data, self.pos, 0, 0
        while True:
            if pos >= len(data):
                raise AvroError("the datum ends early")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 63:
                raise AvroError("a number longer than 10 bytes")
        self.pos = pos
        return (value >> 1) ^ -(value & 1)

    def raw(self, size: int) -> bytes:
        left = len(self.data) - self.pos
        if size < 0 or size > left:
            raise AvroError(f"a length of {size} bytes where {left} are left")
        start, self.pos = self.pos, self.pos + size
        return self.data[start : self.pos]

    def claim(self, count: int, least: int) -> None:
        """`count` items of at least `least` bytes each are coming: refused when they
        cannot fit in what is left of the input or of the budget."""
        left = len(self.data) - self.pos
        if count < 0:
            raise AvroError(f"a negative count ({count})")
        if count * least > left:
            raise AvroError(f"{count} items of at least {least} bytes where {left} are left")
        self.budget.ensure(count)

    def least(self, schema: Any, seen: frozenset[str] = frozenset()) -> int:
        """The fewest bytes a value of `schema` encodes to (0 for null and empty records:
        only the budget bounds how many of those a block may claim)."""
        if isinstance(schema, list):
            return 1  # the branch index
        if isinstance(schema, dict):
            if schema["type"] == "record":
                return sum(self.least(f["type"], seen) for f in schema["fields"])
            if schema["type"] == "fixed":
                return int(schema["size"])
            return self.least(schema["type"], seen)
        if schema not in self.named:
            return _LEAST.get(schema, 1)
        if schema in seen:
            return 0
        if schema not in self._least:
            self._least[schema] = self.least(self.named[schema], seen | {schema})
        return self._least[schema]

    def items(
        self, values: Any, keyed: bool = False, read: Callable[[Any], Any] | None = None
    ) -> Any:
        """An array's items or a map's entries, block by block, each block's count claimed
        before it is read."""
        read = read or self.read
        out: Any = {} if keyed else []
        least = self.least(values) + (1 if keyed else 0)
        while True:
            count = self.long()
            if count == 0:
                return out
            if count < 0:  # a negative count is followed by the block's size in bytes
                count = -count
                size, left = self.long(), len(self.data) - self.pos
                if not 0 <= size <= left:
                    raise AvroError(f"a block of {size} bytes where {left} are left")
            self.claim(count, least)
            for _ in range(count):
                if keyed:
                    key = self.raw(self.long()).decode("utf-8")
                    self.budget.take(0, len(key) + 4)
                    out[key] = read(values)
                else:
                    out.append(read(values))

    def read(self, schema: Any) -> Any:
        """A value: bytes and fixed as base64 text (JSON has no bytes)."""
        if isinstance(schema, list):
            index = self.long()
            if not 0 <= index < len(schema):
                raise AvroError(f"union branch {index} of {len(schema)}")
            return self.read(schema[index])
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            if schema not in self.named:
                raise AvroError(f"unknown type {schema!r}")
            return self.read(self.named[schema])
        value = self._primitive(schema) if isinstance(schema, str) else self._complex(schema)
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value

    def _complex(self, schema: dict[str, Any]) -> Any:
        kind = schema["type"]
        value: Any
        if kind == "record":
            fields = schema["fields"]
            self.budget.take(1, 2 + sum(len(f["name"]) + 4 for f in fields))
            value = {f["name"]: self.read(f["type"]) for f in fields}
        elif kind == "enum":
            symbols = schema["symbols"]
            index = self.long()
            if not 0 <= index < len(symbols):
                raise AvroError(f"enum symbol {index} of {len(symbols)}")
            self.budget.take(1, len(symbols[index]) + 3)
            value = symbols[index]
        elif kind in ("array", "map"):
            self.budget.take(1, 2)
            value = self.items(schema["items" if kind == "array" else "values"], kind == "map")
        elif kind == "fixed":
            size = int(schema["size"])
            self.budget.take(1, size * 4 // 3 + 4)
            value = self.raw(size)
        elif isinstance(kind, str) and kind in _PRIMITIVES:
            value = self._primitive(kind)  # bytes stay bytes for a decimal to read them
        else:
            return self.read(kind)
        logical = schema.get("logicalType")
        return _logical(f"{kind}-{logical}", value, schema) if logical else value

    def _primitive(self, kind: str) -> Any:
        if kind == "string":
            text = self.raw(self.long())
            self.budget.take(1, len(text) + 3)
            return text.decode("utf-8")
        if kind == "bytes":
            data = self.raw(self.long())
            self.budget.take(1, len(data) * 4 // 3 + 4)
            return data
        self.budget.take(1, 6)
        if kind in ("int", "long"):
            return self.long()
        if kind == "null":
            return None
        if kind == "boolean":
            return self.raw(1) != b"\x00"
        return (_FLOAT if kind == "float" else _DOUBLE).unpack(self.raw(_LEAST[kind]))[0]


def _logical(name: str, value: Any, schema: dict[str, Any]) -> Any:
    """fastavro's reading of a logical type (dates, timestamps, UUIDs); a decimal as its
    exact text, since JSON numbers from floats would round it."""
    from fastavro.read import LOGICAL_READERS

    reader = LOGICAL_READERS.get(name)
    if reader is None:
        return value
    try:
        value = reader(value, schema, None)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise AvroError(f"not a valid {name} ({type(exc).__name__})") from None
    return str(value) if isinstance(value, Decimal) else value
