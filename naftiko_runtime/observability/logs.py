"""Logging: one redacting handler for every logger of the process, as text or JSON lines.

Every record (the runtime's, uvicorn's, the MCP SDK's, asyncio's) goes to one handler on the
root logger whose formatter redacts the whole formatted line, tracebacks included, after it
is rendered, so JSON escaping cannot hide a secret (the redactor matches escaped forms too).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from naftiko_runtime.secrets.redactor import Redactor

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(
    redactor: Redactor | None = None, stream: TextIO = sys.stderr, fmt: str = "text"
) -> None:
    """`fmt` is `text` (one readable line per record) or `json` (one JSON object per line,
    with an access line's fields as keys)."""
    handler = logging.StreamHandler(stream)
    inner: logging.Formatter
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        inner = JsonFormatter(
            JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger", "asctime": "time"}
        )
    else:
        inner = logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(_Redacting(inner, redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    ours = logging.getLogger("naftiko_runtime")
    ours.handlers[:] = []
    ours.setLevel(os.environ.get("NAFTIKO_LOG_LEVEL", "INFO").upper())
    ours.propagate = True


class _Redacting(logging.Formatter):
    def __init__(self, inner: logging.Formatter, redactor: Redactor | None) -> None:
        super().__init__()
        self.inner = inner
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        return self.redactor(text) if self.redactor is not None else text
