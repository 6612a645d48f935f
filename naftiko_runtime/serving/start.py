"""`serve` once the model is loaded and valid: the simulator when wanted, the compile (a
missing secret said with the ways out), the logging, then MCP over stdio or every port on
sockets, with workers and reloads."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from naftiko_runtime.capability.source import SourceMap
from naftiko_runtime.errors import BindingError, StartupError, UsageError
from naftiko_runtime.model import Capability
from naftiko_runtime.observability.logs import configure_logging
from naftiko_runtime.secrets.bindings import read_env_file
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.options import Launch, ServeOptions
from naftiko_runtime.serving.precompiled import Precompiled
from naftiko_runtime.serving.process import serve
from naftiko_runtime.serving.reload import Reloader
from naftiko_runtime.serving.runtime import Runtime
from naftiko_runtime.serving.servers import ExtraApp, background_servers
from naftiko_runtime.serving.simulated import letta_namespaces, simulator_plan, simulator_wanted
from naftiko_runtime.serving.sockets import bind_sockets

if TYPE_CHECKING:
    from naftiko_runtime.policies.model import PolicySet


@dataclass
class Loaded:
    """What the load left for the start: the model and its positions (released once it is
    compiled), the environment and options, what was compiled as the model arrived."""

    capabilities: Sequence[Capability]
    positions: list[SourceMap]
    env: dict[str, str]
    options: ServeOptions
    precompiled: Precompiled | None
    policies: PolicySet | None


def precompiler(env: Mapping[str, str], options: ServeOptions) -> Precompiled | None:
    """A compiler for each capability as it arrives, unless a simulator will replace the
    environment and options (nothing compiled early would fit)."""
    return None if simulator_wanted(env, options) else Precompiled(env, options)


def start(loaded: Loaded, request: Launch, environ: Mapping[str, str], stderr: TextIO) -> int:
    """Compile and serve until stopped; the exit status (1: cannot be served, said on
    `stderr`)."""
    before = loaded.env
    extra: list[ExtraApp] = []
    plan = simulator_plan(loaded.capabilities, loaded.env, loaded.options)
    if plan is not None:
        loaded.env, options, simulator_app, simulator_socket = plan
        port = simulator_socket.getsockname()[1]
        simulated = sorted(set(options.upstreams) - set(loaded.options.upstreams))
        extra.append(
            (
                simulator_app,
                simulator_socket,
                f"Letta simulator http://127.0.0.1:{port}  (upstream of {', '.join(simulated)})",
            )
        )
        loaded.options = options
    options = loaded.options
    runtime = _compiled(loaded, stderr)
    if runtime is None:
        return 1
    configure_logging(runtime.redactor, stderr, request.log_format)
    if request.stdio:
        from naftiko_runtime.adapters.mcp.stdio import serve_stdio  # the MCP SDK: only then

        return serve_stdio(
            runtime, stderr, background_servers(extra, options), options.grace_seconds
        )
    if request.workers < 1:
        raise UsageError("--workers must be at least 1")
    try:
        sockets = bind_sockets(runtime, request.workers)
    except OSError as exc:
        stderr.write(f"naftiko-runtime: error: {exc}\n")
        return 1
    simulated_env = {k: v for k, v in loaded.env.items() if before.get(k) != v}
    reload_environ = _reload_environ(request, environ, simulated_env)
    reloader = Reloader(list(request.paths), reload_environ, options, runtime)
    status = serve(runtime, options, stderr, extra, sockets, reloader, request.watch)
    return 1 if status == 2 else status


def _compiled(loaded: Loaded, stderr: TextIO) -> Runtime | None:
    """The runtime, or None with the error said. Once compiled, what was compiled early is
    the runtime's, what it did not take goes, and the positions are released: nothing asks
    where a thing was written after that."""
    try:
        runtime = compile_runtime(
            loaded.capabilities,
            loaded.env,
            loaded.options,
            precompiled=loaded.precompiled,
            policies=loaded.policies,
        )
    except BindingError as exc:
        stderr.write(f"naftiko-runtime: error: {exc}\n{way_out(loaded.capabilities)}")
        return None
    except StartupError as exc:
        stderr.write(f"naftiko-runtime: error: {exc}\n")
        return None
    loaded.precompiled = None
    for source_map in loaded.positions:
        source_map.release()
    loaded.positions = []
    return runtime


def _reload_environ(
    request: Launch, environ: Mapping[str, str], simulated: Mapping[str, str]
) -> Callable[[], Mapping[str, str]]:
    """The environment a reload binds with: read again (`--env-file` too), with what the
    simulator set kept."""

    def reload_environ() -> Mapping[str, str]:
        fresh = dict(environ)
        if request.env_file:
            with contextlib.suppress(OSError):
                fresh = {**read_env_file(Path(request.env_file)), **fresh}
        return {**fresh, **simulated}

    return reload_environ


def way_out(capabilities: Sequence[Capability]) -> str:
    """What to do about missing secrets: where to put them, or how to run without them."""
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
