"""`migrate`: capabilities rewritten in the other dialect (naftiko alpha2 <-> ikanos beta5),
comments and key order kept; every lossy point reported at the source's lines."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from naftiko_runtime.capability.dialects.migrate import migrate_file
from naftiko_runtime.capability.source import SourceDocument, SourceMap, display_path
from naftiko_runtime.cli.commands import EXIT_INVALID, EXIT_OK
from naftiko_runtime.cli.written import DIALECTS, writable
from naftiko_runtime.errors import UsageError
from naftiko_runtime.report import render_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="capability files")
    parser.add_argument("--to", choices=DIALECTS, required=True, help="the dialect to write")
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write each file there under its own name (default: stdout, one file only)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing files")


def migrate(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    """Each file rewritten in `--to`; its lossy points as diagnostics (stderr, at the
    source's lines). Exit 1 when an output does not validate in its dialect."""
    files = [Path(f) for f in args.files]
    for path in files:
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
    if args.output is None and len(files) > 1:
        raise UsageError("several files need -o DIR")
    folder = Path(args.output) if args.output else None
    if folder is not None:
        _prepare_folder(folder, files)
    results = [migrate_file(path, display_path(path), args.to) for path in files]
    diagnostics = [d for r in results for d in r.diagnostics]
    shown = [doc for doc in (_lines_of(p) for p in files) if doc is not None]
    if diagnostics:
        stderr.write(render_text(diagnostics, [r.source for r in results], shown))
    failed = False
    for path, result in zip(files, results, strict=True):
        failed = failed or not result.ok
        if result.text is None:
            continue
        if folder is None:
            stdout.write(result.text)
            continue
        out = writable(folder / path.name, args.force)
        out.write_text(result.text, encoding="utf-8")
        stderr.write(f"naftiko-runtime: wrote {out}\n")
    return EXIT_INVALID if failed else EXIT_OK


def _prepare_folder(folder: Path, files: list[Path]) -> None:
    """`-o DIR`: made when missing; two files of one name would overwrite each other."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is not a directory")
    folder.mkdir(parents=True, exist_ok=True)
    names = [p.name for p in files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"two files would be written as {', '.join(twice)} in {folder}")


def _lines_of(path: Path) -> SourceDocument | None:
    """A file's lines, for the diagnostics' excerpts."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return SourceDocument(path, display_path(path), None, SourceMap(), lines)
