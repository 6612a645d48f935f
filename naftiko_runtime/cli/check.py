"""`check`: consumed operations held against the upstreams' OpenAPI (drift); with
`--exercise`, every REST operation and MCP tool called against mocks of them."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from naftiko_runtime.capability.load import LoadResult, load_paths
from naftiko_runtime.cli.commands import EXIT_INVALID, EXIT_OK
from naftiko_runtime.diagnostics import Diagnostic
from naftiko_runtime.errors import UsageError
from naftiko_runtime.openapi.documents import OpenApiError, load_document
from naftiko_runtime.openapi.drift import check as drift
from naftiko_runtime.report import FORMATS, render
from naftiko_runtime.version import __version__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", help="capability files or directories")
    parser.add_argument(
        "--against",
        nargs="+",
        required=True,
        metavar="OPENAPI",
        help="the upstreams' OpenAPI 3.x or Swagger 2.0 documents (YAML or JSON)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="the formats of validate")
    parser.add_argument(
        "--exercise",
        action="store_true",
        help="also serve each capability against mocks of those documents and call every "
        "REST operation and MCP tool with generated input (offline, bounded in time)",
    )
    parser.add_argument(
        "--exercise-budget",
        type=float,
        default=60.0,  # openapi.exercise.DEFAULT_BUDGET (imported with --exercise only)
        metavar="SECONDS",
        help="time the whole exercise may take, mocks' start included; what is left "
        "uncalled is reported as exercise-skipped (default %(default)s)",
    )
    parser.add_argument(
        "--exercise-call-timeout",
        type=float,
        default=10.0,  # openapi.exercise.DEFAULT_CALL_TIMEOUT
        metavar="SECONDS",
        help="time one call may take (default %(default)s)",
    )
    parser.add_argument(
        "--mock",
        choices=("auto", "prism", "builtin"),
        default="auto",
        help="what answers for the upstreams: Prism (found as --prism, $NAFTIKO_PRISM, on "
        "PATH or in node_modules/.bin), the built-in mock, or Prism where found (default)",
    )
    parser.add_argument("--prism", metavar="PATH", help="Prism's executable")


def check(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    """Drift: the capabilities must be valid first; then each consumed operation is held
    against the documents given; `--exercise` then calls what they expose, against mocks."""
    if not (args.exercise_budget > 0 and args.exercise_call_timeout > 0):
        raise UsageError("--exercise-budget and --exercise-call-timeout must be above 0")
    try:
        specs = [load_document(Path(path)) for path in args.against]
    except OpenApiError as exc:
        raise UsageError(str(exc)) from None
    result = load_paths(args.paths)
    diagnostics = result.diagnostics
    if result.ok:
        try:  # a $ref that cannot be followed, a schema past the bounds: found on the way
            found = drift(result.documents, specs)
        except OpenApiError as exc:
            raise UsageError(str(exc)) from None
        diagnostics = [*diagnostics, *found]
        if args.exercise:
            diagnostics += _exercise(args, result, specs, environ)
        diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
    stdout.write(render(args.format, diagnostics, result.files, result.shown, __version__))
    return EXIT_INVALID if any(d.is_error for d in diagnostics) else EXIT_OK


def _exercise(
    args: argparse.Namespace, result: LoadResult, specs: Sequence[Any], environ: Mapping[str, str]
) -> list[Diagnostic]:
    # only with `--exercise`: the mocks, the proxy and what serves (~0.2 s of imports)
    from naftiko_runtime.serving.exercise import ExerciseError, ExerciseOptions, exercise

    options = ExerciseOptions(
        args.exercise_budget, args.exercise_call_timeout, args.mock, args.prism
    )
    try:
        return exercise(result.documents, result.capabilities, specs, options, environ)
    except ExerciseError as exc:
        raise UsageError(str(exc)) from None
