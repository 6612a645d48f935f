"""MCP: naftiko-runtime against FastMCP's `from_openapi`, over the same upstream and the same
two jobs routes, in both protocol eras.

Two drivers. The official `mcp` client (`bench.mcp_load`, several processes) gives what a
client sees, at concurrency 1, 8 and 32, and one handshake-era session shared by 16 callers
(the worst case for a session's task machinery). On a 2-core machine that client costs more
CPU per call than either server, so its calls/s say more about the client than the server:
wrk, replaying the very request the official client sends (headers and body, captured from
it), drives each server to its own limit at 8 and 32. Beside every row: the server's CPU
milliseconds per call, the figure a saturated driver cannot distort.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.data import JOB_ID, TOKEN
from bench.run import Bench, Process, cpu_seconds, free_port, wrk_script

ERAS = ("2026-07-28", "legacy")
HANDSHAKE_VERSION = "2025-11-25"
TOOL = "get_job"
ARGUMENTS = {"job_id": JOB_ID}
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
TARGETS = ("naftiko", "fastmcp")


@dataclass
class McpRow:
    target: str
    era: str
    driver: str  # "client" (official mcp client, N processes) or "wrk"
    concurrency: int
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float | None
    errors: int
    server_ms_per_call: float
    driver_cores: float
    runs: list[float] = field(default_factory=list)


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            **headers,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return {k.lower(): v for k, v in response.headers.items()}, response.read()


def _call_body(era: str) -> dict[str, Any]:
    params: dict[str, Any] = {"name": TOOL, "arguments": ARGUMENTS}
    if era != "legacy":
        params["_meta"] = META
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}


def _headers(url: str, era: str) -> dict[str, str]:
    """The headers the official client sends on a `tools/call`; in the handshake era after
    an `initialize` of its own, so every wrk connection shares that one session."""
    if era != "legacy":
        return {"mcp-protocol-version": era, "mcp-method": "tools/call", "mcp-name": TOOL}
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": HANDSHAKE_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp", "version": "0.1.0"},
        },
    }
    headers, _ = _post(url, initialize, {})
    session = {"mcp-session-id": headers["mcp-session-id"]}
    version = {"mcp-protocol-version": HANDSHAKE_VERSION}
    _post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, {**session, **version})
    return {**session, **version}


def _wrk_lua(url: str, era: str) -> str:
    headers = _headers(url, era)
    body = json.dumps(_call_body(era), separators=(",", ":"))
    _, answer = _post(url, json.loads(body), headers)  # the replayed call succeeds
    if b'"isError":true' in answer or b'"error"' in answer:
        raise RuntimeError(f"{url}: the replayed call fails: {answer[:200]!r}")
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines.append('wrk.headers["content-type"] = "application/json"')
    lines.append('wrk.headers["accept"] = "application/json, text/event-stream"')
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    lines.append('request = function() return wrk.format(nil, "/mcp") end')
    return "\n".join(lines) + "\n"


def _client(
    url: str, era: str, concurrency: int, duration: float, processes: int
) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.mcp_load",
            url,
            "--mode",
            era,
            "--concurrency",
            str(concurrency),
            "--duration",
            str(duration),
            "--processes",
            str(processes),
        ],
        capture_output=True,
        text=True,
        timeout=duration + 90,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def plan(
    concurrency: Sequence[int], session_callers: int, use_wrk: bool
) -> list[tuple[str, str, int, int]]:
    """(era, driver, concurrency, driver processes): the official client at each
    concurrency in both eras, one handshake session shared by `session_callers`, and wrk
    (when installed) at each concurrency above 1."""
    steps = [(era, "client", c, min(c, 3)) for era in ERAS for c in concurrency]
    if session_callers:
        steps.append(("legacy", "client", session_callers, 1))
    if use_wrk:
        steps += [(era, "wrk", c, 1) for era in ERAS for c in concurrency if c > 1]
    else:
        print("note: wrk is not installed; MCP rows with the official client only")
    return steps


def measure(
    bench: Bench, upstream: int, concurrency: Sequence[int] = (1, 8, 32), session_callers: int = 16
) -> list[McpRow]:
    """Start both servers, run PLAN interleaved `bench.repeat` times, keep each median."""
    env = {"UPSTREAM": f"http://127.0.0.1:{upstream}", "BENCH_TOKEN": TOKEN}
    servers: dict[str, tuple[str, Process]] = {}
    for target in TARGETS:
        port = free_port()
        if target == "naftiko":
            argv = [
                sys.executable,
                "-m",
                "naftiko_runtime",
                "serve",
                "bench/capabilities/bench-mcp.yaml",
                "--port",
                f"9090={port}",
                "--upstream",
                f"jobs-api=http://127.0.0.1:{upstream}",
            ]
        else:
            argv = [sys.executable, "-m", "bench.peers.fastmcp_peer", str(port)]
        process = bench.start(f"mcp-{target}", argv, env)
        process.wait_ready(port, "/mcp", accept_any=True)
        servers[target] = (f"http://127.0.0.1:{port}/mcp", process)
    steps = plan(concurrency, session_callers, bench.use_wrk)
    samples: dict[tuple[str, str, str, int], list[McpRow]] = {}
    for round_ in range(bench.repeat):
        for era, driver, callers, processes in steps:
            for target, (url, process) in servers.items():
                before = cpu_seconds(process.popen.pid)
                if driver == "client":
                    result = _client(url, era, callers, bench.duration, processes)
                    calls, rps = result["calls"], result["calls_per_s"]
                    p50, p99, top = result["p50_ms"], result["p99_ms"], result["max_ms"]
                    errors, driver_cpu = result["errors"], result["driver_cpu_s"]
                else:
                    port = int(url.rsplit(":", 1)[1].split("/")[0])
                    lua = _wrk_lua(url, era)
                    sample = wrk_script(port, callers, bench.duration, bench.workdir, lua)
                    rps, p50, p99, top = sample.rps, sample.p50_ms, sample.p99_ms, None
                    calls, errors, driver_cpu = rps * bench.duration, sample.errors, 0.0
                used = cpu_seconds(process.popen.pid) - before
                samples.setdefault((target, era, driver, callers), []).append(
                    McpRow(
                        target,
                        era,
                        driver,
                        callers,
                        round(rps, 1),
                        round(p50, 2),
                        round(p99, 2),
                        None if top is None else round(top, 1),
                        errors,
                        round(1000 * used / max(1.0, calls), 3),
                        round(driver_cpu / bench.duration, 2),
                    )
                )
        print(f"  mcp round {round_ + 1}/{bench.repeat} done", flush=True)
    rows = []
    for key, runs in samples.items():
        ordered = sorted(runs, key=lambda r: r.calls_per_s)
        median = ordered[len(ordered) // 2]
        median.runs = [r.calls_per_s for r in runs]
        median.errors = sum(r.errors for r in runs)
        median.max_ms = max((r.max_ms for r in runs if r.max_ms is not None), default=None)
        rows.append(median)
        print(
            f"  mcp {key[0]:<8} {key[1]:<10} {key[2]:<6} c={key[3]:<3} "
            f"{median.calls_per_s:>8.0f} calls/s p50 {median.p50_ms:6.2f} p99 {median.p99_ms:7.2f} "
            f"server {median.server_ms_per_call:.3f} ms CPU/call",
            flush=True,
        )
    for _, process in servers.values():
        process.stop()
    return rows


def _find(rows: list[McpRow], target: str, era: str, driver: str, c: int) -> McpRow | None:
    return next(
        (r for r in rows if (r.target, r.era, r.driver, r.concurrency) == (target, era, driver, c)),
        None,
    )


def goals(rows: list[McpRow]) -> list[tuple[str, str, bool | None]]:
    out: list[tuple[str, str, bool | None]] = []
    era = "2026-07-28"
    for c in (8, 32):
        ours, peer = _find(rows, "naftiko", era, "wrk", c), _find(rows, "fastmcp", era, "wrk", c)
        if ours and peer:
            ratio = ours.calls_per_s / peer.calls_per_s
            out.append((f"MCP {era} c={c}: calls/s >= 2.5x FastMCP", f"{ratio:.2f}x", ratio >= 2.5))
            cpu = ours.server_ms_per_call / peer.server_ms_per_call
            out.append(
                (
                    f"MCP {era} c={c}: server CPU per call <= 1/3 of FastMCP's",
                    f"{ours.server_ms_per_call:.3f} vs {peer.server_ms_per_call:.3f} ms "
                    f"({cpu:.2f}x)",
                    cpu <= 1 / 3,
                )
            )
            p99 = ours.p99_ms / peer.p99_ms
            out.append(
                (
                    f"MCP {era} c={c}: p99 <= 0.5x FastMCP's",
                    f"{ours.p99_ms:.2f} vs {peer.p99_ms:.2f} ms ({p99:.2f}x)",
                    p99 <= 0.5,
                )
            )
    session = _find(rows, "naftiko", "legacy", "client", 16)
    if session and session.max_ms is not None:
        out.append(
            (
                "MCP handshake era, one session, c=16: no call over 250 ms",
                f"max {session.max_ms:.0f} ms",
                session.max_ms <= 250,
            )
        )
    return out


def render(rows: list[McpRow]) -> str:
    lines = [
        "| target | era | driver | c | calls/s | p50 ms | p99 ms | max ms | server CPU ms/call "
        "| x FastMCP calls/s | driver cores | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: (r.driver, r.era, r.concurrency, r.target)):
        peer = _find(rows, "fastmcp", row.era, row.driver, row.concurrency)
        ratio = f"{row.calls_per_s / peer.calls_per_s:.2f}" if peer and peer.calls_per_s else ""
        top = "" if row.max_ms is None else f"{row.max_ms:.1f}"
        cores = f"{row.driver_cores:.2f}" if row.driver == "client" else ""
        lines.append(
            f"| {row.target} | {row.era} | {row.driver} | {row.concurrency} | "
            f"{row.calls_per_s:,.0f} | {row.p50_ms:.2f} | {row.p99_ms:.2f} | {top} | "
            f"{row.server_ms_per_call:.3f} | {ratio} | {cores} | {row.errors} |"
        )
    return "\n".join(lines) + "\n"
