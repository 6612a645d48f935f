"""The `naftiko-runtime` command: validate, check, rules, schema, create, import, export,
serve, demo, and the probes of a running instance (health, status, metrics, traces).

`main()` is a thin wrapper over `run()`, which takes its streams and environment as
arguments so tests can call it directly. Exit codes: 0 ok, 1 invalid spec, 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from naftiko_runtime import __version__
from naftiko_runtime.capability.load import LoadResult, UsageError, load_detached, load_paths
from naftiko_runtime.capability.model import Capability
from naftiko_runtime.capability.registry import RULES, Selection, markdown_table
from naftiko_runtime.capability.schema import load_schema
from naftiko_runtime.capability.source import SourceDocument, SourceMap, display_path
from naftiko_runtime.capability.write import ADAPTERS, AUTH_TYPES
from naftiko_runtime.diagnostics import Diagnostic, Severity
from naftiko_runtime.engine.scripting import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MEMORY_MB,
    DEFAULT_QUEUE,
    DEFAULT_QUEUE_WAIT_MS,
    DEFAULT_TIMEOUT_MS,
    ScriptSettings,
)
from naftiko_runtime.errors import BindingError, StartupError
from naftiko_runtime.report import FORMATS, render, render_text

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
DIALECTS = ("naftiko", "ikanos")
UPSTREAM_ENV = "NAFTIKO_UPSTREAM"  # the environment twin of --upstream


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="naftiko-runtime", description="Validate and serve Naftiko capability specs."
    )
    parser.add_argument("--version", action="version", version=f"naftiko-runtime {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check capability files; exit 1 if invalid")
    validate.add_argument("paths", nargs="+", help="files or directories")
    validate.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text for people, json, sarif (code scanning), github (workflow annotations)",
    )
    validate.add_argument(
        "--strict",
        action="store_true",
        help="portability check: also fail on the dialect the reference engine would reject "
        "(reported as 'portability'; such a file is valid here and serves)",
    )
    validate.add_argument(
        "--select",
        action="extend",
        type=_rule_list,
        default=[],
        metavar="RULE[,RULE]",
        help="report only these rules (ids or prefixes such as naftiko-); errors that stop "
        "serving are always reported",
    )
    validate.add_argument(
        "--ignore",
        action="extend",
        type=_rule_list,
        default=[],
        metavar="RULE[,RULE]",
        help="do not report these rules (ids or prefixes)",
    )
    validate.add_argument(
        "--all-rules",
        action="store_true",
        help="also run the rules that are off by default (the official non-recommended ones)",
    )
    validate.add_argument(
        "--max-warnings",
        type=int,
        metavar="N",
        help="exit 1 when there are more than N warnings (warnings never fail otherwise)",
    )
    validate.add_argument(
        "--compile",
        action="store_true",
        help="also build every operation and tool as serve would (no port, no secrets)",
    )
    validate.add_argument(
        "--policies",
        metavar="FILE",
        help="also check a traffic policy file (as `serve --policies` reads it) against "
        "these capabilities",
    )

    for verb, what in (
        ("health", "is a running instance ready? (exit 1 when not)"),
        ("status", "what a running instance serves"),
        ("metrics", "a running instance's metrics"),
        ("traces", "a running instance's recent traces, newest first"),
    ):
        probe = commands.add_parser(verb, help=what)
        probe.add_argument(
            "--control",
            default="http://127.0.0.1:9191",
            metavar="URL",
            help="the instance's control port (default %(default)s)",
        )
        probe.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="text for people, or JSON as the port answers it",
        )
        if verb == "traces":
            probe.add_argument("--operation", help="only traces whose root span name has this")
            probe.add_argument("--status", choices=("OK", "ERROR"), help="only these")

    rules = commands.add_parser("rules", help="list every rule validate knows")
    rules.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="a text list, the Markdown table of the docs, or JSON",
    )

    commands.add_parser("schema", help="print the JSON Schema this runtime validates against")

    export = commands.add_parser("export", help="write what capabilities expose in another form")
    exported = export.add_subparsers(dest="what", required=True)
    for openapi in (
        exported.add_parser("openapi", help="the OpenAPI 3.1 document of the REST ports"),
        commands.add_parser("openapi", help="the same as `export openapi`"),
    ):
        openapi.add_argument("paths", nargs="+", help="files or directories")
        openapi.add_argument("--port", type=int, help="only this port (default: all)")

    create = commands.add_parser("create", help="scaffold a new file")
    created = create.add_subparsers(dest="what", required=True)
    scaffold = created.add_parser(
        "capability", help="a commented capability that validates and serves as generated"
    )
    scaffold.add_argument("--namespace", required=True, help="the upstream's namespace")
    scaffold.add_argument("--label", help="a name for people (default: from the namespace)")
    scaffold.add_argument(
        "--base-uri", default="https://api.example.com", help="the upstream's base URI"
    )
    scaffold.add_argument("--auth", choices=AUTH_TYPES, default="bearer")
    _written_capability(scaffold, "where to write it (default: NAMESPACE.yaml; - for stdout)")

    importing = commands.add_parser("import", help="make a capability from another format")
    imported = importing.add_subparsers(dest="what", required=True)
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
    _written_capability(from_openapi, "where to write it (default: stdout)")

    migrate = commands.add_parser(
        "migrate",
        help="rewrite capabilities in the other dialect (naftiko alpha2 <-> ikanos beta5), "
        "comments and key order kept; every lossy point is reported",
    )
    migrate.add_argument("files", nargs="+", help="capability files")
    migrate.add_argument("--to", choices=DIALECTS, required=True, help="the dialect to write")
    migrate.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="write each file there under its own name (default: stdout, one file only)",
    )
    migrate.add_argument("--force", action="store_true", help="overwrite existing files")

    check = commands.add_parser(
        "check", help="compare consumed operations with the upstreams' OpenAPI (drift)"
    )
    check.add_argument("paths", nargs="+", help="capability files or directories")
    check.add_argument(
        "--against",
        nargs="+",
        required=True,
        metavar="OPENAPI",
        help="the upstreams' OpenAPI 3.x or Swagger 2.0 documents (YAML or JSON)",
    )
    check.add_argument("--format", choices=FORMATS, default="text", help="the formats of validate")
    check.add_argument(
        "--exercise",
        action="store_true",
        help="also serve each capability against mocks of those documents and call every "
        "REST operation and MCP tool with generated input (offline, bounded in time)",
    )
    check.add_argument(
        "--exercise-budget",
        type=float,
        default=60.0,  # openapi.exercise.DEFAULT_BUDGET (not imported here: check starts faster)
        metavar="SECONDS",
        help="time the whole exercise may take, mocks' start included; what is left "
        "uncalled is reported as exercise-skipped (default %(default)s)",
    )
    check.add_argument(
        "--exercise-call-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time one call may take (default %(default)s)",
    )
    check.add_argument(
        "--mock",
        choices=("auto", "prism", "builtin"),
        default="auto",
        help="what answers for the upstreams: Prism (found as --prism, $NAFTIKO_PRISM, on "
        "PATH or in node_modules/.bin), the built-in mock, or Prism where found (default)",
    )
    check.add_argument("--prism", metavar="PATH", help="Prism's executable")

    serve = commands.add_parser("serve", help="serve capabilities as REST and MCP")
    serve.add_argument("paths", nargs="+", help="files or directories")
    _serve_arguments(serve, simulate="never")
    demo = commands.add_parser(
        "demo",
        help="serve the bundled Letta capabilities against the bundled Letta simulator "
        "(no credentials needed; the flags are serve's)",
    )
    _serve_arguments(demo, simulate="always")
    return parser


def _serve_arguments(serve: argparse.ArgumentParser, simulate: str) -> None:
    """The flags of `serve`, which `demo` takes too."""
    serve.add_argument(
        "--env-file", metavar="FILE", help="KEY=value file read before the environment"
    )
    serve.add_argument(
        "--policies",
        metavar="FILE",
        help="traffic policies (YAML): upstream timeouts, retries and circuit breakers, "
        "rate limits per route or tool and per caller; checked like a spec, read again on "
        "every reload",
    )
    serve.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="NAMESPACE=URL",
        help="send a consumed namespace to another base URL ('*' for all); "
        f"also ${UPSTREAM_ENV}=ns=url,ns2=url2",
    )
    serve.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="SPEC_PORT=PORT",
        help="listen on PORT where the spec says SPEC_PORT",
    )
    serve.add_argument("--host", help="listen address (default: the spec's, else 127.0.0.1)")
    serve.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds an upstream exchange may take until its body is read (504 after); "
        "a stream that has started is bounded by --stream-idle-timeout instead",
    )
    serve.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds to open a connection to an upstream (default %(default)s)",
    )
    serve.add_argument(
        "--stream-idle-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds an upstream stream may stay silent before it is cut (with an error "
        "event; default %(default)s)",
    )
    serve.add_argument(
        "--upstream-connections",
        type=int,
        default=256,
        metavar="N",
        help="connections each consumed namespace may hold at once (default %(default)s)",
    )
    serve.add_argument(
        "--pool-wait",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds a request waits for one of them before a 503 (default %(default)s)",
    )
    serve.add_argument(
        "--max-upstream-body",
        type=float,
        default=16.0,  # upstream.MAX_BODY (not imported here: validate starts faster)
        metavar="MB",
        help="largest upstream body read in full, after decompression (502 past it; "
        "default %(default)s)",
    )
    serve.add_argument(
        "--script-timeout",
        type=int,
        default=DEFAULT_TIMEOUT_MS,
        metavar="MS",
        help="milliseconds a script step may run (default %(default)s)",
    )
    serve.add_argument(
        "--script-memory",
        type=int,
        default=DEFAULT_MEMORY_MB,
        metavar="MB",
        help="memory a script step may use, its engine's heap and array buffers alike "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--script-concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"script steps of one language running at once; {DEFAULT_QUEUE} more wait up "
        f"to {DEFAULT_QUEUE_WAIT_MS} ms, the rest get 503 script_busy (default %(default)s)",
    )
    serve.add_argument(
        "--simulate",
        choices=("never", "auto", "always"),
        default=simulate,
        help="run the bundled Letta simulator as the upstream of Letta namespaces "
        "(auto: when LETTA_API_KEY is unset and no --upstream is given)",
    )
    serve.add_argument(
        "--stdio",
        action="store_true",
        help="serve the MCP adapter over stdin/stdout (for MCP client configs)",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="one line per request: request id (echoed as X-Request-Id), method, route "
        "template, status, duration, upstream time; never a query string or header",
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds a client may take to send a request's headers (408 JSON after; "
        "default %(default)s)",
    )
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines as text or as one JSON object per line (default %(default)s)",
    )
    serve.add_argument(
        "--mcp-session-idle",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds a handshake-era MCP session may stay idle before it is closed "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--mcp-sessions-per-client",
        type=int,
        default=64,
        metavar="N",
        help="open MCP sessions one client address may hold (429 past it; default %(default)s)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds a client may take to send a request's body after its headers (408 "
        "JSON after; default %(default)s)",
    )
    serve.add_argument(
        "--max-header-size",
        type=int,
        default=64,
        metavar="KB",
        help="largest request head a client may send (431 JSON above; default %(default)s)",
    )
    serve.add_argument(
        "--max-file-size",
        type=float,
        default=10.0,  # adapters.files.MAX_FILE_BYTES
        metavar="MB",
        help="largest file served from a folder (an MCP `location` resource or prompt, a "
        "skill's file) and largest skill download, in total (MCP error / 413 JSON above; "
        "default %(default)s)",
    )
    serve.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="after SIGTERM, how long requests in flight may take to finish "
        "(default: --timeout, at least 5)",
    )
    serve.add_argument(
        "--drain-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="after SIGTERM, keep accepting for S seconds with /health/ready at 503, so "
        "balancers stop sending before the listeners close (default %(default)s; SIGINT "
        "never waits)",
    )
    serve.add_argument(
        "--mcp-stateless",
        action="store_true",
        help="serve handshake-era MCP clients without sessions, so any worker or instance "
        "answers any request (implied by --workers above 1)",
    )
    serve.add_argument(
        "--control",
        metavar="[HOST:]PORT",
        help="when no spec declares a control adapter, serve one on HOST:PORT (health, "
        "status, metrics; HOST defaults to 127.0.0.1: give 0.0.0.0 for a container's probes)",
    )
    serve.add_argument(
        "--trace-sampling",
        type=float,
        metavar="RATIO",
        help="share of requests traced (0 to 1; 0 turns tracing off entirely); default: the "
        "control adapter's traces.sampling, 1.0 with --control",
    )
    serve.add_argument(
        "--watch",
        action="store_true",
        help="reload when a spec changes (SIGHUP always reloads); a bad reload "
        "keeps the previous configuration serving",
    )
    serve.add_argument(
        "--http-client",
        choices=("h1", "aiohttp", "pyreqwest"),
        default="h1",
        help="upstream HTTP client (h1: HTTP/1.1 on httptools, the least CPU per call in "
        "bench/run.py; aiohttp; pyreqwest does its I/O on a thread of its own)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="processes serving every port (the kernel spreads connections over them; "
        "handshake-era MCP then runs without sessions, as with --mcp-stateless)",
    )


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]) -> int:
    """Run one command; never raises for bad input."""
    with _no_collection():
        return _run(argv, stdout, stderr, environ)


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


def _run(argv: Sequence[str], stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]) -> int:
    try:
        args = build_parser().parse_args(list(argv))
        if args.command == "schema":
            stdout.write(json.dumps(load_schema(), indent=2, ensure_ascii=False) + "\n")
            return EXIT_OK
        if args.command == "validate":
            return _validate(args, stdout)
        if args.command == "rules":
            stdout.write(_rules(args.format))
            return EXIT_OK
        if args.command in ("health", "status", "metrics", "traces"):
            return _probe(args, stdout)
        if args.command == "openapi" or args.command == "export":
            return _openapi(args, stdout, stderr)
        if args.command == "check":
            return _check(args, stdout, environ)
        if args.command == "import":
            return _import(args, stdout, stderr)
        if args.command == "create":
            return _create(args, stdout, stderr)
        if args.command == "migrate":
            return _migrate(args, stdout, stderr)
        if args.command == "serve":
            return _serve(args, stdout, stderr, environ)
        if args.command == "demo":
            return _demo(args, stdout, stderr, environ)
    except UsageError as exc:
        stderr.write(f"naftiko-runtime: error: {exc}\n")
        return EXIT_USAGE
    return EXIT_USAGE  # pragma: no cover - argparse requires a command


def _probe(args: argparse.Namespace, stdout: TextIO) -> int:
    """Read a running instance's control port and print it for people (or as JSON)."""
    import httpx

    paths = {"health": "/health/ready", "status": "/status", "metrics": "/metrics"}
    path = paths.get(args.command, "/traces")
    query = {
        key: value
        for key in ("operation", "status")
        if (value := getattr(args, key, None)) is not None
    }
    try:
        reply = httpx.get(args.control.rstrip("/") + path, params=query, timeout=10)
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot reach the control port at {args.control}: {exc}") from None
    if args.command == "metrics":
        if args.format == "json":
            from prometheus_client.parser import text_string_to_metric_families

            samples = [
                {"name": s.name, "labels": s.labels, "value": s.value}
                for family in text_string_to_metric_families(reply.text)
                for s in family.samples
            ]
            stdout.write(json.dumps(samples, indent=2) + "\n")
        else:
            stdout.write(reply.text)
        return EXIT_OK if reply.is_success else EXIT_INVALID
    data = reply.json()
    if args.format == "json":
        stdout.write(json.dumps(data, indent=2) + "\n")
    elif args.command == "traces":
        stdout.write(f"{data.get('bufferUsed')} of {data.get('bufferSize')} traces kept\n")
        for trace in data.get("traces", []):
            stdout.write(
                f"{trace['timestamp']}  {trace['traceId']}  {trace['status']:<5}  "
                f"{trace['durationMs']:>9.1f} ms  {trace['spanCount']:>3} spans  "
                f"{trace['operation']}\n"
            )
    elif args.command == "health":
        stdout.write(f"{data.get('status')}\n")
        for adapter in data.get("adapters", []):
            where = f":{adapter['port']}" if adapter.get("port") else ""
            stdout.write(
                f"  {adapter['type']:<8}{adapter.get('namespace') or '':<28}{where:<8}"
                f"{adapter.get('state', '')}\n"
            )
    else:
        for capability in data.get("capabilities", []):
            stdout.write(
                f"{capability.get('label') or capability['file']}  "
                f"(naftiko {capability.get('specVersion')})\n"
            )
        engine = data.get("engine", {})
        stdout.write(
            f"engine {engine.get('name')} {engine.get('version')}, "
            f"up {data.get('uptime')}, draining: {data.get('draining')}\n"
        )
        last = data.get("lastReload")
        if last:
            stdout.write(f"last reload: {'ok' if last['ok'] else 'rejected'}\n")
    if args.command == "health":
        return EXIT_OK if reply.status_code == 200 else EXIT_INVALID
    return EXIT_OK if reply.is_success else EXIT_INVALID


