"""The process: sockets, uvicorn servers, worker processes and signals.

Workers are forked with `multiprocessing` before any thread or event loop exists; each one
watches its parent, and the parent watches every worker and every server it runs. One that
dies while the instance is serving stops the whole instance with exit status 1, so whatever
supervises it (Kubernetes, systemd, a container runtime) starts a fresh one: a fork of a
process that already runs threads (the HTTP client's, the reload's) cannot be made safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gc
import logging
import math
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, TextIO

import uvicorn

from naftiko_runtime.adapters.control import ControlApp
from naftiko_runtime.adapters.skill import SkillApp
from naftiko_runtime.serving.runtime import Reloader, Runtime, ServeOptions

if TYPE_CHECKING:
    pass

RELOADS_PER_COLLECTION = 10  # see freeze_reloaded in serve_runtime

log = logging.getLogger("naftiko_runtime")


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to hand back this way
        return None
    return trim


def give_back_memory() -> None:
    """Return the C heap's free pages to the system (glibc's `malloc_trim`). Loading a large
    spec frees tens of MB that glibc would otherwise keep resident for good (5,000 operations:
    about 20 MB of the process's RSS)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process (several share a loop)
    and says when it listens, so the process waits on an event instead of polling."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self.ready.set()


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


def _logged(
    app: Any, adapter: str, route_of: Callable[[str, str], str] | None, options: ServeOptions
) -> Any:
    """`app` with an access line per request when `--access-log` asks for them."""
    if not options.access_log:
        return app
    from naftiko_runtime.observability.access import AccessLog

    return AccessLog(app, adapter, route_of)


def _uvicorn_config(app: Any, options: ServeOptions) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        loop="uvloop" if _has("uvloop") else "asyncio",
        http=_http_protocol(options),
        h11_max_incomplete_event_size=options.max_header_bytes,
        lifespan="on",
        interface="asgi3",  # auto-detection mistakes bound coroutine methods for ASGI2
        access_log=False,  # the runtime writes its own access lines (observability.access)
        proxy_headers=False,
        log_config=None,  # uvicorn's records go to the one redacting root handler
        log_level=None,
        timeout_graceful_shutdown=max(1, math.ceil(options.grace_seconds)),
    )


def _http_protocol(options: ServeOptions) -> Any:
    """httptools with header time and size bounds when it is installed, else h11."""
    if not _has("httptools"):
        return "h11"
    from naftiko_runtime.adapters.http_protocol import bounded_protocol

    return bounded_protocol(options.header_timeout, options.max_header_bytes, options.body_timeout)


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def background_servers(
    extra: Sequence[tuple[Any, socket.socket, str]], options: ServeOptions
) -> list[tuple[_Server, list[socket.socket]]]:
    """uvicorn servers for extra apps (the simulator) run beside another transport."""
    return [(_Server(_uvicorn_config(app, options)), [sock]) for app, sock, _ in extra]


def signal_workers(children: Sequence[BaseProcess], signum: int) -> None:
    """Send `signum` to the worker processes that are still there."""
    for child in children:
        if child.pid is not None and child.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signum)


async def watch_specs(paths: Sequence[str], on_change: Callable[[], None]) -> None:
    """Call `on_change` whenever a spec file under `paths` changes (`--watch`)."""
    import watchfiles

    async for _ in watchfiles.awatch(*paths):
        on_change()


def bind_sockets(runtime: Runtime, workers: int = 1) -> list[dict[int, socket.socket]]:
    """One listening socket per REST and MCP port per worker, all bound before anything
    serves.

    Several workers each get their own SO_REUSEPORT socket, so the kernel spreads connections
    over them. A plain bind first proves the port is free: SO_REUSEPORT alone would let us
    share a port silently with another process.
    """
    bound: list[dict[int, socket.socket]] = [{} for _ in range(workers)]
    try:
        for port in [*runtime.rest_apps, *runtime.mcp_servers]:
            host = runtime.hosts[port]
            if workers == 1:
                bound[0][port] = bind(host, port)
                continue
            bind(host, port).close()
            for sockets in bound:
                sockets[port] = bind(host, port, reuse_port=True)
    except OSError:
        for sockets in bound:
            for sock in sockets.values():
                sock.close()
        raise
    return bound


