"""`serve`: the flags, read into what `serving.launch` starts (and `demo` takes them too)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

from naftiko_runtime.engine.scripting.base import ScriptSettings
from naftiko_runtime.errors import UsageError
from naftiko_runtime.extras import ExtraMissing, require
from naftiko_runtime.secrets.bindings import parse_mapping
from naftiko_runtime.serving.launch import launch
from naftiko_runtime.serving.options import Launch, ServeOptions
from naftiko_runtime.upstream.base import Timeouts

UPSTREAM_ENV = "NAFTIKO_UPSTREAM"  # the environment twin of --upstream
KB, MB = 1024, 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", help="files or directories")
    add_serve_flags(parser)


def add_serve_flags(parser: argparse.ArgumentParser, simulate: str | None = None) -> None:
    """The flags of `serve`, which `demo` takes too (with its own `--simulate` default);
    their defaults are ServeOptions' and Launch's."""
    defaults, launched = ServeOptions(), Launch(paths=())
    scripts = defaults.scripting
    parser.add_argument(
        "--env-file", metavar="FILE", help="KEY=value file read before the environment"
    )
    parser.add_argument(
        "--policies",
        metavar="FILE",
        help="traffic policies (YAML): upstream timeouts, retries and circuit breakers, "
        "rate limits per route or tool and per caller; checked like a spec, read again on "
        "every reload",
    )
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="NAMESPACE=URL",
        help="send a consumed namespace to another base URL ('*' for all); "
        f"also ${UPSTREAM_ENV}=ns=url,ns2=url2",
    )
    parser.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="SPEC_PORT=PORT",
        help="listen on PORT where the spec says SPEC_PORT",
    )
    parser.add_argument("--host", help="listen address (default: the spec's, else 127.0.0.1)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.timeouts.total,
        metavar="S",
        help="seconds an upstream exchange may take until its body is read (504 after); "
        "a stream that has started is bounded by --stream-idle-timeout instead",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=defaults.timeouts.connect,
        metavar="S",
        help="seconds to open a connection to an upstream (default %(default)s)",
    )
    parser.add_argument(
        "--stream-idle-timeout",
        type=float,
        default=defaults.timeouts.idle,
        metavar="S",
        help="seconds an upstream stream may stay silent before it is cut (with an error "
        "event; default %(default)s)",
    )
    parser.add_argument(
        "--upstream-connections",
        type=int,
        default=defaults.timeouts.connections,
        metavar="N",
        help="connections each consumed namespace may hold at once (default %(default)s)",
    )
    parser.add_argument(
        "--pool-wait",
        type=float,
        default=defaults.timeouts.pool,
        metavar="S",
        help="seconds a request waits for one of them before a 503 (default %(default)s)",
    )
    parser.add_argument(
        "--max-upstream-body",
        type=float,
        default=defaults.timeouts.max_body / MB,
        metavar="MB",
        help="largest upstream body read in full, after decompression (502 past it; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--script-timeout",
        type=int,
        default=scripts.timeout_ms,
        metavar="MS",
        help="milliseconds a script step may run (default %(default)s)",
    )
    parser.add_argument(
        "--script-memory",
        type=int,
        default=scripts.memory_mb,
        metavar="MB",
        help="memory a script step may use, its engine's heap and array buffers alike "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--script-concurrency",
        type=int,
        default=scripts.concurrency,
        metavar="N",
        help=f"script steps of one language running at once; {scripts.queue} more wait up "
        f"to {scripts.queue_wait_ms} ms, the rest get 503 script_busy (default %(default)s)",
    )
    parser.add_argument(
        "--simulate",
        choices=("never", "auto", "always"),
        default=simulate or defaults.simulate,
        help="run the bundled Letta simulator as the upstream of Letta namespaces "
        "(auto: when LETTA_API_KEY is unset and no --upstream is given)",
    )
    parser.add_argument(
        "--stdio",
        action="store_true",
        help="serve the MCP adapter over stdin/stdout (for MCP client configs)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="one line per request: request id (echoed as X-Request-Id), method, route "
        "template, status, duration, upstream time; never a query string or header",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=defaults.header_timeout,
        metavar="S",
        help="seconds a client may take to send a request's headers (408 JSON after; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=launched.log_format,
        help="log lines as text or as one JSON object per line (default %(default)s)",
    )
    parser.add_argument(
        "--mcp-session-idle",
        type=float,
        default=defaults.mcp_session_idle,
        metavar="S",
        help="seconds a handshake-era MCP session may stay idle before it is closed "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--mcp-sessions-per-client",
        type=int,
        default=defaults.mcp_sessions_per_client,
        metavar="N",
        help="open MCP sessions one client address may hold (429 past it; default %(default)s)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=defaults.body_timeout,
        metavar="S",
        help="seconds a client may take to send a request's body after its headers (408 "
        "JSON after; default %(default)s)",
    )
    parser.add_argument(
        "--max-header-size",
        type=int,
        default=defaults.max_header_bytes // KB,
        metavar="KB",
        help="largest request head a client may send (431 JSON above; default %(default)s)",
    )
    parser.add_argument(
        "--max-file-size",
        type=float,
        default=defaults.max_file_bytes / MB,
        metavar="MB",
        help="largest file served from a folder (an MCP `location` resource or prompt, a "
        "skill's file) and largest skill download, in total (MCP error / 413 JSON above; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="after SIGTERM, how long requests in flight may take to finish "
        "(default: --timeout, at least 5)",
    )
    parser.add_argument(
        "--drain-delay",
        type=float,
        default=defaults.drain_delay,
        metavar="S",
        help="after SIGTERM, keep accepting for S seconds with /health/ready at 503, so "
        "balancers stop sending before the listeners close (default %(default)s; SIGINT "
        "never waits)",
    )
    parser.add_argument(
        "--mcp-stateless",
        action="store_true",
        help="serve handshake-era MCP clients without sessions, so any worker or instance "
        "answers any request (implied by --workers above 1)",
    )
    parser.add_argument(
        "--control",
        metavar="[HOST:]PORT",
        help="when no spec declares a control adapter, serve one on HOST:PORT (health, "
        "status, metrics; HOST defaults to 127.0.0.1: give 0.0.0.0 for a container's probes)",
    )
    parser.add_argument(
        "--trace-sampling",
        type=float,
        metavar="RATIO",
        help="share of requests traced (0 to 1; 0 turns tracing off entirely); default: the "
        "control adapter's traces.sampling, 1.0 with --control",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="reload when a spec changes (SIGHUP always reloads); a bad reload "
        "keeps the previous configuration serving",
    )
    parser.add_argument(
        "--http-client",
        choices=("h1", "aiohttp", "pyreqwest"),
        default=defaults.http_client,
        help="upstream HTTP client (h1: HTTP/1.1 on httptools, the least CPU per call in "
        "bench/run.py; aiohttp; pyreqwest does its I/O on a thread of its own)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=launched.workers,
        metavar="N",
        help="processes serving every port (the kernel spreads connections over them; "
        "handshake-era MCP then runs without sessions, as with --mcp-stateless)",
    )


def serve(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    try:
        upstreams = parse_mapping([environ.get(UPSTREAM_ENV, ""), *args.upstream], "--upstream")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    ports = port_map(args)
    request = Launch(
        paths=list(args.paths),
        options=lambda: serve_options(args, upstreams, ports),
        env_file=args.env_file,
        policies=args.policies,
        log_format=args.log_format,
        stdio=args.stdio,
        workers=args.workers,
        watch=args.watch,
    )
    return launch(request, environ, stderr)


def port_map(args: argparse.Namespace) -> dict[int, int]:
    """`--port SPEC_PORT=PORT`, each."""
    try:
        return {int(k): int(v) for k, v in parse_mapping(args.port, "--port").items()}
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def serve_options(
    args: argparse.Namespace, upstreams: dict[str, str], ports: dict[int, int]
) -> ServeOptions:
    """The ServeOptions the flags ask for (raises UsageError for a value out of bounds)."""
    if args.mcp_sessions_per_client < 1 or args.mcp_session_idle <= 0:
        raise UsageError("--mcp-sessions-per-client must be at least 1, --mcp-session-idle above 0")
    if args.upstream_connections < 1:
        raise UsageError("--upstream-connections must be at least 1")
    if args.pool_wait < 0 or args.stream_idle_timeout <= 0:
        raise UsageError("--pool-wait must be 0 or more and --stream-idle-timeout above 0")
    control_host, control_port = _control_address(args.control)
    if args.http_client != "h1":
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
    return ServeOptions(
        host=args.host,
        port_map=ports,
        upstreams=upstreams,
        timeouts=Timeouts(
            args.connect_timeout,
            args.timeout,
            int(args.max_upstream_body * MB),
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
        max_header_bytes=args.max_header_size * KB,
        max_file_bytes=int(args.max_file_size * MB),
        policy_file=args.policies,
    )


def _control_address(value: str | None) -> tuple[str, int | None]:
    """`--control 9191` or `--control 0.0.0.0:9191` (an IPv6 host in brackets)."""
    if value is None:
        return "127.0.0.1", None
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--control must be PORT or HOST:PORT, got {value!r}")
    return host, int(port)
