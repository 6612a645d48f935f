"""What every compiled operation returns, and the protocol adapters call it through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from naftiko_runtime import jsoncodec
from naftiko_runtime.model import Input


@dataclass(slots=True)
class CallResult:
    """What an operation produced: raw JSON bytes, shaped data, or a stream. Bytes passed
    through come with their parsed value in `shaped` when it was read (never twice)."""

    status: int
    content_type: str
    raw: bytes | None = None
    shaped: Any = None
    stream: AsyncIterator[bytes] | None = None
    headers: tuple[tuple[bytes, bytes], ...] = ()  # extra response headers (forward)
    binary: bool = False  # `outputRawFormat: binary`: bytes with the upstream's content type
    # the upstream reply's own headers and base URL, for the REST adapter's header policy
    upstream_headers: list[tuple[str, str]] | None = None
    upstream_base: str = ""
    header_policy: Any = None  # engine.headers.HeaderPolicy of the API that answered

    @property
    def data(self) -> Any:
        """The result as a JSON value (parses raw bytes when no value came with them)."""
        if self.shaped is not None or not self.raw:
            return self.shaped
        return jsoncodec.loads(self.raw)

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return jsoncodec.dumps(self.shaped)


class Operation(Protocol):
    """What adapters call: an exposed operation or tool, however it produces its result."""

    inputs: tuple[Input, ...]

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    async def __call__(self, inputs: Mapping[str, Any]) -> CallResult: ...
