"""`serve` up to a loaded, valid model: the environment (`--env-file`) and options, the
load, the policy file; then `start` compiles and serves it.

A large spec loads in a forked loader (`load_detached`). Meanwhile this process imports what
compiles and serves it (`warm_up`: `serving.start` and what it imports, ~0.15 s, and the MCP
SDK, ~0.5 s, when a file exposes MCP) and compiles each capability as it arrives. That is
why this module imports only what the load needs at its top, and `serving.start` where it is
used: its import then overlaps the load instead of coming before it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from naftiko_runtime.capability.load import LoadResult, load_detached, load_paths
from naftiko_runtime.errors import UsageError
from naftiko_runtime.model import Capability
from naftiko_runtime.report import render_text
from naftiko_runtime.secrets.bindings import read_env_file
from naftiko_runtime.serving.options import Launch, ServeOptions

if TYPE_CHECKING:
    from naftiko_runtime.serving.precompiled import Precompiled

_MCP_ADAPTER = re.compile(rb"""\btype["']?[ \t]*:[ \t]*["']?mcp\b""")  # YAML or JSON


def launch(request: Launch, environ: Mapping[str, str], stderr: TextIO) -> int:
    """Serve as asked until stopped; the exit status (1: the specs cannot be served, said on
    `stderr`). A usage error is raised (UsageError)."""
    made: list[tuple[dict[str, str], ServeOptions, Precompiled | None]] = []

    def prepare(files: Sequence[Path]) -> None:
        """While a large spec loads aside: the imports, the settings, and a compiler for each
        capability as it arrives (a usage error is raised again below)."""
        warm_up(files)
        from naftiko_runtime.serving.start import precompiler

        env, options = settings(request, environ)
        made.append((env, options, precompiler(env, options)))

    def compile_early(capability: Capability) -> None:
        if made and made[0][2] is not None:
            made[0][2].add(capability)

    result = load_valid(request.paths, stderr, prepare, detach=True, each=compile_early)
    if result is None:
        return 1
    from naftiko_runtime.serving.start import Loaded, start  # see the module

    # only the model is served: the documents (data, source maps, lines) go now, not at exit
    capabilities = result.capabilities
    policies = None
    if request.policies is not None:
        policies = load_policies(request.policies, capabilities, stderr)
        if policies is None:
            return 1
    positions = result.source_maps()  # released once compiled: nothing asks after that
    del result
    # made while the spec loaded, with operations compiled as it arrived; else made now
    env, options, precompiled = made.pop() if made else (*settings(request, environ), None)
    loaded = Loaded(capabilities, positions, env, options, precompiled, policies)
    del positions, precompiled  # the start releases them once compiled
    return start(loaded, request, environ, stderr)


def settings(request: Launch, environ: Mapping[str, str]) -> tuple[dict[str, str], ServeOptions]:
    """The environment (with `--env-file` under it) and the ServeOptions the flags ask for."""
    env = dict(environ)
    if request.env_file:
        try:
            env = {**read_env_file(Path(request.env_file)), **env}
        except OSError as exc:
            raise UsageError(f"--env-file {request.env_file}: {exc.strerror}") from None
    return env, request.options()


def warm_up(files: Sequence[Path]) -> None:
    """While a large spec loads aside: import what serving it needs, the MCP SDK (about 0.5 s
    of the start-up, its 550 pydantic models) if a file exposes MCP (a guess from the text: a
    wrong one costs only memory, or the import later)."""
    import naftiko_runtime.serving.start  # noqa: F401

    for path in files:
        with contextlib.suppress(OSError):
            if _MCP_ADAPTER.search(path.read_bytes()):
                import naftiko_runtime.adapters.mcp.build  # noqa: F401

                return


def load_valid(
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


def load_policies(path: str, capabilities: Sequence[Capability], stderr: TextIO) -> Any:
    """`serve --policies`: the policy set, or None (its problems printed) when invalid."""
    from naftiko_runtime.policies.load import load_policies  # only with `--policies`

    policies, problems, doc = load_policies(Path(path), capabilities)
    if problems:
        stderr.write(render_text(problems, [path], [doc] if doc is not None else []))
    return policies
