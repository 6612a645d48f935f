"""`rules`: every rule `validate` knows, as a text list, the docs' Markdown table, or JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import TextIO

from naftiko_runtime.capability.rules import RULES, markdown_table
from naftiko_runtime.cli.commands import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="a text list, the Markdown table of the docs, or JSON",
    )


def rules(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    stdout.write(_listed(args.format))
    return EXIT_OK


def _listed(fmt: str) -> str:
    if fmt == "markdown":
        return markdown_table()
    if fmt == "json":
        return (
            json.dumps(
                [
                    {
                        "id": r.id,
                        "severity": r.severity.value,
                        "default": r.default_on,
                        "official": r.official,
                        "summary": r.summary,
                        "help": r.help,
                    }
                    for r in RULES.values()
                ],
                indent=2,
            )
            + "\n"
        )
    width = max(len(r.id) for r in RULES.values())
    return "".join(
        f"{r.id:<{width}}  {r.severity.value:<7}  {'on ' if r.default_on else 'off'}  {r.summary}\n"
        for r in RULES.values()
    )
