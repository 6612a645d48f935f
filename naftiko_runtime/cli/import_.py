"""`import openapi`: a capability consuming and exposing an OpenAPI or Swagger document,
with what `validate` would refuse in it said at once."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.cli.commands import EXIT_OK
from naftiko_runtime.cli.written import add_written_arguments, in_dialect, writable
from naftiko_runtime.errors import UsageError
from naftiko_runtime.openapi.documents import OpenApiError, load_document
from naftiko_runtime.openapi.importer import ImportOptions, import_openapi


def add_arguments(parser: argparse.ArgumentParser) -> None:
    imported = parser.add_subparsers(dest="what", required=True)
    from_openapi = imported.add_parser(
        "openapi", help="a capability consuming and exposing an OpenAPI or Swagger document"
    )
    from_openapi.add_argument("file", help="OpenAPI 3.0/3.1 or Swagger 2.0, YAML or JSON")
    from_openapi.add_argument("--namespace", help="the consumed namespace (default: the title)")
    from_openapi.add_argument(
        "--select",
        nargs="+",
        action="extend",  # `--select a --select b` keeps both
        default=[],
        metavar="TAG|PATH|OPERATION_ID",
        help="only these operations: tags, operationIds, or paths (globs such as /v1/jobs*)",
    )
    add_written_arguments(from_openapi, "where to write it (default: stdout)")


def import_(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    try:
        document = load_document(Path(args.file))
        text = import_openapi(
            document,
            ImportOptions(
                args.namespace,
                tuple(args.select),
                tuple(args.expose),
                args.rest_port,
                args.mcp_port,
            ),
        )
    except (OpenApiError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    text = in_dialect(text, f"{document.path.stem}.yaml", args.dialect, stderr)
    if not args.output or args.output == "-":
        stdout.write(text)
        _warn_if_refused(text, f"{document.path.stem}.yaml", stderr)
        return EXIT_OK
    out = writable(Path(args.output), args.force)
    out.write_text(text)
    stderr.write(f"naftiko-runtime: wrote {out}; next: naftiko-runtime validate {out}\n")
    _warn_if_refused(text, out.name, stderr)
    return EXIT_OK


def _warn_if_refused(text: str, name: str, stderr: TextIO) -> None:
    """What `validate` would refuse in a capability `import` wrote, said at once (a
    description too large, a name the schema refuses), as warnings: the file is written.
    Parameters the import left out are said too: a client could not send them."""
    left_out = [line.strip("# ") for line in text.splitlines() if "cannot hold; left out" in line]
    if left_out:
        stderr.write(
            f"naftiko-runtime: warning: {len(left_out)} parameter(s) left out "
            f"(see the comments in {name}): {'; '.join(left_out[:5])}\n"
        )

    with tempfile.TemporaryDirectory(prefix="naftiko-import-") as folder:
        written = Path(folder) / name
        written.write_text(text)
        result = load_paths([str(written)])
        errors = [d for d in result.diagnostics if d.is_error]
        if not errors:
            return
        stderr.write(
            f"naftiko-runtime: warning: `validate` would refuse what was written "
            f"({len(errors)} error(s)):\n"
        )
        for diagnostic in errors[:20]:
            where = f"{name}:{diagnostic.line}:{diagnostic.column}"
            message = diagnostic.message.replace(str(written), name)
            message = message.replace(f"{Path(folder).name}/{name}", name)
            stderr.write(f"  {where}: [{diagnostic.rule}] {message}\n")
