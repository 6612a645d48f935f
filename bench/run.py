"""naftiko-runtime against hand-written peers, measured side by side in one run, on loopback.

    .venv/bin/python -m bench.run [--duration 5] [--repeat 2] [--concurrency 8,32]

Starts (and afterwards stops, by PID) an upstream serving fixed Letta-like JSON (nginx when
installed, else a fast Python one), then each target in turn: the httpx peer (what a user
writes by hand), the tuned peer (raw ASGI + aiohttp + orjson, no mapping), naftiko-runtime
with a JSONPath mapping and with `$.` pass-through, naftiko-runtime with 2 workers, 1, 2 and 4
instances behind HAProxy (the shipped `deploy/haproxy/haproxy.cfg`, when haproxy is installed),
and nginx as a reverse proxy (the practical ceiling). Each is driven by the same load generator (wrk
when installed, else a Python one) at each concurrency for the same duration, repeated.
Prints one table and the goals; writes bench/results/latest.{json,md}. Installs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.data import JOB_ID, LIST_BODY, ONE_BODY, TOKEN
from bench.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PATHS = ("/v1/jobs/", f"/v1/jobs/{JOB_ID}")


def http_get(port: int, path: str, timeout: float = 2.0) -> int:
    """Status of one GET over a fresh connection (0 when nothing answers)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            head = sock.recv(64).decode("latin-1")
    except OSError:
        return 0
    match = re.match(r"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else 0


class Process:
    """A child process with its output in a log file; stopped by PID, never by name."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self.started = time.perf_counter()
        with self.log_path.open("w") as log:
            self.popen = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(
        self, port: int, path: str = PATHS[0], timeout: float = 30.0, accept_any: bool = False
    ) -> float:
        """Seconds from start to the first 200 on `path` (any HTTP answer with `accept_any`)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_path.read_text()[-2000:]}")
            status = http_get(port, path, timeout=0.5)
            if status == 200 or (accept_any and status):
                return time.perf_counter() - self.started
            time.sleep(0.005)
        raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.log_path.read_text()}")

    def rss_mb(self) -> float:
        """Resident memory of this process and its children (workers), in MB, per process."""
        pids = [self.popen.pid]
        children = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        sizes = []
        for pid in pids:
            status = Path(f"/proc/{pid}/status")
            if status.exists():
                match = re.search(r"VmRSS:\s+(\d+) kB", status.read_text())
                if match:
                    sizes.append(int(match.group(1)) / 1024)
        return max(sizes) if sizes else 0.0

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)  # its own session: only what we started
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (workers)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for each in pids:
        stat = Path(f"/proc/{each}/stat")
        if stat.exists():
            fields = stat.read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def machine_times() -> tuple[int, int]:
    """(idle, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


# ------------------------------------------------------------------ load generation
@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk_load(port: int, concurrency: int, duration: float, workdir: Path) -> Sample:
    lua = (
        f'local paths = {{"{PATHS[0]}", "{PATHS[1]}"}}\nlocal i = 0\n'
        'request = function()\n  i = i + 1\n  return wrk.format("GET", paths[(i % 2) + 1])\nend\n'
    )
    return wrk_script(port, concurrency, duration, workdir, lua)


def wrk_script(port: int, concurrency: int, duration: float, workdir: Path, lua: str) -> Sample:
    """wrk (one thread) running a Lua script that says what each request is."""
    script = workdir / "requests.lua"
    script.write_text(lua)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(duration))}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), "
        r"timeout (\d+)",
        out,
    )
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return Sample(rps, p50, p99, errors)


async def _python_load(port: int, concurrency: int, duration: float) -> Sample:
    """A small keep-alive HTTP/1.1 load generator for machines without wrk."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def worker(n: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = n
        try:
            while time.perf_counter() < deadline:
                path = PATHS[i % 2]
                i += 1
                start = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - start) * 1000)
                if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    if not latencies:
        return Sample(0.0, 0.0, 0.0, errors)
    return Sample(
        len(latencies) / elapsed,
        latencies[len(latencies) // 2],
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        errors,
    )


def python_load(port: int, concurrency: int, duration: float, workdir: Path) -> Sample:
    return asyncio.run(_python_load(port, concurrency, duration))


# ------------------------------------------------------------------ upstream and targets
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/client-body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  default_type application/json;
  keepalive_requests 1000000;
  upstream backend {{ server 127.0.0.1:{upstream}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{upstream};
    root {tmp}/www;
    location = /v1/jobs/ {{ try_files /list.json =404; }}
    location /v1/jobs/ {{ try_files /one.json =404; }}
  }}
  server {{
    listen 127.0.0.1:{proxy};
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer {token}";
    }}
  }}
}}
"""


@dataclass
class Row:
    target: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    runs: list[float] = field(default_factory=list)
    rss_mb: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # cores used per process, median run


@dataclass
class Bench:
    duration: float
    repeat: int
    concurrency: list[int]
    workdir: Path
    use_wrk: bool
    use_nginx: bool
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    balanced: dict[str, list[Process]] = field(default_factory=dict)  # target -> instances
    mcp_rows: list[Any] = field(default_factory=list)  # bench.mcp.McpRow
    scale_rows: list[Any] = field(default_factory=list)  # bench.scale.ScaleRow

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Process:
        process = Process(name, argv, env or {}, self.workdir)
        self.processes.append(process)
        return process

    def load(self, port: int, concurrency: int, duration: float | None = None) -> Sample:
        generator = wrk_load if self.use_wrk else python_load
        return generator(port, concurrency, duration or self.duration, self.workdir)

    def sample(
        self, port: int, concurrency: int, watched: dict[str, list[int]]
    ) -> tuple[Sample, dict[str, float]]:
        """One load run; also the CPU cores each watched group of processes (and the load
        generator) used."""

        def used(pids: list[int]) -> float:
            return sum(cpu_seconds(pid) for pid in pids)

        before = {name: used(pids) for name, pids in watched.items()}
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        idle_before, total_before = machine_times()
        started = time.perf_counter()
        sample = self.load(port, concurrency)
        elapsed = time.perf_counter() - started
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        idle_after, total_after = machine_times()
        cores = {
            name: round((used(pids) - before[name]) / elapsed, 2) for name, pids in watched.items()
        }
        if self.use_wrk:
            used = (
                children_after.ru_utime
                - children_before.ru_utime
                + children_after.ru_stime
                - children_before.ru_stime
            )
            cores["wrk"] = round(used / elapsed, 2)
        busy = 1 - (idle_after - idle_before) / max(1, total_after - total_before)
        cores["machine_busy"] = round(busy, 3)
        return sample, cores

    def measure_all(
        self, targets: list[tuple[str, int, Process | None]], upstream: Process
    ) -> None:
        """Every target at every concurrency, `repeat` rounds, interleaved so that drift on a
        shared machine spreads over all targets instead of favouring whoever ran first."""
        for _, warm_port, _ in targets:
            self.load(warm_port, 8, min(1.0, self.duration))  # warm up connections, caches
        results: dict[tuple[str, int], list[tuple[Sample, dict[str, float]]]] = {}
        for round_ in range(self.repeat):
            for concurrency in self.concurrency:
                for name, port, process in targets:
                    watched = {"upstream": [upstream.popen.pid]}
                    if name in self.balanced:  # the instances as target, and the balancer
                        watched["target"] = [i.popen.pid for i in self.balanced[name]]
                        if process is not None:
                            watched["haproxy"] = [process.popen.pid]
                    elif process is not None:
                        watched["target"] = [process.popen.pid]
                    results.setdefault((name, concurrency), []).append(
                        self.sample(port, concurrency, watched)
                    )
            print(f"  round {round_ + 1}/{self.repeat} done", flush=True)
        for name, _, process in targets:
            for concurrency in self.concurrency:
                samples = sorted(results[(name, concurrency)], key=lambda s: s[0].rps)
                median, cores = samples[len(samples) // 2]
                row = Row(
                    name,
                    concurrency,
                    round(median.rps, 1),
                    round(median.p50_ms, 3),
                    round(median.p99_ms, 3),
                    sum(s.errors for s, _ in samples),
                    [round(s.rps, 1) for s, _ in samples],
                    cpu=cores,
                )
                if name in self.balanced:  # the largest instance, not the balancer
                    row.rss_mb = round(max(i.rss_mb() for i in self.balanced[name]), 1)
                elif process is not None:
                    row.rss_mb = round(process.rss_mb(), 1)
                self.rows.append(row)
                print(
                    f"  {name:<34} c={concurrency:<3} {row.rps:>9.0f} req/s  "
                    f"p50 {row.p50_ms:7.2f} ms  p99 {row.p99_ms:7.2f} ms  cpu {cores}",
                    flush=True,
                )

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


def start_upstream(bench: Bench) -> tuple[int, int | None]:
    """The upstream (and the nginx proxy port when nginx is used)."""
    upstream = free_port()
    if bench.use_nginx:
        proxy = free_port()
        www = bench.workdir / "www"
        www.mkdir()
        (www / "list.json").write_bytes(LIST_BODY)
        (www / "one.json").write_bytes(ONE_BODY)
        for path in [bench.workdir, www, *www.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        conf = bench.workdir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(tmp=bench.workdir, upstream=upstream, proxy=proxy, token=TOKEN)
        )
        process = bench.start("nginx", ["nginx", "-c", str(conf), "-p", str(bench.workdir)])
        process.wait_ready(upstream)
        return upstream, proxy
    process = bench.start(
        "python-upstream", [sys.executable, "-m", "bench.upstream", str(upstream)]
    )
    process.wait_ready(upstream)
    return upstream, None


def naftiko_argv(
    spec: str, port: int, upstream: int, workers: int = 1, client: str | None = None
) -> list[str]:
    """`naftiko-runtime serve` for the bench spec; `client` None means the runtime's default."""
    argv = [
        sys.executable,
        "-m",
        "naftiko_runtime",
        "serve",
        str(ROOT / "bench" / "capabilities" / spec),
        "--port",
        f"8080={port}",
        "--upstream",
        f"jobs-api=http://127.0.0.1:{upstream}",
        "--workers",
        str(workers),
    ]
    return argv + (["--http-client", client] if client else [])


def run_targets(
    bench: Bench, upstream: int, proxy: int | None, upstream_process: Process, only: Sequence[str]
) -> None:
    """Start every REST target, measure them interleaved, stop them."""
    env = {"UPSTREAM": f"http://127.0.0.1:{upstream}", "BENCH_TOKEN": TOKEN}
    print(
        f"upstream: {'nginx' if bench.use_nginx else 'python'} on {upstream}; "
        f"load: {'wrk' if bench.use_wrk else 'python'}; {bench.duration}s x {bench.repeat}"
    )
    specs: list[tuple[str, list[str]]] = [
        (
            "peer: starlette+httpx",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.peers.httpx_peer:app",
                "--port",
                "{port}",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
        ),
        ("peer: tuned aiohttp", [sys.executable, "-m", "bench.peers.tuned_peer", "{port}"]),
        ("naftiko (mapping)", naftiko_argv("bench-jobs.yaml", 0, upstream)),
        ("naftiko ($. passthrough)", naftiko_argv("bench-jobs-passthrough.yaml", 0, upstream)),
        ("naftiko (mapping, 2 workers)", naftiko_argv("bench-jobs.yaml", 0, upstream, 2)),
        (
            "naftiko (mapping, aiohttp client)",
            naftiko_argv("bench-jobs.yaml", 0, upstream, 1, "aiohttp"),
        ),
        (
            "naftiko (mapping, pyreqwest client)",
            naftiko_argv("bench-jobs.yaml", 0, upstream, 1, "pyreqwest"),
        ),
        (
            "naftiko (mapping, pyreqwest client, 2 workers)",
            naftiko_argv("bench-jobs.yaml", 0, upstream, 2, "pyreqwest"),
        ),
        (
            "naftiko (mapping, granian)",
            [sys.executable, "-m", "bench.peers.granian_rest", "{port}"],
        ),
        ("orchestration: naftiko (3 steps)", naftiko_argv("bench-orchestration.yaml", 0, upstream)),
        (
            "orchestration: naftiko (3 steps, aiohttp client)",
            naftiko_argv("bench-orchestration.yaml", 0, upstream, 1, "aiohttp"),
        ),
        (
            "orchestration: naftiko (3 steps, pyreqwest client)",
            naftiko_argv("bench-orchestration.yaml", 0, upstream, 1, "pyreqwest"),
        ),
        (
            "orchestration: aiohttp sequential",
            [sys.executable, "-m", "bench.peers.orchestration_peer", "{port}"],
        ),
        (
            "orchestration: aiohttp gather",
            [sys.executable, "-m", "bench.peers.orchestration_peer", "{port}"],
        ),
    ]
    targets: list[tuple[str, int, Process | None]] = [("upstream (direct)", upstream, None)]
    if proxy is not None:
        targets.append(("nginx proxy (ceiling)", proxy, None))
    for name, argv in specs:
        if only and not any(word in name for word in only):
            continue
        port = free_port()
        argv = [a.replace("{port}", str(port)).replace("8080=0", f"8080={port}") for a in argv]
        mode = {"MODE": "gather" if "gather" in name else "sequential"}
        process = bench.start(re.sub(r"\W+", "-", name), argv, {**env, **mode})
        process.wait_ready(port)
        targets.append((name, port, process))
    targets += balanced_targets(bench, upstream, env, only)
    bench.measure_all(targets, upstream_process)
    for _, _, process in targets:
        if process is not None:
            process.stop()
    for instances in bench.balanced.values():
        for instance in instances:
            instance.stop()


SCALE_OUT = (1, 2, 4)


def balanced_targets(
    bench: Bench, upstream: int, env: dict[str, str], only: Sequence[str]
) -> list[tuple[str, int, Process | None]]:
    """1, 2 and 4 instances (one worker each) behind HAProxy running the shipped
    `deploy/haproxy/haproxy.cfg`, when haproxy is installed."""
    from bench.haproxy import HAPROXY, render

    names = [f"haproxy + {n} instance{'s' if n > 1 else ''}" for n in SCALE_OUT]
    if only and not any(word in name for name in names for word in only):
        return []
    if HAPROXY is None:
        print("note: haproxy is not installed (apt-get install haproxy); no scale-out rows")
        return []
    targets: list[tuple[str, int, Process | None]] = []
    for count, name in zip(SCALE_OUT, names, strict=True):
        instances, servers = [], []
        for index in range(count):
            port, control = free_port(), free_port()
            argv = naftiko_argv("bench-jobs.yaml", port, upstream)
            argv += ["--control", f"127.0.0.1:{control}", "--trace-sampling", "0"]
            label = f"{re.sub(r'[^a-z0-9]+', '-', name)}-{index}"
            instance = bench.start(label, argv, env)
            instance.wait_ready(port)
            instances.append(instance)
            servers.append((port, control))
        front, spare = free_port(), free_port()
        config = bench.workdir / f"haproxy-{count}.cfg"
        config.write_text(
            render({"rest": front, "mcp": spare}, {"naftiko-rest": servers, "naftiko-mcp": []})
        )
        balancer = bench.start(f"haproxy-{count}", [HAPROXY, "-db", "-f", str(config)])
        balancer.wait_ready(front)
        bench.balanced[name] = instances
        targets.append((name, front, balancer))
    return targets


def cold_start(bench: Bench, upstream_port: int, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        port = free_port()
        process = bench.start(
            "naftiko-cold",
            naftiko_argv("bench-jobs.yaml", port, upstream_port),
            {"BENCH_TOKEN": TOKEN},
        )
        times.append(process.wait_ready(port))
        process.stop()
    return statistics.median(times)


# ------------------------------------------------------------------ report
def _find(rows: list[Row], target: str, concurrency: int) -> Row | None:
    return next((r for r in rows if r.target == target and r.concurrency == concurrency), None)


def goals(bench: Bench) -> list[tuple[str, str, bool | None]]:
    rows = bench.rows
    out: list[tuple[str, str, bool | None]] = []
    for c in bench.concurrency:
        ours, peer = _find(rows, "naftiko (mapping)", c), _find(rows, "peer: starlette+httpx", c)
        tuned = _find(rows, "peer: tuned aiohttp", c)
        passthrough = _find(rows, "naftiko ($. passthrough)", c)
        if ours and peer:
            ratio = ours.rps / peer.rps
            out.append((f"c={c}: mapping >= 5x httpx peer", f"{ratio:.2f}x", ratio >= 5))
        if ours and tuned:
            ratio = ours.rps / tuned.rps
            out.append((f"c={c}: mapping >= 1.0x tuned peer", f"{ratio:.2f}x", ratio >= 1.0))
        if passthrough and tuned:
            ratio = passthrough.rps / tuned.rps
            out.append((f"c={c}: passthrough >= 1.0x tuned peer", f"{ratio:.2f}x", ratio >= 1.0))
        if ours and passthrough:
            cost = 1 - ours.rps / passthrough.rps
            out.append((f"c={c}: mapping costs <= 5% of throughput", f"{cost:.1%}", cost <= 0.05))
    for c in bench.concurrency:
        steps = _find(rows, "orchestration: naftiko (3 steps)", c)
        sequential = _find(rows, "orchestration: aiohttp sequential", c)
        gathered = _find(rows, "orchestration: aiohttp gather", c)
        if steps and sequential:
            ratio = steps.rps / sequential.rps
            out.append(
                (f"c={c}: 3 steps >= 1.0x hand-written sequential", f"{ratio:.2f}x", ratio >= 1.0)
            )
        if steps and gathered:
            ratio = steps.rps / gathered.rps
            out.append(
                (f"c={c}: 3 steps >= 0.9x hand-written gather", f"{ratio:.2f}x", ratio >= 0.9)
            )
    for c in bench.concurrency:
        uvicorn, granian = (
            _find(rows, "naftiko (mapping)", c),
            _find(rows, "naftiko (mapping, granian)", c),
        )
        if uvicorn and granian:
            ratio = uvicorn.rps / granian.rps
            out.append(
                (
                    f"c={c}: ASGI server: uvicorn (the default) vs granian (reported)",
                    f"{ratio:.2f}x",
                    None,
                )
            )
    ours32, tuned32 = _find(rows, "naftiko (mapping)", 32), _find(rows, "peer: tuned aiohttp", 32)
    if ours32 and tuned32:
        ratio = ours32.rps / tuned32.rps
        out.append(("c=32: mapping >= 1.3x tuned peer", f"{ratio:.2f}x", ratio >= 1.3))
    ours8, direct8 = _find(rows, "naftiko (mapping)", 8), _find(rows, "upstream (direct)", 8)
    if ours8 and direct8:
        added = ours8.p50_ms - direct8.p50_ms
        out.append(("c=8: added p50 over direct <= 0.3 ms", f"{added:.2f} ms", added <= 0.3))
    if ours32 and tuned32:
        out.append(
            (
                "c=32: p99 <= tuned peer p99",
                f"{ours32.p99_ms:.2f} vs {tuned32.p99_ms:.2f} ms",
                ours32.p99_ms <= tuned32.p99_ms,
            )
        )
    top = max(bench.concurrency)
    one, two = (
        _find(rows, "naftiko (mapping)", top),
        _find(rows, "naftiko (mapping, 2 workers)", top),
    )
    if one and two:
        ratio = two.rps / one.rps
        out.append((f"c={top}: 2 workers >= 1.7x one", f"{ratio:.2f}x", ratio >= 1.7))
    one_behind = _find(rows, "haproxy + 1 instance", top)
    for count in SCALE_OUT[1:]:
        more = _find(rows, f"haproxy + {count} instances", top)
        if one_behind and more:
            ratio = more.rps / one_behind.rps
            cores = more.cpu.get("target", 0.0) + more.cpu.get("haproxy", 0.0)
            out.append(
                (
                    f"c={top}: {count} instances behind haproxy vs 1 (2 cores: reported)",
                    f"{ratio:.2f}x, instances+haproxy {cores:.2f} cores",
                    None,
                )
            )
    cold = bench.facts.get("cold_start_s")
    if cold is not None:
        out.append(("cold start to first 200 <= 1 s", f"{cold:.2f} s", cold <= 1.0))
    rss = [r.rss_mb for r in rows if r.target == "naftiko (mapping)" and r.rss_mb]
    if rss:
        out.append(("RSS per worker <= 80 MB", f"{max(rss):.1f} MB", max(rss) <= 80))
    validation = bench.facts.get("validation_ms_per_12kb")
    if validation is not None:
        out.append(
            ("validation <= 5 ms per 12 KB (warm)", f"{validation:.2f} ms", validation <= 5.0)
        )
    if bench.mcp_rows:
        from bench import mcp

        out += mcp.goals(bench.mcp_rows)
    if bench.scale_rows:
        from bench import scale

        out += scale.goals(bench.scale_rows)
    return out


def _cores(row: Row) -> str:
    parts = "/".join(
        f"{row.cpu[k]:.2f}" if k in row.cpu else "-" for k in ("target", "upstream", "wrk")
    )
    if "haproxy" in row.cpu:
        parts += f" + haproxy {row.cpu['haproxy']:.2f}"
    busy = row.cpu.get("machine_busy")
    return parts + (f" ({busy:.0%})" if busy is not None else "")


def render(bench: Bench) -> str:
    direct = {r.concurrency: r for r in bench.rows if r.target == "upstream (direct)"}
    lines = [
        "| target | c | req/s | p50 ms | p99 ms | +p50 vs direct | x httpx peer | x tuned peer "
        "| RSS MB | CPU cores: target/upstream/wrk (machine) | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in bench.rows:
        peer = _find(bench.rows, "peer: starlette+httpx", row.concurrency)
        tuned = _find(bench.rows, "peer: tuned aiohttp", row.concurrency)
        base = direct.get(row.concurrency)
        added = f"{row.p50_ms - base.p50_ms:+.2f}" if base else ""
        ratios = (
            f"{row.rps / peer.rps:.2f} | {row.rps / tuned.rps:.2f}" if peer and tuned else " | "
        )
        lines.append(
            f"| {row.target} | {row.concurrency} | {row.rps:,.0f} | {row.p50_ms:.2f} | "
            f"{row.p99_ms:.2f} | {added} | {ratios} | {row.rss_mb or ''} | {_cores(row)} | "
            f"{row.errors} |"
        )
    if bench.mcp_rows:
        from bench import mcp

        lines += ["", mcp.render(bench.mcp_rows)]
    if bench.scale_rows:
        from bench import scale

        lines += ["", scale.render(bench.scale_rows)]
    lines += ["", "| goal | measured | met |", "|---|---|---|"]
    for goal, value, met in goals(bench):
        verdict = "-" if met is None else ("yes" if met else "NO")
        lines.append(f"| {goal} | {value} | {verdict} |")
    facts = ", ".join(f"{k}: {v}" for k, v in bench.facts.items())
    lines += ["", f"{facts}"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--python-load", action="store_true", help="ignore wrk if installed")
    parser.add_argument("--python-upstream", action="store_true", help="ignore nginx if installed")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--only", default="", help="comma-separated words; measure only targets whose name has one"
    )
    parser.add_argument(
        "--sections", default="rest,mcp,scale", help="which parts run: rest, mcp, scale"
    )
    parser.add_argument("--mcp-concurrency", default="1,8,32")
    parser.add_argument("--scale-sizes", default="100,1000,5000", help="generated operations")
    parser.add_argument(
        "--mcp-session",
        type=int,
        default=16,
        help="callers on one handshake session (0: none)",
    )
    args = parser.parse_args(argv)
    use_wrk = shutil.which("wrk") is not None and not args.python_load
    use_nginx = shutil.which("nginx") is not None and not args.python_upstream
    for tool, used in (("wrk", use_wrk), ("nginx", use_nginx)):
        if not used and not shutil.which(tool):
            print(
                f"note: {tool} is not installed (apt-get install {tool}); using the Python "
                "fallback",
                file=sys.stderr,
            )
    with tempfile.TemporaryDirectory(prefix="naftiko-bench-") as tmp:
        bench = Bench(
            args.duration,
            args.repeat,
            [int(c) for c in args.concurrency.split(",")],
            Path(tmp),
            use_wrk,
            use_nginx,
        )
        sections = set(args.sections.split(","))
        try:
            upstream_port, proxy = start_upstream(bench)
            upstream_process = bench.processes[-1]
            if "rest" in sections:
                only = [w for w in args.only.split(",") if w]
                run_targets(bench, upstream_port, proxy, upstream_process, only)
                bench.facts["cold_start_s"] = round(cold_start(bench, upstream_port), 3)
            if "mcp" in sections:
                from bench import mcp

                concurrency = [int(c) for c in args.mcp_concurrency.split(",")]
                bench.mcp_rows = mcp.measure(bench, upstream_port, concurrency, args.mcp_session)
            if "scale" in sections:
                from bench import scale

                sizes = [int(n) for n in args.scale_sizes.split(",")]
                bench.scale_rows = scale.measure(bench, upstream_port, sizes)
        finally:
            bench.stop_all()
        from bench.validation import warm

        specs = [
            ROOT / "capabilities" / "letta-jobs.yaml",
            ROOT / "capabilities" / "letta-runs.yaml",
        ]
        validation = warm(specs, 20)
        bench.facts["validation_ms_per_12kb"] = max(float(r["ms_per_12kb"]) for r in validation)
        bench.facts["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
        bench.facts["load"] = "wrk" if use_wrk else "python"
        bench.facts["upstream"] = "nginx" if use_nginx else "python"
    report = render(bench)
    print()
    print(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(report)
    (out / "latest.json").write_text(
        json.dumps(
            {
                "rows": [asdict(r) for r in bench.rows],
                "mcp": [asdict(r) for r in bench.mcp_rows],
                "scale": [asdict(r) for r in bench.scale_rows],
                "facts": bench.facts,
                "goals": [{"goal": g, "measured": v, "met": m} for g, v, m in goals(bench)],
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
