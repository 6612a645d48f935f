"""Spec scale: one generated capability with 100, 1,000 and 5,000 operations (each consumed
operation exposed once over REST and once as an MCP tool), measured as a user meets it:
`validate` wall time, `serve` to the first 200, the server's RSS, and a SIGHUP reload of the
same file while a client keeps calling (how long the reload takes, and the longest any
request waited meanwhile).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.run import Bench, free_port

SIZES = (100, 1_000, 5_000)


@dataclass
class ScaleRow:
    operations: int
    spec_kb: float
    validate_s: float
    first_200_s: float
    rss_mb: float
    reload_s: float
    reload_stall_ms: float
    requests_during_reload: int

    def per_operation(self) -> str:
        n = self.operations
        return (
            f"{1000 * self.validate_s / n:.2f} ms validate, "
            f"{1000 * self.first_200_s / n:.2f} ms start, {1024 * self.rss_mb / n:.0f} KB"
        )


PER_FILE = 1_000  # a capability file is at most 2 MiB (`yaml-too-large`): ~1.1 KB per operation


def generate(operations: int, first: int = 0, part: int = 0) -> str:
    """A capability a large OpenAPI import would give: `operations` GET resources upstream,
    each served at its own REST path with a mapping, and as a tool; `part` keeps the
    namespaces of several such files apart."""
    consumed, exposed, tools = [], [], []
    for n in range(first, first + operations):
        consumed.append(
            f"""        - name: item-{n}
          path: "/v1/jobs/{n}/{{item_id}}"
          operations:
            - name: get-item-{n}
              method: GET
              inputParameters:
                - name: item_id
                  in: path
"""
        )
        exposed.append(
            f"""        - path: "/items-{n}/{{item-id}}"
          name: item-{n}
          description: "Item {n}."
          operations:
            - method: GET
              name: get-item-{n}
              call: items-api-{part}.get-item-{n}
              with:
                item_id: items-rest-{part}.item-id
              outputParameters:
                - type: object
                  properties:
                    id: {{type: string, mapping: "$.id"}}
                    state: {{type: string, mapping: "$.status"}}
"""
        )
        tools.append(
            f"""        - name: get-item-{n}
          description: "Item {n} by id."
          call: items-api-{part}.get-item-{n}
          inputParameters:
            - name: item_id
              type: string
              description: "The item's id."
          with:
            item_id: items-mcp-{part}.item_id
          outputParameters:
            - type: object
              mapping: "$."
"""
        )
    return f"""naftiko: "1.0.0-alpha2"
info:
  label: "Scale {part}"
  description: "{operations} generated operations."
