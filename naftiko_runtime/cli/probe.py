"""`health`, `status`, `metrics` and `traces`: a running instance's control port, read and
printed for people (or as JSON)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any, TextIO

import httpx
from prometheus_client.parser import text_string_to_metric_families

from naftiko_runtime.cli.commands import EXIT_INVALID, EXIT_OK
from naftiko_runtime.errors import UsageError

PATHS = {"health": "/health/ready", "status": "/status", "metrics": "/metrics"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--control",
        default="http://127.0.0.1:9191",
        metavar="URL",
        help="the instance's control port (default %(default)s)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people, or JSON as the port answers it",
    )


def add_traces_arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser)
    parser.add_argument("--operation", help="only traces whose root span name has this")
    parser.add_argument("--status", choices=("OK", "ERROR"), help="only these")


def probe(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, environ: Mapping[str, str]
) -> int:
    path = PATHS.get(args.command, "/traces")
    query = {
        key: value
        for key in ("operation", "status")
        if (value := getattr(args, key, None)) is not None
    }
    try:
        reply = httpx.get(args.control.rstrip("/") + path, params=query, timeout=10)
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot reach the control port at {args.control}: {exc}") from None
    if args.command == "metrics":
        stdout.write(_metrics(reply.text) if args.format == "json" else reply.text)
        return EXIT_OK if reply.is_success else EXIT_INVALID
    data = reply.json()
    if args.format == "json":
        stdout.write(json.dumps(data, indent=2) + "\n")
    elif args.command == "traces":
        stdout.write(_traces(data))
    elif args.command == "health":
        stdout.write(_health(data))
    else:
        stdout.write(_status(data))
    if args.command == "health":
        return EXIT_OK if reply.status_code == 200 else EXIT_INVALID
    return EXIT_OK if reply.is_success else EXIT_INVALID


def _metrics(text: str) -> str:
    samples = [
        {"name": s.name, "labels": s.labels, "value": s.value}
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]
    return json.dumps(samples, indent=2) + "\n"


def _traces(data: dict[str, Any]) -> str:
    lines = [f"{data.get('bufferUsed')} of {data.get('bufferSize')} traces kept\n"]
    for trace in data.get("traces", []):
        lines.append(
            f"{trace['timestamp']}  {trace['traceId']}  {trace['status']:<5}  "
            f"{trace['durationMs']:>9.1f} ms  {trace['spanCount']:>3} spans  "
            f"{trace['operation']}\n"
        )
    return "".join(lines)


def _health(data: dict[str, Any]) -> str:
    lines = [f"{data.get('status')}\n"]
    for adapter in data.get("adapters", []):
        where = f":{adapter['port']}" if adapter.get("port") else ""
        lines.append(
            f"  {adapter['type']:<8}{adapter.get('namespace') or '':<28}{where:<8}"
            f"{adapter.get('state', '')}\n"
        )
    return "".join(lines)


def _status(data: dict[str, Any]) -> str:
    lines = [
        f"{capability.get('label') or capability['file']}  "
        f"(naftiko {capability.get('specVersion')})\n"
        for capability in data.get("capabilities", [])
    ]
    engine = data.get("engine", {})
    lines.append(
        f"engine {engine.get('name')} {engine.get('version')}, "
        f"up {data.get('uptime')}, draining: {data.get('draining')}\n"
    )
    last = data.get("lastReload")
    if last:
        lines.append(f"last reload: {'ok' if last['ok'] else 'rejected'}\n")
    return "".join(lines)
