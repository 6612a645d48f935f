"""Logging: one redacting handler for every logger of the process."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, TextIO

from naftiko_runtime.binding import Redactor

if TYPE_CHECKING:
    pass

log = logging.getLogger("naftiko_runtime")


def configure_logging(redactor: Redactor | None = None, stream: TextIO = sys.stderr) -> None:
    """One handler on the root logger, so the runtime's, uvicorn's (errors and access lines),
    the MCP SDK's and asyncio's records all pass one redacting formatter: the whole
    formatted line, tracebacks included, is redacted."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        _RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", redactor)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    ours = logging.getLogger("naftiko_runtime")
    ours.handlers[:] = []
    ours.setLevel(os.environ.get("NAFTIKO_LOG_LEVEL", "INFO").upper())
    ours.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)  # shown with --access-log only


class _RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, redactor: Redactor | None) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return self.redactor(text) if self.redactor is not None else text
