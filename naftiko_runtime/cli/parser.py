"""The argparse parser of `naftiko-runtime`, assembled from the command table: every command
is listed with its help, and a command's module adds its flags only when that command is
parsed (or when the whole parser is asked for: the CLI reference, tests)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence

from naftiko_runtime.cli.commands import COMMANDS
from naftiko_runtime.errors import UsageError
from naftiko_runtime.version import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the flags of `commands` (default: of every command)."""
    parser = _Parser(
        prog="naftiko-runtime", description="Validate and serve Naftiko capability specs."
    )
    parser.add_argument("--version", action="version", version=f"naftiko-runtime {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    wanted = set(COMMANDS if commands is None else commands)
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(name, help=command.help)
        if name in wanted:
            command.add_arguments(sub)
    return parser


def named(argv: Sequence[str]) -> list[str]:
    """The command `argv` names, its first word that is not a flag (the parser's own flags
    take no value): the one whose flags `build_parser` needs."""
    return [word for word in argv if not word.startswith("-")][:1]
