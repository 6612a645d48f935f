"""`create capability`: a commented capability that validates and serves as generated."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from naftiko_runtime.capability.write import AUTH_TYPES, Scaffold, kebab, render
from naftiko_runtime.cli.commands import EXIT_OK
from naftiko_runtime.cli.written import add_written_arguments, in_dialect, writable
from naftiko_runtime.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    created = parser.add_subparsers(dest="what", required=True)
    scaffold = created.add_parser(
        "capability", help="a commented capability that validates and serves as generated"
    )
    scaffold.add_argument("--namespace", required=True, help="the upstream's namespace")
    scaffold.add_argument("--label", help="a name for people (default: from the namespace)")
    scaffold.add_argument(
        "--base-uri", default="https://api.example.com", help="the upstream's base URI"
    )
    scaffold.add_argument("--auth", choices=AUTH_TYPES, default="bearer")
    add_written_arguments(scaffold, "where to write it (default: NAMESPACE.yaml; - for stdout)")


def create(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    namespace = kebab(args.namespace)
    if not namespace:
        raise UsageError("--namespace needs letters or digits")
    label = args.label or namespace.replace("-", " ").title()
    text = render(
        Scaffold(
            namespace,
            label,
            args.base_uri.rstrip("/"),
            args.auth,
            tuple(args.expose),
            args.rest_port,
            args.mcp_port,
        )
    )
    text = in_dialect(text, f"{namespace}.yaml", args.dialect, stderr)
    if args.output == "-":
        stdout.write(text)
        return EXIT_OK
    out = writable(Path(args.output or f"{namespace}.yaml"), args.force)
    out.write_text(text)
    stderr.write(f"naftiko-runtime: wrote {out}; next: naftiko-runtime validate {out}\n")
    return EXIT_OK