def serve(
    runtime: Runtime,
    options: ServeOptions,
    stderr: TextIO,
    extra: Sequence[tuple[Any, socket.socket, str]],
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


async def serve_runtime(
    runtime: Runtime,
    options: ServeOptions,
    stderr: TextIO,
    extra: Sequence[tuple[Any, socket.socket, str]] = (),
    sockets: dict[int, socket.socket] | None = None,
    worker: int = 0,
    children: Sequence[BaseProcess] = (),
    reloader: Reloader | None = None,
    watch: bool = False,
    parent_sentinel: int | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM; 0 after a requested stop, 1 when a server, a worker or
    (for a worker) the parent died. Every port is bound before anything starts serving."""
    servers: list[tuple[_Server, list[socket.socket]]] = []
    listening: list[str] = []
    try:
        if sockets is None:
            sockets = bind_sockets(runtime)[0]
        workers = f", {len(children) + 1} workers" if children else ""
        for port, app in runtime.rest_apps.items():
            served = _logged(app, app.kind, app.route_of, options)
            servers.append((_Server(_uvicorn_config(served, options)), [sockets[port]]))
            if isinstance(app.current, SkillApp):
                count = len(app.current.skills)
                listening.append(
                    f"SKILL http://{runtime.hosts[port]}:{port}/skills  ({count} skills{workers})"
                )
                continue
            if isinstance(app.current, ControlApp):
                listening.append(f"CONTROL http://{runtime.hosts[port]}:{port}/health/ready")
                continue
            count = len(runtime.rest_ops.get(port, []))
            listening.append(
                f"REST  http://{runtime.hosts[port]}:{port}  ({count} operations{workers})"
            )
        for app, sock, label in extra:
            servers.append((_Server(_uvicorn_config(app, options)), [sock]))
            listening.append(label)
        for port, server in runtime.mcp_servers.items():
            mcp_app = _logged(server.app, "mcp", None, options)
            servers.append((_Server(_uvicorn_config(mcp_app, options)), [sockets[port]]))
            stateless = ", stateless" if server.stateless else ""
            listening.append(
                f"MCP   http://{runtime.hosts[port]}:{port}{server.path}  "
                f"({server.tool_count} tools{workers}{stateless})"
            )
    except OSError:
        for _, socks in servers:
            for sock in socks:
                sock.close()
        raise
    if runtime.state is not None:
        _meter_sessions(runtime)
    loop = asyncio.get_running_loop()
    stopping = False
    status = 0

    draining: asyncio.TimerHandle | None = None

    def close() -> None:
        """Stop accepting; uvicorn then gives what is in flight `--grace` seconds."""
        for server, _ in servers:
            server.should_exit = True

    def stop(delay: float = 0.0) -> None:
        """Drain: `/health/ready` turns 503 at once; after `delay` seconds (`--drain-delay`,
        time for balancers and endpoint lists to notice) no new connection is accepted. A
        second signal while waiting closes at once."""
        nonlocal stopping, draining
        if runtime.state is not None:
            runtime.state.draining = True
        if stopping:
            if draining is not None:
                draining.cancel()
                draining = None
                signal_workers(children, signal.SIGINT)
                close()
            return
        stopping = True
        # SIGUSR1 asks a worker to drain: it may have had the same SIGTERM already (systemd
        # and `kill -TERM -PGID` signal the whole group), which must not count as a second one
        signal_workers(children, signal.SIGUSR1 if delay > 0 else signal.SIGINT)
        if delay > 0:
            log.info("draining: readiness is 503; closing in %.1f s", delay)
            draining = loop.call_later(delay, close)
        else:
            close()

    def fail(why: str) -> None:
        """Something this instance needs is gone: stop all of it, exit 1 (see the module)."""
        nonlocal status
        if stopping:
            return
        log.error("%s; stopping this instance so its supervisor can start a fresh one", why)
        status = 1
        stop()

    def drain_from_parent() -> None:
        if not stopping:
            stop(options.drain_delay)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, stop)  # at a terminal: no delay
        loop.add_signal_handler(signal.SIGTERM, stop, options.drain_delay)
        if parent_sentinel is not None:
            loop.add_signal_handler(signal.SIGUSR1, drain_from_parent)

    def child_exited(child: BaseProcess) -> None:
        loop.remove_reader(child.sentinel)
        child.join(1)  # gone already (its sentinel closed): this only reaps it
        fail(f"worker {child.name} (pid {child.pid}) exited with status {child.exitcode}")

    for child in children:
        loop.add_reader(child.sentinel, child_exited, child)

    def parent_gone() -> None:
        assert parent_sentinel is not None
        loop.remove_reader(parent_sentinel)  # at EOF it stays readable: once is enough
        fail("the parent process is gone")

    if parent_sentinel is not None:
        loop.add_reader(parent_sentinel, parent_gone)

    reloading: asyncio.Task[None] | None = None
    reload_again = False
    frozen_reloads = [0]

    def freeze_reloaded() -> None:
        """Freeze what a reload built, as the start-up objects were. Frozen objects are only
        freed by reference counting, so whatever cyclic garbage was frozen with them (a
        request's traceback during the reload, say) stays: every RELOADS_PER_COLLECTION
        reloads the frozen heap is collected once (one pause) before freezing again. (The
        frozen heap's size is not asked: `gc.get_freeze_count` walks all of it.)"""
        frozen_reloads[0] += 1
        if frozen_reloads[0] >= RELOADS_PER_COLLECTION:
            frozen_reloads[0] = 0
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        give_back_memory()  # what the previous configuration held

    async def reload_off_loop() -> None:
        nonlocal reload_again
        assert reloader is not None
        while True:
            reload_again = False
            # A collection while the new configuration is built would scan all of it with
            # the GIL held (a 100+ ms stall at 5,000 operations); instead what the reload
            # made is frozen like the start-up objects were, before collection resumes.
            gc.disable()
            applied = False
            try:
                prepared = await asyncio.to_thread(reloader.prepare)  # validate and compile
                applied = prepared is not None and reloader.apply(*prepared)
                prepared = None
            finally:
                if applied:
                    freeze_reloaded()
                gc.enable()  # a rejected reload's garbage is left to the collector
            if applied:
                signal_workers(children, signal.SIGHUP)
            if not reload_again:
                return

    def reload() -> None:
        """Reload here (prepared off the event loop, swapped in at once); workers reload too,
        but only a configuration this process accepted. A signal during a reload runs one
        more afterwards, so the last edit always wins."""
        nonlocal reloading, reload_again
        if reloading is not None and not reloading.done():
            reload_again = True
            return
        reloading = asyncio.ensure_future(reload_off_loop())

    if reloader is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, reload)
    tasks = [asyncio.create_task(server.serve(sockets=socks)) for server, socks in servers]

    def server_ended(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("a server failed: %s", runtime.redactor(repr(task.exception())))
        fail("a server stopped while the others were serving")

    for task in tasks:
        task.add_done_callback(server_ended)
    watched = [*reloader.paths] if reloader is not None else []
    if options.policy_file is not None:  # `--policies`: reloaded with the specs
        watched.append(options.policy_file)
    watcher = (
        asyncio.create_task(watch_specs(watched, reload))
        if watch and reloader is not None and worker == 0
        else None
    )
    ready: asyncio.Future[Any] = asyncio.gather(*(s.ready.wait() for s, _ in servers))
    waiting: list[asyncio.Future[Any]] = [ready, *tasks]
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if ready.done() and not stopping:
        if runtime.state is not None:
            runtime.state.serving = True  # /health/ready turns 200
        gc.collect()
        gc.freeze()  # start-up objects never need scanning again: shorter GC pauses under load
        give_back_memory()
        gc.enable()  # off while the specs were loaded and compiled (cli._no_collection)
        if worker == 0:
            for line in listening:
                stderr.write(f"naftiko-runtime: serving {line}\n")
            stderr.flush()
    else:
        ready.cancel()
        gc.enable()  # stopped before ready: still serving (drain), with the collector on
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if watcher is not None:
            watcher.cancel()
        await runtime.upstream.close()
        if runtime.tracing is not None:  # export what is still batched
            await asyncio.to_thread(runtime.tracing.shutdown)
        for child in children:
            child.join(options.grace_seconds + 5)
            if child.is_alive():
                child.kill()
                child.join(5)
    return status
