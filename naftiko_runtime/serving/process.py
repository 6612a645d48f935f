"""The process: worker processes, signals, drain, and the exit status.

Workers are forked with `multiprocessing` before any thread or event loop exists; each one
watches its parent, and the parent watches every worker and every server it runs. One that
dies while the instance is serving stops the whole instance with exit status 1, so whatever
supervises it (Kubernetes, systemd, a container runtime) starts a fresh one: a fork of a
process that already runs threads (the HTTP client's, the reload's) cannot be made safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Sequence
from multiprocessing.process import BaseProcess
from typing import Any, TextIO

import watchfiles

from naftiko_runtime.serving.memory import freeze_started
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.reload import Reloader, Reloads
from naftiko_runtime.serving.runtime import Runtime
from naftiko_runtime.serving.servers import ExtraApp, ServedApp, served_apps
from naftiko_runtime.serving.sockets import bind_sockets

log = logging.getLogger("naftiko_runtime")


def serve(
    runtime: Runtime,
    options: ServeOptions,
    stderr: TextIO,
    extra: Sequence[ExtraApp],
    sockets: list[dict[int, socket.socket]],
    reloader: Reloader | None = None,
    watch: bool = False,
) -> int:
    """Serve until SIGINT/SIGTERM with one process per socket set; the exit status.

    Worker 0 is this process (it also runs the simulator and the spec watcher); the others are
    forked here, before any thread or event loop exists, and serve every REST, MCP and control
    port on sockets of their own. Each process keeps only its own sockets open.
    """
    context = multiprocessing.get_context("fork")
    children: list[BaseProcess] = []
    for index in range(1, len(sockets)):
        child = context.Process(
            target=_worker,
            args=(runtime, options, stderr, sockets, index, reloader),
            name=f"naftiko-runtime-worker-{index}",
        )
        child.start()
        children.append(child)
    for owned in sockets[1:]:
        for sock in owned.values():
            sock.close()
    try:
        return _run(
            serve_runtime(
                runtime,
                options,
                stderr,
                extra,
                sockets[0],
                children=children,
                reloader=reloader,
                watch=watch,
            )
        )
    except OSError as exc:
        stderr.write(f"naftiko-runtime: error: {exc}\n")
        signal_workers(children, signal.SIGTERM)
        return 2


def _worker(
    runtime: Runtime,
    options: ServeOptions,
    stderr: TextIO,
    sockets: list[dict[int, socket.socket]],
    index: int,
    reloader: Reloader | None,
) -> None:
    """A forked worker: its own sockets, and a watch on its parent."""
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # the parent's "drain", until the loop runs
    for n, owned in enumerate(sockets):
        if n != index:
            for sock in owned.values():
                sock.close()
    parent = multiprocessing.parent_process()
    code = _run(
        serve_runtime(
            runtime,
            options,
            stderr,
            sockets=sockets[index],
            worker=index,
            reloader=reloader,
            parent_sentinel=parent.sentinel if parent is not None else None,
        )
    )
    sys.exit(code)


def _run(coroutine: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop

        status: int = uvloop.run(coroutine)
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        status = asyncio.run(coroutine)
    return status


def signal_workers(children: Sequence[BaseProcess], signum: int) -> None:
    """Send `signum` to the worker processes that are still there."""
    for child in children:
        if child.pid is not None and child.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signum)


async def watch_specs(paths: Sequence[str], on_change: Callable[[], None]) -> None:
    """Call `on_change` whenever a spec file under `paths` changes (`--watch`)."""
    async for _ in watchfiles.awatch(*paths):
        on_change()


async def serve_runtime(
    runtime: Runtime,
    options: ServeOptions,
    stderr: TextIO,
    extra: Sequence[ExtraApp] = (),
    sockets: dict[int, socket.socket] | None = None,
    worker: int = 0,
    children: Sequence[BaseProcess] = (),
    reloader: Reloader | None = None,
    watch: bool = False,
    parent_sentinel: int | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM; 0 after a requested stop, 1 when a server, a worker or
    (for a worker) the parent died. Every port is bound before anything starts serving."""
    if sockets is None:
        sockets = bind_sockets(runtime)[0]
    served = served_apps(runtime, options, sockets, extra, len(children) + 1)
    if runtime.state is not None:
        _meter_sessions(runtime)
    instance = _Instance(runtime, options, served, children, parent_sentinel)
    instance.watch_signals_and_peers()
    reloads = None
    if reloader is not None:
        reloads = Reloads(reloader, lambda: signal_workers(children, signal.SIGHUP))
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reloads)
    watched = [*reloader.paths] if reloader is not None else []
    if options.policy_file is not None:  # `--policies`: reloaded with the specs
        watched.append(options.policy_file)
    watching = watched if watch and reloads is not None and worker == 0 else None
    return await instance.run(stderr, worker, reloads, watching)


def _meter_sessions(runtime: Runtime) -> None:
    """MCP session counts on the control plane's metrics (read at scrape time)."""
    assert runtime.state is not None
    metrics = runtime.state.metrics
    for port, server in runtime.mcp_servers.items():
        bound = server.sessions
        if bound is None:
            continue
        metrics.mcp_sessions.labels(str(port)).set_function(bound.open_sessions)
        bound.on_refuse = metrics.mcp_sessions_refused.labels(str(port)).inc


