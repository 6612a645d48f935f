"""Avro → JSON: one binary datum (no container header) read with the `.avsc` schema the
spec's `outputSchema` names, as the reference means to; unions become the plain value."""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any


class AvroError(ValueError):
    pass


@cache
def _schema(path: str) -> Any:
    import fastavro

    try:
        return fastavro.parse_schema(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise AvroError(f"Avro schema {path!r} cannot be read: {exc}") from None


def decode_avro(body: bytes, schema_path: str | None) -> Any:
    import fastavro

    if not schema_path:
        raise AvroError("outputRawFormat avro needs outputSchema: the .avsc file")
    schema = _schema(schema_path)
    stream = io.BytesIO(body)
    try:
        if body[:4] == b"Obj\x01":  # an object container file: every record
            return list(fastavro.reader(stream))
        return fastavro.schemaless_reader(stream, schema, None)
    except (EOFError, ValueError, IndexError, TypeError, KeyError) as exc:
        raise AvroError(f"not valid Avro for {schema_path}: {type(exc).__name__}") from None
