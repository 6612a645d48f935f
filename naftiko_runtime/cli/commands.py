"""The commands of `naftiko-runtime`: each one's line of help, and where it lives, imported
only when it is the command given (`validate` imports nothing `serve` needs); and the exit
codes they return.

Each command's module has a function that runs it, `(args, stdout, stderr, environ) -> exit
code`, and one that adds its flags to its parser (`add_arguments` unless named otherwise).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping
from typing import NamedTuple, TextIO

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

Run = Callable[[argparse.Namespace, TextIO, TextIO, Mapping[str, str]], int]
AddArguments = Callable[[argparse.ArgumentParser], None]


class Command(NamedTuple):
    target: str  # "module:function" that runs it
    help: str
    arguments: str = "add_arguments"  # the function of the same module that adds its flags

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add: AddArguments = getattr(self._module(), self.arguments)
        add(parser)

    def run(self) -> Run:
        function: Run = getattr(self._module(), self.target.partition(":")[2])
        return function

    def _module(self) -> object:
        return importlib.import_module(self.target.partition(":")[0])


COMMANDS: dict[str, Command] = {
    "validate": Command(
        "naftiko_runtime.cli.validate:validate", "check capability files; exit 1 if invalid"
    ),
    "health": Command(
        "naftiko_runtime.cli.probe:probe", "is a running instance ready? (exit 1 when not)"
    ),
    "status": Command("naftiko_runtime.cli.probe:probe", "what a running instance serves"),
    "metrics": Command("naftiko_runtime.cli.probe:probe", "a running instance's metrics"),
    "traces": Command(
        "naftiko_runtime.cli.probe:probe",
        "a running instance's recent traces, newest first",
        "add_traces_arguments",
    ),
    "rules": Command("naftiko_runtime.cli.rules:rules", "list every rule validate knows"),
    "schema": Command(
        "naftiko_runtime.cli.schema:schema", "print the JSON Schema this runtime validates against"
    ),
    "export": Command(
        "naftiko_runtime.cli.export:export", "write what capabilities expose in another form"
    ),
    "openapi": Command(
        "naftiko_runtime.cli.export:export", "the same as `export openapi`", "add_openapi_arguments"
    ),
    "create": Command("naftiko_runtime.cli.create:create", "scaffold a new file"),
    "import": Command(
        "naftiko_runtime.cli.import_:import_", "make a capability from another format"
    ),
    "migrate": Command(
        "naftiko_runtime.cli.migrate:migrate",
        "rewrite capabilities in the other dialect (naftiko alpha2 <-> ikanos beta5), "
        "comments and key order kept; every lossy point is reported",
    ),
    "check": Command(
        "naftiko_runtime.cli.check:check",
        "compare consumed operations with the upstreams' OpenAPI (drift)",
    ),
    "serve": Command("naftiko_runtime.cli.serve:serve", "serve capabilities as REST and MCP"),
    "demo": Command(
        "naftiko_runtime.cli.demo:demo",
        "serve the bundled Letta capabilities against the bundled Letta simulator "
        "(no credentials needed; the flags are serve's)",
    ),
}