def _rule_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _validate(args: argparse.Namespace, stdout: TextIO) -> int:
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
    from naftiko_runtime.policies.load import load_policies

    _, problems, doc = load_policies(Path(path), result.capabilities)
    result.files.append(doc.display if doc is not None else path)
    if doc is not None:
        result.documents.append(doc)
    result.diagnostics.extend(problems)
    result.diagnostics.sort(key=Diagnostic.sort_key)


def _load_policies(path: str, capabilities: Sequence[Capability], stderr: TextIO) -> Any:
    """`serve --policies`: the policy set, or None (its problems printed) when invalid."""
    from naftiko_runtime.policies.load import load_policies

    policies, problems, doc = load_policies(Path(path), capabilities)
    if problems:
        stderr.write(render_text(problems, [path], [doc] if doc is not None else []))
    return policies


def _rules(fmt: str) -> str:
    if fmt == "markdown":
        return markdown_table()
    if fmt == "json":
        return (
            json.dumps(
                [
                    {
                        "id": r.id,
                        "severity": r.severity.value,
                        "default": r.default_on,
                        "official": r.official,
                        "summary": r.summary,
                        "help": r.help,
                    }
                    for r in RULES.values()
                ],
                indent=2,
            )
            + "\n"
        )
    width = max(len(r.id) for r in RULES.values())
    return "".join(
        f"{r.id:<{width}}  {r.severity.value:<7}  {'on ' if r.default_on else 'off'}  {r.summary}\n"
        for r in RULES.values()
    )


