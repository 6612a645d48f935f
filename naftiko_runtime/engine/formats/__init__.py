"""One decoder per `outputRawFormat`: upstream payloads become JSON values for mapping."""

from __future__ import annotations


def load_schema(fmt: str, path: str) -> None:
    """Read the avro/protobuf schema a decoder needs (cached), as `serve` does at start-up
    and `validate` before it: a missing or broken one raises ValueError saying why."""
    if fmt == "avro":
        from naftiko_runtime.engine.formats.avro import _schema

        _schema(path)
    elif fmt == "protobuf":
        from naftiko_runtime.engine.formats.protobuf import message_class

        message_class(path)
