"""What the commands that write capabilities share (`create`, `import`, `migrate`): the
dialects, the flags of what is written and where, and the file not overwritten unasked."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from naftiko_runtime.capability.dialects.migrate import migrate_text
from naftiko_runtime.capability.write import ADAPTERS
from naftiko_runtime.errors import UsageError

DIALECTS = ("naftiko", "ikanos")


def add_written_arguments(parser: argparse.ArgumentParser, output: str) -> None:
    """The flags of commands that write a capability: what it exposes, where, and to which
    file."""
    parser.add_argument("--expose", type=_adapter_list, default=list(ADAPTERS), metavar="rest,mcp")
    parser.add_argument("--rest-port", type=int, default=8080)
    parser.add_argument("--mcp-port", type=int, default=9090)
    parser.add_argument("-o", "--output", help=output)
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument(
        "--dialect",
        choices=DIALECTS,
        default="naftiko",
        help="write `naftiko: 1.0.0-alpha2` (default) or `ikanos: 1.0.0-beta5`",
    )


def _adapter_list(value: str) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = sorted(set(chosen) - set(ADAPTERS))
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(ADAPTERS)}")
    return chosen


def in_dialect(text: str, name: str, dialect: str, stderr: TextIO) -> str:
    """A capability this runtime wrote (in alpha2) in the dialect asked for; what could not
    be carried over is said on stderr, as `migrate` says it."""
    if dialect == "naftiko":
        return text
    migrated = migrate_text(text, name, dialect)
    if migrated.text is None:  # pragma: no cover - our own text always parses
        raise UsageError(f"cannot write {name} as {dialect}")
    for d in migrated.diagnostics:  # about text the user never saw: said by pointer
        where = d.pointer or "/"
        stderr.write(f"naftiko-runtime: {d.severity.value}: {d.message} (at {where})\n")
    return migrated.text


def writable(out: Path, force: bool) -> Path:
    """`out`, unless it exists and `--force` was not given."""
    if out.exists() and not force:
        raise UsageError(f"{out} exists (--force overwrites it)")
    return out