def compile_diagnostics(capabilities: Sequence[Any]) -> list[Diagnostic]:
    """`validate --compile`: build what `serve` builds, with placeholder secrets and upstream,
    one capability at a time, so each failure is reported where it was declared."""
    from naftiko_runtime.serving.runtime import ServeOptions, compile_runtime

    found = []
    for capability in capabilities:
        try:
            compile_runtime(
                [capability],
                _AnyValue(),
                ServeOptions(upstreams={"*": "http://compile.invalid"}),
                tracing=None,  # nothing runs: no tracer, no exporter thread
            )
        except (StartupError, ValueError) as exc:
            line, column, message = _where_of(str(exc), capability.file)
            found.append(Diagnostic(capability.file, line, column, "", "compile", message))
    return found


def _where_of(message: str, file: str) -> tuple[int, int, str]:
    """The line and column a start-up error names, and its message without them (the
    diagnostic says where once)."""
    import re

    match = re.match(re.escape(file) + r":(\d+):(\d+): ", message)
    if match:
        return int(match.group(1)), int(match.group(2)), message[match.end() :]
    return 1, 1, message.removeprefix(f"{file}: ")


def _load_valid(
    paths: Sequence[str],
    stderr: TextIO,
    meanwhile: Callable[[Sequence[Path]], object] | None = None,
    *,
    detach: bool = False,
    each: Callable[[Capability], object] | None = None,
) -> LoadResult | None:
    """Load for serving: on any error print the same diagnostics as `validate`. `detach`:
    a large spec loads in a forked loader while `meanwhile` prepares and `each` gets every
    capability as it arrives (`load_detached`)."""
    if detach:
        result = load_detached(paths, meanwhile=meanwhile, each=each)
    else:
        result = load_paths(paths, aside=None)
    if not result.ok:
        stderr.write(render_text(result.diagnostics, result.files, result.shown))
        return None
    for item in (u for c in result.capabilities for u in c.unsupported):
        stderr.write(
            f"{item.where.file}:{item.where.line}:{item.where.column}: warning "
            f"[unsupported] {item.what} is validated but not served by this runtime\n"
        )
    return result