capability:
  consumes:
    - type: http
      namespace: items-api-{part}
      description: "The generated upstream."
      baseUri: "http://127.0.0.1:9"
      resources:
{"".join(consumed)}  exposes:
    - type: rest
      namespace: items-rest-{part}
      port: 8080
      resources:
{"".join(exposed)}    - type: mcp
      namespace: items-mcp-{part}
      port: 9090
      description: "The generated tools."
      tools:
{"".join(tools)}"""


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _get(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.read()
        return int(head.split(b" ", 2)[1])
    finally:
        writer.close()


async def _calls_during(port: int, path: str, seconds: float) -> tuple[float, int]:
    """Call `path` back to back on fresh connections for `seconds`; the longest call (ms)."""
    longest, count = 0.0, 0
    stop_at = time.perf_counter() + seconds
    while time.perf_counter() < stop_at:
        began = time.perf_counter()
        status = await _get(port, path)
        longest = max(longest, (time.perf_counter() - began) * 1000)
        count += status == 200
    return longest, count


def _reloaded(log: Path, count: int) -> bool:
    return log.read_text(errors="replace").count("reloaded") >= count


def write_specs(directory: Path, operations: int) -> int:
    """`operations` spread over files of at most PER_FILE; the bytes written."""
    directory.mkdir(parents=True, exist_ok=True)
    size = 0
    for part, first in enumerate(range(0, operations, PER_FILE)):
        text = generate(min(PER_FILE, operations - first), first, part)
        (directory / f"scale-{part}.yaml").write_text(text)
        size += len(text.encode())
    return size


def measure_one(bench: Bench, upstream: int, operations: int) -> ScaleRow:
    spec = bench.workdir / f"scale-{operations}"
    size = write_specs(spec, operations)
    cli = [sys.executable, "-m", "naftiko_runtime"]
    began = time.perf_counter()
    subprocess.run([*cli, "validate", str(spec)], check=True, capture_output=True, timeout=300)
    validate_s = time.perf_counter() - began
    port, mcp = free_port(), free_port()
    argv = [
        *cli,
        "serve",
        str(spec),
        "--port",
        f"8080={port}",
        "--port",
        f"9090={mcp}",
    ]
    for part in range((operations + PER_FILE - 1) // PER_FILE):
        argv += ["--upstream", f"items-api-{part}=http://127.0.0.1:{upstream}"]
    process = bench.start(f"scale-{operations}", argv)
    path = f"/items-{operations - 1}/x"  # the last operation compiled
    first_200 = process.wait_ready(port, path, timeout=300)
    rss = _rss_mb(process.popen.pid)
    stall, during = 0.0, 0
    reload_s = 0.0

    async def reload() -> tuple[float, int, float]:
        calls = asyncio.create_task(_calls_during(port, path, 0.5))
        await asyncio.sleep(0.1)
        sent = time.perf_counter()
        os.kill(process.popen.pid, signal.SIGHUP)
        while not _reloaded(process.log_path, 1):
            if time.perf_counter() - sent > 300:
                raise RuntimeError(f"no reload in 300 s:\n{process.log_path.read_text()[-2000:]}")
            await asyncio.sleep(0.005)
        took = time.perf_counter() - sent
        longest, count = await calls
        more_longest, more = await _calls_during(port, path, 0.2)
        return max(longest, more_longest), count + more, took

    stall, during, reload_s = asyncio.run(reload())
    process.stop()
    return ScaleRow(
        operations,
        round(size / 1024, 1),
        round(validate_s, 3),
        round(first_200, 3),
        round(rss, 1),
        round(reload_s, 3),
        round(stall, 1),
        during,
    )


def measure(bench: Bench, upstream: int, sizes: Sequence[int] = SIZES) -> list[ScaleRow]:
    rows = []
    for operations in sizes:
        row = measure_one(bench, upstream, operations)
        print(
            f"  scale {operations:>5} ops: validate {row.validate_s:.2f} s, first 200 "
            f"{row.first_200_s:.2f} s, RSS {row.rss_mb:.0f} MB, reload {row.reload_s:.2f} s, "
            f"stall {row.reload_stall_ms:.0f} ms",
            flush=True,
        )
        rows.append(row)
    return rows


def goals(rows: list[ScaleRow]) -> list[tuple[str, str, bool | None]]:
    largest = max(rows, key=lambda r: r.operations)
    n = largest.operations
    return [
        (f"{n} ops: validate <= 1 s", f"{largest.validate_s:.2f} s", largest.validate_s <= 1.0),
        (
            f"{n} ops: first 200 <= 2 s",
            f"{largest.first_200_s:.2f} s",
            largest.first_200_s <= 2.0,
        ),
        (f"{n} ops: RSS <= 150 MB", f"{largest.rss_mb:.0f} MB", largest.rss_mb <= 150),
        (
            f"{n} ops: a reload stalls no request > 50 ms",
            f"{largest.reload_stall_ms:.0f} ms",
            largest.reload_stall_ms <= 50,
        ),
    ]


def render(rows: list[ScaleRow]) -> str:
    lines = [
        "| operations | spec KB | validate s | first 200 s | RSS MB | reload s "
        "| longest request during reload ms | per operation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.operations:,} | {r.spec_kb:,.0f} | {r.validate_s:.2f} | {r.first_200_s:.2f} | "
            f"{r.rss_mb:.0f} | {r.reload_s:.2f} | {r.reload_stall_ms:.0f} | {r.per_operation()} |"
        )
    return "\n".join(lines) + "\n"