class _Instance:
    """One process's servers from start to exit: signals and drain, a worker, the parent or
    a server that dies, and the exit status."""

    def __init__(
        self,
        runtime: Runtime,
        options: ServeOptions,
        served: list[ServedApp],
        children: Sequence[BaseProcess],
        parent_sentinel: int | None,
    ) -> None:
        self.runtime, self.options, self.served = runtime, options, served
        self.children, self.parent_sentinel = children, parent_sentinel
        self.loop = asyncio.get_running_loop()
        self.stopping = False
        self.status = 0
        self.draining: asyncio.TimerHandle | None = None

    def watch_signals_and_peers(self) -> None:
        """SIGINT stops at once (at a terminal), SIGTERM after `--drain-delay`, SIGUSR1 is a
        worker's drain; a worker's exit, or its parent's, stops the instance."""
        loop = self.loop
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, self.stop)
            loop.add_signal_handler(signal.SIGTERM, self.stop, self.options.drain_delay)
            if self.parent_sentinel is not None:
                loop.add_signal_handler(signal.SIGUSR1, self._drain_from_parent)
        for child in self.children:
            loop.add_reader(child.sentinel, self._child_exited, child)
        if self.parent_sentinel is not None:
            loop.add_reader(self.parent_sentinel, self._parent_gone)

    def close(self) -> None:
        """Stop accepting; uvicorn then gives what is in flight `--grace` seconds."""
        for served in self.served:
            served.server.should_exit = True

    def stop(self, delay: float = 0.0) -> None:
        """Drain: `/health/ready` turns 503 at once; after `delay` seconds (`--drain-delay`,
        time for balancers and endpoint lists to notice) no new connection is accepted. A
        second signal while waiting closes at once."""
        if self.runtime.state is not None:
            self.runtime.state.draining = True
        if self.stopping:
            if self.draining is not None:
                self.draining.cancel()
                self.draining = None
                signal_workers(self.children, signal.SIGINT)
                self.close()
            return
        self.stopping = True
        # SIGUSR1 asks a worker to drain: it may have had the same SIGTERM already (systemd
        # and `kill -TERM -PGID` signal the whole group), which must not count as a second one
        signal_workers(self.children, signal.SIGUSR1 if delay > 0 else signal.SIGINT)
        if delay > 0:
            log.info("draining: readiness is 503; closing in %.1f s", delay)
            self.draining = self.loop.call_later(delay, self.close)
        else:
            self.close()

    def fail(self, why: str) -> None:
        """Something this instance needs is gone: stop all of it, exit 1 (see the module)."""
        if self.stopping:
            return
        log.error("%s; stopping this instance so its supervisor can start a fresh one", why)
        self.status = 1
        self.stop()

    def _drain_from_parent(self) -> None:
        if not self.stopping:
            self.stop(self.options.drain_delay)

    def _child_exited(self, child: BaseProcess) -> None:
        self.loop.remove_reader(child.sentinel)
        child.join(1)  # gone already (its sentinel closed): this only reaps it
        self.fail(f"worker {child.name} (pid {child.pid}) exited with status {child.exitcode}")

    def _parent_gone(self) -> None:
        assert self.parent_sentinel is not None
        self.loop.remove_reader(self.parent_sentinel)  # at EOF it stays readable: once is enough
        self.fail("the parent process is gone")

    def _server_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("a server failed: %s", self.runtime.redactor(repr(task.exception())))
        self.fail("a server stopped while the others were serving")

    async def run(
        self, stderr: TextIO, worker: int, reloads: Reloads | None, watched: list[str] | None
    ) -> int:
        """Serve until stopped; once every server listens, worker 0 says what is served;
        reload when a file of `watched` changes."""
        tasks = [
            asyncio.create_task(served.server.serve(sockets=served.sockets))
            for served in self.served
        ]
        for task in tasks:
            task.add_done_callback(self._server_ended)
        watcher = None
        if reloads is not None and watched is not None:
            watcher = asyncio.create_task(watch_specs(watched, reloads))
        ready: asyncio.Future[Any] = asyncio.gather(
            *(served.server.ready.wait() for served in self.served)
        )
        waiting: list[asyncio.Future[Any]] = [ready, *tasks]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if ready.done() and not self.stopping:
            if self.runtime.state is not None:
                self.runtime.state.serving = True  # /health/ready turns 200
            freeze_started()
            if worker == 0:
                for served in self.served:
                    stderr.write(f"naftiko-runtime: serving {served.line}\n")
                stderr.flush()
        else:
            ready.cancel()
            gc.enable()  # stopped before ready: still serving (drain), with the collector on
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await self._shut_down(watcher)
        return self.status

    async def _shut_down(self, watcher: asyncio.Task[None] | None) -> None:
        """After the servers: the watcher, the upstream clients, the traces still batched,
        and the workers (killed when they outlast their grace)."""
        if watcher is not None:
            watcher.cancel()
        await self.runtime.upstream.close()
        if self.runtime.tracing is not None:  # export what is still batched
            await asyncio.to_thread(self.runtime.tracing.shutdown)
        for child in self.children:
            child.join(self.options.grace_seconds + 5)
            if child.is_alive():
                child.kill()
                child.join(5)
