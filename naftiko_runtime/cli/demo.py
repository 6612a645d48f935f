"""`demo`: `serve` of the bundled Letta capabilities against the bundled Letta simulator,
with what to try."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from naftiko_runtime.cli.serve import add_serve_flags, port_map, serve
from naftiko_runtime.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_serve_flags(parser, simulate="always")


def demo(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    args.paths = [str(bundled_capabilities())]
    ports = port_map(args)
    where = f"({args.paths[0]}), against the bundled Letta simulator"
    if args.stdio:  # stdout is the MCP client's: say it on stderr, with nothing to try
        stderr.write(f"naftiko-runtime demo: the bundled Letta capabilities {where}, over stdio\n")
        return serve(args, stdout, stderr, environ)
    host = args.host if args.host not in (None, "0.0.0.0", "::") else "127.0.0.1"
    rest = f"http://{host}:{ports.get(8080, 8080)}"
    mcp = f"http://{host}:{ports.get(9090, 9090)}/mcp"
    stderr.write(
        f"naftiko-runtime demo: the bundled Letta Jobs and Runs capabilities {where}. Try:\n"
        f"  curl '{rest}/v1/jobs/?limit=2&order=asc'\n"
        f"  open {rest}/docs\n"
        f"  npx @modelcontextprotocol/inspector --cli {mcp} --transport http "
        "--method tools/list\n"
        "Ctrl-C stops it.\n"
    )
    return serve(args, stdout, stderr, environ)


def bundled_capabilities() -> Path:
    """The capabilities shipped with the package: in the wheel (`_capabilities`), or a
    checkout's `capabilities/` beside the package."""
    package = Path(__file__).resolve().parent.parent
    checkout = package.parent
    for candidate in (package / "_capabilities", checkout / "capabilities"):
        if candidate.is_dir() and (candidate.name == "_capabilities" or _is_checkout(checkout)):
            return candidate
    raise UsageError("this installation has no bundled capabilities")


def _is_checkout(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file()
