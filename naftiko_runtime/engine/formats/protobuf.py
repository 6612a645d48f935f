"""Protocol Buffers → JSON with the `.proto` file the spec's `outputSchema` names (compiled
once with protoc from grpcio-tools; a compiled descriptor set `.pb`/`.desc` works too). The
first message the file declares is the payload's type, as in the reference. Numbers stay
numbers (int64 too), enums become their names, bytes base64, absent fields absent.

The C parser's work and memory follow the body (at most ~12x it, 0.2 s for 16 MB); the
conversion to JSON values is charged to the decode budget, field by field."""

from __future__ import annotations

import base64
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from naftiko_runtime.engine.formats.budget import Budget


class ProtobufError(ValueError):
    pass


@cache
def message_class(path: str) -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    source = Path(path)
    if not source.is_file():
        raise ProtobufError(f"Proto schema file not found: {path}")
    if source.suffix in (".pb", ".desc", ".protoset"):
        raw = source.read_bytes()
        main_name = None
    else:
        from grpc_tools import protoc

        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "schema.desc"
            code = protoc.main(
                [
                    "protoc",
                    f"-I{source.parent}",
                    f"--descriptor_set_out={out}",
                    "--include_imports",
                    str(source),
                ]
            )
            if code != 0 or not out.exists():
                raise ProtobufError(f"protoc cannot compile {path}")
            raw = out.read_bytes()
        main_name = source.name
    files = descriptor_pb2.FileDescriptorSet.FromString(raw)
    pool = descriptor_pool.DescriptorPool()
    for proto in files.file:
        pool.Add(proto)
    main = next((f for f in files.file if f.name == main_name), files.file[-1])
    if not main.message_type:
        raise ProtobufError(f"{path} declares no message")
    first = main.message_type[0].name
    full = f"{main.package}.{first}" if main.package else first
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full))


def _value(field: Any, value: Any, budget: Budget) -> Any:
    if field.type == field.TYPE_MESSAGE:
        return to_plain(value, budget)
    if field.type == field.TYPE_ENUM:
        enum = field.enum_type.values_by_number.get(value)
        budget.take(1, 12)
        return enum.name if enum is not None else value
    if field.type == field.TYPE_BYTES:
        budget.take(1, len(value) * 4 // 3 + 4)
        return base64.b64encode(value).decode()
    budget.take(1, len(value) + 3 if isinstance(value, str) else 8)
    return value


def to_plain(message: Any, budget: Budget | None = None) -> dict[str, Any]:
    budget = budget if budget is not None else Budget()
    out: dict[str, Any] = {}
    budget.take(1, 2)
    for field, value in message.ListFields():
        budget.take(0, len(field.name) + 4)
        if field.is_repeated and not (
            field.type == field.TYPE_MESSAGE and field.message_type.GetOptions().map_entry
        ):
            budget.ensure(len(value))
            out[field.name] = [_value(field, v, budget) for v in value]
        elif field.type == field.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            budget.ensure(len(value))
            out[field.name] = {str(k): _value(value_field, v, budget) for k, v in value.items()}
        else:
            out[field.name] = _value(field, value, budget)
    return out


def decode_protobuf(
    body: bytes, schema_path: str | None, budget: Budget | None = None
) -> dict[str, Any]:
    from google.protobuf.message import DecodeError

    if not schema_path:
        raise ProtobufError("outputRawFormat protobuf needs outputSchema: the .proto file")
    cls = message_class(schema_path)
    message = cls()
    try:
        message.ParseFromString(body)
    except (DecodeError, RuntimeError) as exc:
        raise ProtobufError(f"not valid Protocol Buffers: {exc}") from None
    return to_plain(message, budget)
