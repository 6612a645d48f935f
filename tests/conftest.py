"""Shared helpers: run the CLI in-process and write specs to temporary files."""

from __future__ import annotations

import io
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from naftiko_runtime.cli import run

REPO = Path(__file__).resolve().parent.parent
CAPABILITIES = REPO / "capabilities"
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*argv: str, environ: dict[str, str] | None = None) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err, environ or {})
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
