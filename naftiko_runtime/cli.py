"""The `naftiko-runtime` command: validate, schema, openapi, serve.

`main()` is a thin wrapper over `run()`, which takes its streams and environment as
arguments so tests can call it directly. Exit codes: 0 ok, 1 invalid spec, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from naftiko_runtime import __version__
from naftiko_runtime.report import FORMATS, render
from naftiko_runtime.spec.load import UsageError, load_paths
from naftiko_runtime.spec.schema import load_schema

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="naftiko-runtime", description="Validate and serve Naftiko capability specs."
    )
    parser.add_argument("--version", action="version", version=f"naftiko-runtime {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check capability files; exit 1 if invalid")
    validate.add_argument("paths", nargs="+", help="files or directories")
    validate.add_argument("--format", choices=FORMATS, default="text")
    validate.add_argument(
        "--strict",
        action="store_true",
        help="also report dialect the reference engine would reject",
    )

    commands.add_parser("schema", help="print the JSON Schema this runtime validates against")
    return parser


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]) -> int:
    """Run one command; never raises for bad input."""
    try:
        args = build_parser().parse_args(list(argv))
        if args.command == "schema":
            stdout.write(json.dumps(load_schema(), indent=2, ensure_ascii=False) + "\n")
            return EXIT_OK
        if args.command == "validate":
            result = load_paths(args.paths, strict=args.strict, build_model=False)
            stdout.write(
                render(args.format, result.diagnostics, result.files, result.documents, __version__)
            )
            return EXIT_OK if result.ok else EXIT_INVALID
    except UsageError as exc:
        stderr.write(f"naftiko-runtime: error: {exc}\n")
        return EXIT_USAGE
    return EXIT_USAGE  # pragma: no cover - argparse requires a command


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr, os.environ)
    except KeyboardInterrupt:
        return 130
