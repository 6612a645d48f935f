"""`export openapi` (and `openapi`): the OpenAPI 3.1 document of the REST ports, built as
`serve` builds it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import TextIO

from naftiko_runtime.cli.commands import EXIT_INVALID, EXIT_OK
from naftiko_runtime.errors import StartupError, UsageError
from naftiko_runtime.serving.launch import load_valid
from naftiko_runtime.serving.offline import compile_offline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    exported = parser.add_subparsers(dest="what", required=True)
    add_openapi_arguments(
        exported.add_parser("openapi", help="the OpenAPI 3.1 document of the REST ports")
    )


def add_openapi_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", help="files or directories")
    parser.add_argument("--port", type=int, help="only this port (default: all)")


def export(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    result = load_valid(args.paths, stderr)
    if result is None:
        return EXIT_INVALID
    try:  # nothing is called: any host will do, and secrets are placeholders
        runtime = compile_offline(result.capabilities, "http://upstream.invalid")
    except StartupError as exc:
        stderr.write(f"naftiko-runtime: error: {exc}\n")
        return EXIT_INVALID
    documents = {port: app.openapi for port, app in runtime.rest_apps.items() if app.openapi}
    if args.port is not None:
        if args.port not in documents:
            raise UsageError(f"no REST adapter on port {args.port}")
        documents = {args.port: documents[args.port]}
    if not documents:
        raise UsageError("these capabilities expose no REST adapter")
    output = (
        next(iter(documents.values()))
        if len(documents) == 1
        else {str(port): doc for port, doc in documents.items()}
    )
    stdout.write(json.dumps(output, indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK
