"""Soak: mixed REST and MCP traffic against an upstream that changes its fault every second.

    python -m bench.soak [--duration 60] [--concurrency 16] [--http-client pyreqwest]

The upstream cycles through: healthy, down (not listening), slow (past `--timeout`), garbage
(not HTTP), reset (closed mid-answer), huge (past `--max-upstream-body`), echoing the query
credential back in a 401, a TCP reset in the middle of a body that ends with its connection
(`rst-body`: a complete-looking JSON prefix, so a client that took the reset for the end
would answer a short success), and echoing every credential (the query key, the token bound
into the path, the fixed header) in a body that is not text (`echo-binary`). Healthy, the
upstream echoes the request head on the bound-path route and, as `application/octet-stream`
or `message/http`, through the forward. Beside the REST and MCP load, an MCP client reads a
hostile served folder (a FIFO with no writer, a sparse file over the cap, a link loop).

The report gives requests, answers by status and error type, p50 and p99, peak RSS and RSS at
the start and end of the second half, and checks the promises of the hardening work: no 5xx
other than the documented ones (502/503/504, and a hostile script's 500 `script_memory`; the
script route allocates 1 GB of array buffers under `--script-memory 64`), no secret in
any answer or log line, no short success. Exit status 1 when one is broken. Loopback only;
stops only what it started.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx

from bench.ports import free_port

KEY = "soak-k3y/+=&secret"
BOT_TOKEN = "777000:soak-b0t/token"  # bound into a path, not authentication
HEADER_KEY = "soak-hdr-5e1f9a"  # bound into a fixed header
FORMS = (KEY, quote(KEY), quote(KEY, safe=""), quote_plus(KEY), BOT_TOKEN, quote(BOT_TOKEN))
FORMS += (HEADER_KEY,)
MODES = ("ok", "down", "slow", "garbage", "reset", "huge", "echo", "rst-body", "echo-binary")
DOCUMENTED_5XX = {502, 503, 504}
CUT = "cut-short"  # in the part of a body sent before a reset: never in a success
SPEC = """\
naftiko: "1.0.0-alpha2"
binds:
  - namespace: env
    keys:
      API_KEY: API_KEY
      BOT_TOKEN: BOT_TOKEN
      HEADER_KEY: HEADER_KEY
capability:
  consumes:
    - type: http
      namespace: api
      baseUri: "http://127.0.0.1:9"
      authentication:
        type: apikey
        key: api_key
        placement: query
        value: "{{env.API_KEY}}"
      inputParameters:
        - name: X-Api-Token
          in: header
          value: "{{env.HEADER_KEY}}"
      resources:
        - name: items
          path: "/items"
          operations:
            - name: list-items
              method: GET
              outputParameters:
                - name: items
                  type: array
                  value: "$.items"
        - name: echo
          path: "/bot{{token}}/echo"
          operations:
            - name: echo
              method: GET
              inputParameters:
                - name: token
                  in: path
                  value: "{{env.BOT_TOKEN}}"
  exposes:
    - type: rest
      namespace: soak
      port: 8080
      resources:
        - path: "/items"
          operations:
            - method: GET
              name: items
              call: api.list-items
        - path: "/echo"
          operations:
            - method: GET
              name: echo
              call: api.echo
        - path: "/fwd/{path}"
          forward:
            targetNamespace: api
        - path: "/script"
          operations:
            - method: GET
              name: script
              steps:
                - type: script
                  name: hog
                  language: javascript
                  location: "file:///./scripts"
                  file: hog.js
              mappings:
                - targetName: held
                  value: "$.hog.held"
    - type: mcp
      namespace: soak-mcp
      port: 9090
      tools:
        - name: items
          description: "The items"
          call: api.list-items
        - name: echo
          description: "The upstream's echo"
          call: api.echo
      resources:
        - name: hostile
          label: "Hostile folder"
          uri: "files://hostile"
          description: "A FIFO, a file over the cap, a link loop, one good file"
          location: "file:///./hostile"
"""
ROUTES = ("/items", "/echo", "/fwd/blob", "/fwd/trace", "/script")
# a hostile script: 1 GB of array buffers (outside V8's heap) past --script-memory 64
HOG = (
    "var keep = [];\n"
    "for (var i = 0; i < 64; i++) keep.push(new Uint8Array(16 * 1024 * 1024).fill(1));\n"
    "result = {held: keep.length};\n"
)


class FaultyUpstream:
    """A raw HTTP server whose behaviour is `mode`; in mode `down` it does not listen."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.mode = "ok"
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)

    def switch(self, mode: str) -> None:
        asyncio.run_coroutine_threadsafe(self._switch(mode), self.loop).result(5)

    async def _switch(self, mode: str) -> None:
        self.mode = mode
        if mode == "down" and self._server is not None:
            self._server.close()  # no new connections: refused
            self._server = None
            for writer in list(self._open):  # and the kept-alive ones are gone too
                writer.close()
        elif mode != "down" and self._server is None:
            await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1]
                mode = self.mode
                if mode == "slow":
                    await asyncio.sleep(3)
                if mode == "garbage":
                    writer.write(b"\x00garbage, not HTTP\r\n\r\n")
                    break
                if mode == "reset":
                    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"it')
                    break
                if mode == "rst-body":  # whole-looking JSON, then a reset: never the end
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
                    writer.write(b'{"items": ["%s"]}' % CUT.encode() + b" " * 64)
                    await writer.drain()
                    _reset(writer)
                    return
                if mode == "echo-binary" or (mode == "ok" and b"/fwd/" in target):
                    kind = (
                        b"message/http"
                        if target.endswith(b"trace")
                        else b"application/octet-stream"
                    )
                    status = b"404 Not Found" if mode == "echo-binary" else b"200 OK"
                    writer.write(
                        b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                        % (status, kind, len(head))
                        + head
                    )
                    await writer.drain()
                    continue
                if mode == "ok" and b"/bot" in target:  # the bound path and header, echoed
                    body = json.dumps({"you_sent": head.decode("latin-1")}).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(body) + body
                    )
                    await writer.drain()
                    continue
                if mode == "echo":
                    body = json.dumps({"error": f"bad key in {target.decode()}"}).encode()
                    status = b"401 Unauthorized"
                elif mode == "huge":
                    body = b'{"items": ["' + b"x" * (3 * 1024 * 1024) + b'"]}'
                    status = b"200 OK"
                else:
                    body = b'{"items": [1, 2, 3]}'
                    status = b"200 OK"
                writer.write(
                    b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                    % (status, len(body))
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # the soak is over
            pass
        finally:
            self._open.discard(writer)
            writer.close()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed server's kernel does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def hostile_folder(root: Path) -> Path:
    """A served folder as an attacker with write access to it would leave it."""
    folder = root / "hostile"
    folder.mkdir()
    (folder / "ok.md").write_text("# fine\n")
    os.mkfifo(folder / "pipe")  # no writer: a blocking read would wait for ever
    with open(folder / "big.bin", "wb") as big:
        os.truncate(big.fileno(), 64 * 1024 * 1024)  # sparse, over --max-file-size 1
    (folder / "loop1").symlink_to("loop2")
    (folder / "loop2").symlink_to("loop1")
    (root / "scripts").mkdir()
    (root / "scripts" / "hog.js").write_text(HOG)
    return folder


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Tally:
    def __init__(self) -> None:
        self.answers: collections.Counter[str] = collections.Counter()
        self.latencies: list[float] = []
        self.undocumented: list[str] = []
        self.leaks: list[str] = []
        self.short: list[str] = []  # a success holding what came before a reset

    def record(self, what: str, started: float, text: str, status: int | None = None) -> None:
        self.latencies.append(time.perf_counter() - started)
        self.answers[what] += 1
        documented = status in DOCUMENTED_5XX or (
            status == 500 and '"type":"script_memory"' in text.replace(" ", "")
        )
        if status is not None and status >= 500 and not documented:
            self.undocumented.append(f"{status}: {text[:200]}")
        if any(form in text for form in FORMS):
            self.leaks.append(text[:200])
        if CUT in text and (status == 200 or what == "MCP ok"):
            self.short.append(f"{what}: {text[:200]}")


async def rest_load(base: str, deadline: float, tally: Tally, offset: int) -> None:
    routes = itertools.cycle(ROUTES[offset % len(ROUTES) :] + ROUTES[: offset % len(ROUTES)])
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            route = next(routes)
            try:
                reply = await client.get(base + route)
            except httpx.HTTPError as exc:  # a forwarded stream cut mid-body: visibly cut
                name = type(exc).__name__
                tally.record(f"REST {route.split('/')[1]} cut: {name}", started, str(exc))
                continue
            kind = ""
            if reply.status_code != 200:
                kind = " " + _error_type(reply)
            what = f"REST {route.split('/')[1]} {reply.status_code}{kind}"
            tally.record(what, started, reply.text, reply.status_code)


def _error_type(reply: httpx.Response) -> str:
    try:
        error = reply.json().get("error")
    except (ValueError, AttributeError):
        return "(not JSON)"
    if isinstance(error, dict) and "type" in error:
        return str(error["type"])
    return "(the upstream's body, passed through)"


async def mcp_load(url: str, deadline: float, tally: Tally, tool: str) -> None:
    from mcp import Client

    async with Client(url) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                result = await client.call_tool(tool, {})
            except Exception as exc:  # a protocol error is what the soak looks for
                tally.record(f"MCP protocol error {type(exc).__name__}", started, str(exc))
                continue
            text = " ".join(getattr(c, "text", "") for c in result.content)
            tally.record("MCP error result" if result.is_error else "MCP ok", started, text)


async def folder_load(url: str, deadline: float, tally: Tally) -> None:
    """Reads every entry of the hostile folder, listed or not: each is served or refused
    at once (a FIFO read that blocked would stall every port)."""
    from mcp import Client

    names = ("ok.md", "pipe", "big.bin", "loop1", "missing")
    async with Client(url) as client:
        while time.monotonic() < deadline:
            for name in names:
                started = time.perf_counter()
                try:
                    read = await client.read_resource(f"files://hostile/{name}")
                    text = " ".join(getattr(c, "text", "") for c in read.contents)
                    tally.record(f"MCP file {name} read", started, text)
                except Exception as exc:  # the documented refusal: a JSON-RPC error
                    tally.record(f"MCP file {name} refused", started, str(exc))


async def drive(base: str, mcp: str, duration: float, concurrency: int, tally: Tally) -> None:
    deadline = time.monotonic() + duration
    workers = [rest_load(base, deadline, tally, n) for n in range(concurrency)]
    workers += [mcp_load(mcp, deadline, tally, tool) for tool in ("items", "echo")]
    workers.append(folder_load(mcp, deadline, tally))
    await asyncio.gather(*workers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--http-client", default="pyreqwest")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="naftiko-soak-"))
    (workdir / "soak.yaml").write_text(SPEC)
    hostile_folder(workdir)
    upstream = FaultyUpstream(free_port())
    upstream.start()
    rest_port, mcp_port = free_port(), free_port()
    log = (workdir / "serve.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "naftiko_runtime", "serve", str(workdir / "soak.yaml"),
            "--upstream", f"api=http://127.0.0.1:{upstream.port}",
            "--port", f"8080={rest_port}", "--port", f"9090={mcp_port}",
            "--timeout", "1", "--max-upstream-body", "1", "--access-log",
            "--http-client", args.http_client, "--max-file-size", "1",
            "--script-memory", "64",
        ],
        env={**os.environ, "API_KEY": KEY, "BOT_TOKEN": BOT_TOKEN, "HEADER_KEY": HEADER_KEY},
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    rest = f"http://127.0.0.1:{rest_port}"
    try:
        for _ in range(200):
            try:
                httpx.get(rest + "/items", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        tally = Tally()
        rss: list[tuple[float, float]] = []
        stop = threading.Event()

        def faults() -> None:
            started = time.monotonic()
            for mode in itertools.cycle(MODES):
                if stop.wait(1.0):
                    return
                upstream.switch(mode)
                rss.append((time.monotonic() - started, rss_mb(server.pid)))

        injector = threading.Thread(target=faults, daemon=True)
        injector.start()
        mcp = f"http://127.0.0.1:{mcp_port}/mcp"
        asyncio.run(drive(rest, mcp, args.duration, args.concurrency, tally))
        stop.set()
        injector.join(5)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        upstream.stop()
        log.close()
    log_text = (workdir / "serve.log").read_text(errors="replace")
    log_leaks = sum(log_text.count(form) for form in FORMS)
    return report(args, tally, rss, log_leaks, log_text.count("Traceback"))


def report(
    args: argparse.Namespace,
    tally: Tally,
    rss: list[tuple[float, float]],
    log_leaks: int,
    tracebacks: int,
) -> int:
    total = sum(tally.answers.values())
    latencies = sorted(tally.latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0
    print(f"soak: {args.duration:g} s, {args.concurrency} REST + 2 MCP clients, "
          f"{args.http_client}, faults cycling {', '.join(MODES)} every second")  # fmt: skip
    print(f"requests: {total} ({total / args.duration:.0f}/s)")
    print(f"latency: p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    print("answers:")
    for what, count in tally.answers.most_common():
        print(f"  {count:8d}  {what}")
    half = [mb for at, mb in rss if at >= args.duration / 2]
    peak = max((mb for _, mb in rss), default=0.0)
    print(f"RSS: peak {peak:.0f} MB; second half from {half[0] if half else 0:.0f} "
          f"to {half[-1] if half else 0:.0f} MB")  # fmt: skip
    print(f"undocumented 5xx: {len(tally.undocumented)}; secrets in answers: "
          f"{len(tally.leaks)}; in the log: {log_leaks}; tracebacks: {tracebacks}; "
          f"short successes: {len(tally.short)}")  # fmt: skip
    for line in tally.undocumented[:5] + tally.leaks[:5] + tally.short[:5]:
        print(f"  {line}")
    broken = tally.undocumented or tally.leaks or log_leaks or tracebacks or tally.short
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
