"""`schema`: the JSON Schema this runtime validates against."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import TextIO

from naftiko_runtime.capability.schema import load_schema
from naftiko_runtime.cli.commands import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No flags."""


def schema(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    stdout.write(json.dumps(load_schema(), indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK
