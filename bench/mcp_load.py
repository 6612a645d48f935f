"""An MCP load driver built on the official `mcp` client: several processes, each one client
(one session in the handshake era) with its share of the concurrent callers, all starting
at the same instant and stopping after the same duration.

    python -m bench.mcp_load URL --mode 2026-07-28|legacy --concurrency 32 --duration 5 \\
        [--processes 3]

Prints one JSON line: calls/s, p50/p99/max in ms, errors, and the drivers' CPU seconds.
Several processes keep the client's own cost (pydantic models, anyio streams) from being
what is measured: the server's CPU per call is reported beside calls/s for that reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import statistics
import sys
import time
from typing import Any

from bench.data import JOB_ID

CALLS = (("get_job", {"job_id": JOB_ID}), ("list_jobs", {"limit": 5}))


async def _drive(
    url: str, mode: str, callers: int, start_at: float, duration: float
) -> dict[str, Any]:
    from mcp import Client

    latencies: list[float] = []
    errors = 0
    async with Client(url, mode=mode) as client:
        for name, arguments in CALLS:  # warm: the tool list, connections
            await client.call_tool(name, arguments)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        stop_at = time.perf_counter() + duration

        async def caller(index: int) -> None:
            nonlocal errors
            turn = index
            while time.perf_counter() < stop_at:
                name, arguments = CALLS[turn % len(CALLS)]
                turn += 1
                began = time.perf_counter()
                try:
                    result = await client.call_tool(name, arguments)
                    if result.is_error:
                        errors += 1
                except Exception:
                    errors += 1
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(caller(i) for i in range(callers)))
    return {"latencies": latencies, "errors": errors}


def _process(url: str, mode: str, callers: int, start_at: float, duration: float, out: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        result = asyncio.run(_drive(url, mode, callers, start_at, duration))
    except Exception as exc:  # connecting failed: all of this driver's callers count as errors
        result = {"latencies": [], "errors": callers, "failure": repr(exc)}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu"] = usage.ru_utime + usage.ru_stime
    out.send(result)
    out.close()


def drive(url: str, mode: str, concurrency: int, duration: float, processes: int) -> dict[str, Any]:
    """Run the drivers; every process gets concurrency/processes callers (at least one)."""
    processes = max(1, min(processes, concurrency))
    shares = [
        concurrency // processes + (1 if i < concurrency % processes else 0)
        for i in range(processes)
    ]
    start_at = time.time() + 2.0 + 0.3 * processes  # after every driver has connected
    context = multiprocessing.get_context("spawn")
    pipes, children = [], []
    for share in shares:
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(
            target=_process, args=(url, mode, share, start_at, duration, sender)
        )
        child.start()
        pipes.append(receiver)
        children.append(child)
    results = [pipe.recv() for pipe in pipes]
    for child in children:
        child.join(timeout=30)
    latencies = sorted(value for r in results for value in r["latencies"])
    count = len(latencies)

    def at(q: float) -> float:
        return latencies[min(count - 1, int(q * count))] * 1000 if count else 0.0

    failures = [r["failure"] for r in results if "failure" in r]
    return {
        "calls_per_s": count / duration,
        "p50_ms": statistics.median(latencies) * 1000 if count else 0.0,
        "p99_ms": at(0.99),
        "max_ms": latencies[-1] * 1000 if count else 0.0,
        "errors": sum(r["errors"] for r in results),
        "driver_cpu_s": sum(r["cpu"] for r in results),
        "calls": count,
        **({"failure": failures[0]} if failures else {}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--mode", default="2026-07-28")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(drive(args.url, args.mode, args.concurrency, args.duration, args.processes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
