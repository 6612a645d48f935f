"""`validate`: check capability files; exit 1 if invalid (or past `--max-warnings`)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from naftiko_runtime.capability.load import LoadResult, load_paths
from naftiko_runtime.capability.rules import Selection
from naftiko_runtime.cli.commands import EXIT_INVALID, EXIT_OK
from naftiko_runtime.diagnostics import Diagnostic, Severity
from naftiko_runtime.errors import StartupError
from naftiko_runtime.model import Capability
from naftiko_runtime.report import FORMATS, render
from naftiko_runtime.version import __version__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", help="files or directories")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text for people, json, sarif (code scanning), github (workflow annotations)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="portability check: also fail on the dialect the reference engine would reject "
        "(reported as 'portability'; such a file is valid here and serves)",
    )
    parser.add_argument(
        "--select",
        action="extend",
        type=_rule_list,
        default=[],
        metavar="RULE[,RULE]",
        help="report only these rules (ids or prefixes such as naftiko-); errors that stop "
        "serving are always reported",
    )
    parser.add_argument(
        "--ignore",
        action="extend",
        type=_rule_list,
        default=[],
        metavar="RULE[,RULE]",
        help="do not report these rules (ids or prefixes)",
    )
    parser.add_argument(
        "--all-rules",
        action="store_true",
        help="also run the rules that are off by default (the official non-recommended ones)",
    )
    parser.add_argument(
        "--max-warnings",
        type=int,
        metavar="N",
        help="exit 1 when there are more than N warnings (warnings never fail otherwise)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also build every operation and tool as serve would (no port, no secrets)",
    )
    parser.add_argument(
        "--policies",
        metavar="FILE",
        help="also check a traffic policy file (as `serve --policies` reads it) against "
        "these capabilities",
    )


def _rule_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def validate(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    selection = Selection(tuple(args.select), tuple(args.ignore), args.all_rules)
    result = load_paths(
        args.paths,
        strict=args.strict,
        build_model=args.compile or args.policies is not None,
        selection=selection,
        aside=None,
    )
    if args.compile and result.ok:
        result.diagnostics.extend(compile_diagnostics(result.capabilities))
        result.diagnostics.sort(key=Diagnostic.sort_key)
    if args.policies is not None and result.ok:
        _validate_policies(args.policies, result)
    stdout.write(
        render(
            args.format,
            result.diagnostics,
            result.files,
            result.shown,
            __version__,
            strict=args.strict,
        )
    )
    if not result.ok:
        return EXIT_INVALID
    warnings = sum(d.severity is Severity.WARNING for d in result.diagnostics)
    if args.max_warnings is not None and warnings > args.max_warnings:
        return EXIT_INVALID
    return EXIT_OK


def _validate_policies(path: str, result: LoadResult) -> None:
    """`validate --policies`: the policy file's problems reported with the specs'."""
    from naftiko_runtime.policies.load import load_policies  # only with `--policies`

    _, problems, doc = load_policies(Path(path), result.capabilities)
    result.files.append(doc.display if doc is not None else path)
    if doc is not None:
        result.documents.append(doc)
    result.diagnostics.extend(problems)
    result.diagnostics.sort(key=Diagnostic.sort_key)


def compile_diagnostics(capabilities: Sequence[Capability]) -> list[Diagnostic]:
    """`validate --compile`: build what `serve` builds, with placeholder secrets and upstream,
    one capability at a time, so each failure is reported where it was declared."""
    # only with `--compile`: the adapters, the engine and the clients, which plain
    # `validate` never needs (tests/test_startup_imports.py)
    from naftiko_runtime.serving.offline import compile_offline

    found = []
    for capability in capabilities:
        try:
            compile_offline([capability], "http://compile.invalid")
        except (StartupError, ValueError) as exc:
            line, column, message = _where_of(str(exc), capability.file)
            found.append(Diagnostic(capability.file, line, column, "", "compile", message))
    return found


def _where_of(message: str, file: str) -> tuple[int, int, str]:
    """The line and column a start-up error names, and its message without them (the
    diagnostic says where once)."""
    match = re.match(re.escape(file) + r":(\d+):(\d+): ", message)
    if match:
        return int(match.group(1)), int(match.group(2)), message[match.end() :]
    return 1, 1, message.removeprefix(f"{file}: ")