class _AnyValue(Mapping[str, str]):
    """An environment in which every variable exists (for commands that never call out)."""

    def __getitem__(self, key: str) -> str:
        return "unused"

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _written_capability(parser: argparse.ArgumentParser, output: str) -> None:
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


def _create(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from naftiko_runtime.capability.write import Scaffold, kebab, render

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
    text = _in_dialect(text, f"{namespace}.yaml", args.dialect, stderr)
    if args.output == "-":
        stdout.write(text)
        return EXIT_OK
    out = Path(args.output or f"{namespace}.yaml")
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists (--force overwrites it)")
    out.write_text(text)
    stderr.write(f"naftiko-runtime: wrote {out}; next: naftiko-runtime validate {out}\n")
    return EXIT_OK


def _import(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from naftiko_runtime.openapi.documents import OpenApiError, load_document
    from naftiko_runtime.openapi.importer import ImportOptions, import_openapi

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
    text = _in_dialect(text, f"{document.path.stem}.yaml", args.dialect, stderr)
    if not args.output or args.output == "-":
        stdout.write(text)
        _warn_if_refused(text, f"{document.path.stem}.yaml", stderr)
        return EXIT_OK
    out = Path(args.output)
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists (--force overwrites it)")
    out.write_text(text)
    stderr.write(f"naftiko-runtime: wrote {out}; next: naftiko-runtime validate {out}\n")
    _warn_if_refused(text, out.name, stderr)
    return EXIT_OK


def _in_dialect(text: str, name: str, dialect: str, stderr: TextIO) -> str:
    """A capability this runtime wrote (in alpha2) in the dialect asked for; what could not
    be carried over is said on stderr, as `migrate` says it."""
    if dialect == "naftiko":
        return text
    from naftiko_runtime.capability.migrate import migrate_text

    migrated = migrate_text(text, name, dialect)
    if migrated.text is None:  # pragma: no cover - our own text always parses
        raise UsageError(f"cannot write {name} as {dialect}")
    for d in migrated.diagnostics:  # about text the user never saw: said by pointer
        where = d.pointer or "/"
        stderr.write(f"naftiko-runtime: {d.severity.value}: {d.message} (at {where})\n")
    return migrated.text


def _migrate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Each file rewritten in `--to`; its lossy points as diagnostics (stderr, at the
    source's lines). Exit 1 when an output does not validate in its dialect."""
    from naftiko_runtime.capability.migrate import migrate_file

    files = [Path(f) for f in args.files]
    for path in files:
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
    if args.output is None and len(files) > 1:
        raise UsageError("several files need -o DIR")
    folder = Path(args.output) if args.output else None
    if folder is not None:
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{folder} is not a directory")
        folder.mkdir(parents=True, exist_ok=True)
        names = [p.name for p in files]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise UsageError(f"two files would be written as {', '.join(twice)} in {folder}")
    results = [migrate_file(path, display_path(path), args.to) for path in files]
    diagnostics = [d for r in results for d in r.diagnostics]
    shown = [doc for doc in (_lines_of(p) for p in files) if doc is not None]
    if diagnostics:
        stderr.write(render_text(diagnostics, [r.source for r in results], shown))
    failed = False
    for path, result in zip(files, results, strict=True):
        failed = failed or not result.ok
        if result.text is None:
            continue
        if folder is None:
            stdout.write(result.text)
            continue
        out = folder / path.name
        if out.exists() and not args.force:
            raise UsageError(f"{out} exists (--force overwrites it)")
        out.write_text(result.text, encoding="utf-8")
        stderr.write(f"naftiko-runtime: wrote {out}\n")
    return EXIT_INVALID if failed else EXIT_OK


def _lines_of(path: Path) -> SourceDocument | None:
    """A file's lines, for the diagnostics' excerpts."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return SourceDocument(path, display_path(path), None, SourceMap(), lines)


def _warn_if_refused(text: str, name: str, stderr: TextIO) -> None:
    """What `validate` would refuse in a capability `import` wrote, said at once (a
    description too large, a name the schema refuses), as warnings: the file is written.
    Parameters the import left out are said too: a client could not send them."""
    import tempfile

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


def _check(args: argparse.Namespace, stdout: TextIO, environ: Mapping[str, str]) -> int:
    """Drift: the capabilities must be valid first; then each consumed operation is held
    against the documents given; `--exercise` then calls what they expose, against mocks."""
    from naftiko_runtime.openapi.documents import OpenApiError, load_document
    from naftiko_runtime.openapi.drift import check

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
            drift = check(result.documents, specs)
        except OpenApiError as exc:
            raise UsageError(str(exc)) from None
        diagnostics = [*diagnostics, *drift]
        if args.exercise:
            diagnostics += _exercise(args, result, specs, environ)
        diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
    stdout.write(render(args.format, diagnostics, result.files, result.shown, __version__))
    return EXIT_INVALID if any(d.is_error for d in diagnostics) else EXIT_OK


def _exercise(
    args: argparse.Namespace, result: LoadResult, specs: Sequence[Any], environ: Mapping[str, str]
) -> list[Diagnostic]:
    from naftiko_runtime.openapi.exercise import ExerciseError, ExerciseOptions, exercise

    options = ExerciseOptions(
        args.exercise_budget, args.exercise_call_timeout, args.mock, args.prism
    )
    try:
        return exercise(result.documents, result.capabilities, specs, options, environ)
    except ExerciseError as exc:
        raise UsageError(str(exc)) from None


def _openapi(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from naftiko_runtime.serving.runtime import ServeOptions, compile_runtime

    result = _load_valid(args.paths, stderr)
    if result is None:
        return EXIT_INVALID
    try:  # nothing is called: any host will do, and secrets are placeholders
        runtime = compile_runtime(
            result.capabilities,
            _AnyValue(),
            ServeOptions(upstreams={"*": "http://upstream.invalid"}),
            tracing=None,
        )
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


def _serve(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:

    from naftiko_runtime.secrets.bindings import parse_mapping, read_env_file

    try:
        upstreams = parse_mapping([environ.get(UPSTREAM_ENV, ""), *args.upstream], "--upstream")
        ports = {int(k): int(v) for k, v in parse_mapping(args.port, "--port").items()}
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    made: list[tuple[dict[str, str], Any, Any]] = []  # (env, options, Precompiled)

    def prepare(files: Sequence[Path]) -> None:
        """While a large spec loads aside: the imports, the settings, and a compiler for each
        capability as it arrives (a usage error is raised again below)."""
        _warm_imports(files)
        from naftiko_runtime.serving.runtime import Precompiled
        from naftiko_runtime.simulators import simulator_wanted

        env, options = _serve_settings(args, environ, upstreams, ports)
        # a simulator replaces the environment and options: nothing compiled early would fit
        early = None if simulator_wanted(env, options) else Precompiled(env, options)
        made.append((env, options, early))

    def compile_early(capability: Capability) -> None:
        if made and made[0][2] is not None:
            made[0][2].add(capability)

    result = _load_valid(args.paths, stderr, prepare, detach=True, each=compile_early)
    if result is None:
        return EXIT_INVALID
    # imported while a large spec loaded aside (`_warm_imports`), else here
    from naftiko_runtime.observability.logs import configure_logging
    from naftiko_runtime.serving.process import bind_sockets, serve
    from naftiko_runtime.serving.runtime import Reloader, compile_runtime
    from naftiko_runtime.simulators import simulator_plan

    # only the model is served: the documents (data, source maps, lines) go now, not at exit
    capabilities = result.capabilities
    policies = None
    if args.policies is not None:
        policies = _load_policies(args.policies, capabilities, stderr)
        if policies is None:
            return EXIT_INVALID
    positions = result.source_maps()  # released once compiled: nothing asks after that
    del result
    if made:  # made while the spec loaded, with operations compiled as it arrived
        env, options, precompiled = made.pop()
    else:
        env, options = _serve_settings(args, environ, upstreams, ports)
        precompiled = None
    extra = []
    before_simulator = env
    plan = simulator_plan(capabilities, env, options)
    if plan is not None:
        env, options, simulator_app, simulator_socket = plan
        port = simulator_socket.getsockname()[1]
        extra.append(
            (
                simulator_app,
                simulator_socket,
                f"Letta simulator http://127.0.0.1:{port}  (upstream of "
                f"{', '.join(sorted(set(options.upstreams) - set(upstreams)))})",
            )
        )
    simulated = {k: v for k, v in env.items() if before_simulator.get(k) != v}

    def reload_environ() -> Mapping[str, str]:
        fresh = dict(environ)
        if args.env_file:
            with contextlib.suppress(OSError):
                fresh = {**read_env_file(Path(args.env_file)), **fresh}
        return {**fresh, **simulated}

    try:
        runtime = compile_runtime(
            capabilities, env, options, precompiled=precompiled, policies=policies
        )
    except BindingError as exc:
        stderr.write(f"naftiko-runtime: error: {exc}\n{_way_out(capabilities)}")
        return EXIT_INVALID
    except StartupError as exc:
        stderr.write(f"naftiko-runtime: error: {exc}\n")
        return EXIT_INVALID
    del precompiled  # what it compiled is the runtime's now; what it did not take goes
    for source_map in positions:
        source_map.release()
    del positions
    configure_logging(runtime.redactor, stderr, args.log_format)
    if args.stdio:
        from naftiko_runtime.adapters.mcp.stdio import serve_stdio
        from naftiko_runtime.serving.process import background_servers

        return serve_stdio(
            runtime, stderr, background_servers(extra, options), options.grace_seconds
        )
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    try:
        sockets = bind_sockets(runtime, args.workers)
    except OSError as exc:
        stderr.write(f"naftiko-runtime: error: {exc}\n")
        return EXIT_INVALID
    reloader = Reloader(list(args.paths), reload_environ, options, runtime)
    status = serve(runtime, options, stderr, extra, sockets, reloader, args.watch)
    return EXIT_INVALID if status == 2 else status


def _way_out(capabilities: Sequence[Capability]) -> str:
    """What to do about missing secrets: where to put them, or how to run without them."""
    from naftiko_runtime.simulators import letta_namespaces

    lines = ["  set them in the environment, or in a KEY=value file: serve --env-file FILE"]
    if letta_namespaces(capabilities):
        lines.append(
            "  or, without credentials: serve --simulate auto (the bundled Letta simulator "
            "answers for api.letta.com)"
        )
    lines.append(
        "  or try the bundled capabilities first: naftiko-runtime demo (no credentials needed)"
    )
    return "".join(f"naftiko-runtime: hint: {line.strip()}\n" for line in lines)


def bundled_capabilities() -> Path:
    """The capabilities shipped with the package: in the wheel (`_capabilities`), or a
    checkout's `capabilities/` beside the package."""
    package = Path(__file__).resolve().parent
    checkout = package.parent
    for candidate in (package / "_capabilities", checkout / "capabilities"):
        if candidate.is_dir() and (candidate.name == "_capabilities" or _is_checkout(checkout)):
            return candidate
    raise UsageError("this installation has no bundled capabilities")


def _is_checkout(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file()


def _demo(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    """`serve` of the bundled capabilities against the bundled simulator, with what to try."""
    from naftiko_runtime.secrets.bindings import parse_mapping

    args.paths = [str(bundled_capabilities())]
    try:
        ports = {int(k): int(v) for k, v in parse_mapping(args.port, "--port").items()}
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    where = f"({args.paths[0]}), against the bundled Letta simulator"
    if args.stdio:  # stdout is the MCP client's: say it on stderr, with nothing to try
        stderr.write(f"naftiko-runtime demo: the bundled Letta capabilities {where}, over stdio\n")
        return _serve(args, stdout, stderr, environ)
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
    return _serve(args, stdout, stderr, environ)


_MCP_ADAPTER = re.compile(rb"""\btype["']?[ \t]*:[ \t]*["']?mcp\b""")  # YAML or JSON


def _serve_settings(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    upstreams: dict[str, str],
    ports: dict[int, int],
) -> tuple[dict[str, str], Any]:
    """The environment (with `--env-file`) and the ServeOptions the flags ask for."""
    from naftiko_runtime.secrets.bindings import read_env_file
    from naftiko_runtime.serving.runtime import ServeOptions
    from naftiko_runtime.upstream.base import Timeouts

    env = dict(environ)
    if args.env_file:
        try:
            env = {**read_env_file(Path(args.env_file)), **env}
        except OSError as exc:
            raise UsageError(f"--env-file {args.env_file}: {exc.strerror}") from None
    if args.mcp_sessions_per_client < 1 or args.mcp_session_idle <= 0:
        raise UsageError("--mcp-sessions-per-client must be at least 1, --mcp-session-idle above 0")
    if args.upstream_connections < 1:
        raise UsageError("--upstream-connections must be at least 1")
    if args.pool_wait < 0 or args.stream_idle_timeout <= 0:
        raise UsageError("--pool-wait must be 0 or more and --stream-idle-timeout above 0")
    control_host, control_port = _control_address(args.control)
    if args.http_client != "h1":
        from naftiko_runtime.extras import ExtraMissing, require

        try:
            require(args.http_client, f"--http-client {args.http_client}")
        except ExtraMissing as exc:
            raise UsageError(str(exc)) from None
    if args.drain_delay < 0:
        raise UsageError("--drain-delay must be 0 or more")
    if args.trace_sampling is not None and not 0 <= args.trace_sampling <= 1:
        raise UsageError("--trace-sampling must be between 0 and 1")
    if not args.max_file_size > 0:
        raise UsageError("--max-file-size must be above 0")
    options = ServeOptions(
        host=args.host,
        port_map=ports,
        upstreams=upstreams,
        timeouts=Timeouts(
            args.connect_timeout,
            args.timeout,
            int(args.max_upstream_body * 1024 * 1024),
            idle=args.stream_idle_timeout,
            pool=args.pool_wait,
            connections=args.upstream_connections,
        ),
        simulate=args.simulate,
        access_log=args.access_log,
        http_client=args.http_client,
        scripting=ScriptSettings(
            timeout_ms=args.script_timeout,
            memory_mb=args.script_memory,
            concurrency=args.script_concurrency,
        ),
        control_port=control_port,
        control_host=control_host,
        grace=args.grace,
        drain_delay=args.drain_delay,
        trace_sampling=args.trace_sampling,
        mcp_stateless=args.mcp_stateless or args.workers > 1,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        mcp_session_idle=args.mcp_session_idle,
        mcp_sessions_per_client=args.mcp_sessions_per_client,
        max_header_bytes=args.max_header_size * 1024,
        max_file_bytes=int(args.max_file_size * 1024 * 1024),
        policy_file=args.policies,
    )
    return env, options


def _warm_imports(files: Sequence[Path]) -> None:
    """While a large spec loads aside: import what serving it needs, the MCP SDK (about 0.5 s
    of the start-up, its 550 pydantic models) if a file exposes MCP (a guess from the text: a
    wrong one costs only memory, or the import later)."""
    import naftiko_runtime.serving.process
    import naftiko_runtime.serving.runtime
    import naftiko_runtime.simulators  # noqa: F401

    for path in files:
        with contextlib.suppress(OSError):
            if _MCP_ADAPTER.search(path.read_bytes()):
                import naftiko_runtime.adapters.mcp.build  # noqa: F401

                return


def _control_address(value: str | None) -> tuple[str, int | None]:
    """`--control 9191` or `--control 0.0.0.0:9191` (an IPv6 host in brackets)."""
    if value is None:
        return "127.0.0.1", None
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--control must be PORT or HOST:PORT, got {value!r}")
    return host, int(port)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr, os.environ)
    except KeyboardInterrupt:
        return 130
