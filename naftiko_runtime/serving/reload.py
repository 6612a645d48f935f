"""Live reload: the specs read, checked and compiled again, and swapped in only when all of
it is valid; on the event loop, one reload at a time, prepared off the loop."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.errors import BindingError, StartupError, UsageError
from naftiko_runtime.model import Capability
from naftiko_runtime.report import render_text
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.memory import ReloadFreezer
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.runtime import Runtime

if TYPE_CHECKING:
    from naftiko_runtime.policies.model import PolicySet

log = logging.getLogger("naftiko_runtime")

KEEP = "still serving the previous configuration"


@dataclass
class Reloader:
    """Re-validate and recompile the specs; swap them in only when everything is valid.

    A bad reload (invalid spec, missing secret, changed ports) is logged with the same
    diagnostics as `validate` and the previous configuration keeps serving.
    """

    paths: Sequence[str]
    environ: Callable[[], Mapping[str, str]]
    options: ServeOptions
    runtime: Runtime

    def _record(self, ok: bool, diagnostics: list[str]) -> None:
        if self.runtime.state is not None:
            self.runtime.state.reloaded(ok, diagnostics)

    def reload(self) -> bool:
        """Load, check and compile, then swap in (all on the calling thread)."""
        prepared = self.prepare()
        return prepared is not None and self.apply(*prepared)

    def prepare(self) -> tuple[Runtime, list[str]] | None:
        """Load, check and compile the specs again: safe to run in a worker thread, so a
        large reload never stalls requests (only `apply` touches what is serving)."""
        try:
            result = load_paths(self.paths)
        except UsageError as exc:
            log.error("reload rejected: %s; %s", exc, KEEP)
            return None
        if not result.ok:
            report = render_text(result.diagnostics, result.files, result.documents)
            log.error("reload rejected (%d errors); %s:\n%s", len(result.errors), KEEP, report)
            self._record(False, report.splitlines())
            return None
        go_on, policies = self._policies(result.capabilities)
        if not go_on:
            return None
        try:
            new = compile_runtime(
                result.capabilities,
                self.environ(),
                self.options,
                upstream=self.runtime.upstream,
                state=self.runtime.state,
                tracing=self.runtime.tracing,
                policies=policies,
            )
        except (BindingError, StartupError) as exc:
            log.error("reload rejected: %s; %s", exc, KEEP)
            self._record(False, [str(exc)])
            return None
        for source_map in result.source_maps():
            source_map.release()
        return new, list(result.files)

    def _policies(self, capabilities: Sequence[Capability]) -> tuple[bool, PolicySet | None]:
        """(whether the reload may go on, the policy file read again against the new
        capabilities); a bad policy file rejects the reload like a bad spec."""
        if self.options.policy_file is None:
            return True, None
        from naftiko_runtime.policies.load import load_policies  # only with `--policies`

        policies, problems, doc = load_policies(Path(self.options.policy_file), capabilities)
        if policies is None:
            report = render_text(problems, [self.options.policy_file], [doc] if doc else [])
            log.error(
                "reload rejected: the policy file is invalid; still serving the previous "
                "configuration:\n%s",
                report,
            )
            self._record(False, report.splitlines())
            return False, None
        return True, policies

    def apply(self, new: Runtime, files: Sequence[str]) -> bool:
        """Swap a prepared configuration in (on the event loop: one step, no await)."""
        old_ports = (sorted(self.runtime.rest_apps), sorted(self.runtime.mcp_servers))
        new_ports = (sorted(new.rest_apps), sorted(new.mcp_servers))
        if old_ports != new_ports:
            log.error(
                "reload rejected: ports would change from %s to %s (restart for that); %s",
                old_ports,
                new_ports,
                KEEP,
            )
            return False
        for port, app in new.rest_apps.items():
            self.runtime.rest_apps[port].current = app.current
        self.runtime.rest_ops = new.rest_ops
        for port, server in new.mcp_servers.items():
            self.runtime.mcp_servers[port].server_set.replace_from(server.server_set)
            self.runtime.mcp_servers[port].guard = server.guard
        engine = self.runtime.upstream.policies
        if new.policies is not None and engine is not None:
            engine.apply(new.policies)
            self.runtime.policies = new.policies
        self.runtime.redactor.add(new.redactor.secrets, credential=False)
        self.runtime.redactor.add(new.redactor.bodies.secrets)
        self._record(True, [])
        operations = sum(len(ops) for ops in new.rest_ops.values())
        tools = sum(server.tool_count for server in self.runtime.mcp_servers.values())
        log.info(
            "reloaded %s: %d REST operations, %d MCP tools",
            ", ".join(files),
            operations,
            tools,
        )
        return True


class Reloads:
    """A serving process's reloads (SIGHUP, `--watch`): prepared off the event loop, swapped
    in at once; `applied` is called after each one that was (the workers reload then, only a
    configuration this process accepted). A request during a reload runs one more afterwards,
    so the last edit always wins."""

    def __init__(self, reloader: Reloader, applied: Callable[[], None]) -> None:
        self.reloader, self.applied = reloader, applied
        self._running: asyncio.Future[None] | None = None
        self._again = False
        self._freeze = ReloadFreezer()

    def __call__(self) -> None:
        if self._running is not None and not self._running.done():
            self._again = True
            return
        self._running = asyncio.ensure_future(self._off_loop())

    async def _off_loop(self) -> None:
        while True:
            self._again = False
            # A collection while the new configuration is built would scan all of it with
            # the GIL held (a 100+ ms stall at 5,000 operations); instead what the reload
            # made is frozen like the start-up objects were, before collection resumes.
            gc.disable()
            applied = False
            try:
                prepared = await asyncio.to_thread(self.reloader.prepare)  # validate, compile
                applied = prepared is not None and self.reloader.apply(*prepared)
                prepared = None
            finally:
                if applied:
                    self._freeze()
                gc.enable()  # a rejected reload's garbage is left to the collector
            if applied:
                self.applied()
            if not self._again:
                return
