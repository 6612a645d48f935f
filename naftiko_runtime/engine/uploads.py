"""A file a client uploaded (a multipart part with a filename): its bytes, name and type,
carried as one input value to a consumed `multipartForm` part, which sends them as they
came (a JSON body cannot hold bytes; an MCP client sends base64 text instead)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str
    content: bytes

    def __str__(self) -> str:  # never the bytes in a log line or an error
        return f"<upload {self.filename!r}, {len(self.content)} bytes>"

    __repr__ = __str__
