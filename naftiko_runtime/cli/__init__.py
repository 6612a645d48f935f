"""The `naftiko-runtime` command: validate, check, rules, schema, create, import, export,
migrate, serve, demo, and the probes of a running instance (health, status, metrics, traces);
one module per command (`commands.COMMANDS`).

`main()` is a thin wrapper over `run()`, which takes its streams and environment as
arguments so tests can call it directly. Exit codes: 0 ok, 1 invalid spec, 2 usage error
(a UsageError raised anywhere below, said here).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TextIO

from naftiko_runtime.cli.commands import COMMANDS, EXIT_USAGE
from naftiko_runtime.cli.parser import build_parser, named
from naftiko_runtime.errors import UsageError


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr, os.environ)
    except KeyboardInterrupt:
        return 130


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]) -> int:
    """Run one command; never raises for bad input."""
    with _no_collection():
        try:
            args = build_parser(named(argv)).parse_args(list(argv))
            return COMMANDS[args.command].run()(args, stdout, stderr, environ)
        except UsageError as exc:
            stderr.write(f"naftiko-runtime: error: {exc}\n")
            return EXIT_USAGE


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """No cyclic collection while specs are loaded and compiled: they build hundreds of
    thousands of objects that all stay alive, and every collection would scan them again
    (at 5,000 operations that was a third of the time). `serve` turns collection back on
    once it is ready, with the start-up objects frozen."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
