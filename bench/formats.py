"""Decoder cost: each `outputRawFormat` decoder on a ~100 KB payload, against the library it
is built on used raw (what a hand-written integration would call), in the same run.

    .venv/bin/python -m bench.formats [--repeat N]

Prints microseconds per KB for ours and for the raw library, and their ratio. Also measures
how long a 10 MB XML decode blocks the event loop: the largest gap between 1 ms ticks while
it runs (decoding off the loop keeps that near the tick).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import yaml
from lxml import etree
from lxml import html as lxml_html
from markdown_it import MarkdownIt

from naftiko_runtime.engine.formats.delimited import decode_delimited
from naftiko_runtime.engine.formats.html import decode_html
from naftiko_runtime.engine.formats.markdown import decode_markdown
from naftiko_runtime.engine.formats.xml import decode_xml
from naftiko_runtime.engine.response import decode_async
from naftiko_runtime.upstream.base import UpstreamReply


def payloads() -> dict[str, bytes]:
    rows = [(str(i), f"Name {i}", f"user{i}@example.test", str(i * 7)) for i in range(2000)]
    csv_text = "id,name,email,score\n" + "".join(",".join(r) + "\n" for r in rows)
    xml = (
        "<users>"
        + "".join(
            f"<user><id>{a}</id><name>{b}</name><email>{c}</email><score>{d}</score></user>"
            for a, b, c, d in rows[:1200]
        )
        + "</users>"
    )
    html = (
        "<html><body><table><tr><th>id</th><th>name</th><th>email</th><th>score</th></tr>"
        + "".join(
            f"<tr><td>{a}</td><td>{b}</td><td>{c}</td><td>{d}</td></tr>"
            for a, b, c, d in rows[:1500]
        )
        + "</table></body></html>"
    )
    md = (
        "---\ntitle: Users\n---\n\n# Users\nAll of them.\n\n"
        "| id | name | email | score |\n|---|---|---|---|\n"
        + "".join(f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in rows[:1800])
    )
    yml = yaml.safe_dump(
        [{"id": a, "name": b, "email": c, "score": int(d)} for a, b, c, d in rows[:1500]]
    )
    return {
        "csv": csv_text.encode(),
        "xml": xml.encode(),
        "html": html.encode(),
        "markdown": md.encode(),
        "yaml": yml.encode(),
    }


def _raw(fmt: str) -> Callable[[bytes], Any]:
    parser = MarkdownIt("commonmark").enable("table")
    return {
        "csv": lambda b: list(csv.DictReader(io.StringIO(b.decode()))),
        "xml": lambda b: etree.fromstring(
            b, etree.XMLParser(resolve_entities=False, no_network=True)
        ),
        "html": lambda b: lxml_html.document_fromstring(b).findall(".//tr"),
        "markdown": lambda b: parser.parse(b.decode()),
        "yaml": lambda b: yaml.load(b, Loader=yaml.CSafeLoader),
    }[fmt]


def _ours(fmt: str) -> Callable[[bytes], Any]:
    return {
        "csv": lambda b: decode_delimited(b, "csv"),
        "xml": decode_xml,
        "html": decode_html,
        "markdown": decode_markdown,
        "yaml": lambda b: yaml.load(b, Loader=yaml.CSafeLoader),
    }[fmt]


def _time(fn: Callable[[bytes], Any], body: bytes, repeat: int) -> float:
    fn(body)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(body)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def _loop_gap(body: bytes) -> tuple[float, float]:
    """Largest gap between 1 ms ticks while the payload decodes, on and off the loop."""
    from naftiko_runtime.engine.response import decode

    reply = UpstreamReply(200, "application/xml", body)

    async def measure(job: Any) -> float:
        gaps = []
        task = asyncio.ensure_future(job)
        last = time.perf_counter()
        while not task.done():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        await task
        return max(gaps) * 1000

    async def on_loop() -> Any:
        await asyncio.sleep(0)
        return decode(reply, "xml", "bench")

    return await measure(on_loop()), await measure(decode_async(reply, "xml", "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rows = []
    print(f"{'format':<10}{'KB':>7}{'ours us/KB':>12}{'raw us/KB':>11}{'x raw':>7}")
    for fmt, body in payloads().items():
        kb = len(body) / 1024
        ours = _time(_ours(fmt), body, args.repeat) / kb * 1e6
        raw = _time(_raw(fmt), body, args.repeat) / kb * 1e6
        rows.append(
            {
                "format": fmt,
                "kb": round(kb, 1),
                "ours_us_per_kb": round(ours, 2),
                "raw_us_per_kb": round(raw, 2),
                "ratio": round(ours / raw, 2),
            }
        )
        print(f"{fmt:<10}{kb:>7.1f}{ours:>12.2f}{raw:>11.2f}{ours / raw:>7.2f}")
    big = payloads()["xml"] * 1
    big = b"<users>" + big[len(b"<users>") : -len(b"</users>")] * 100 + b"</users>"
    on, off = asyncio.run(_loop_gap(big))
    print(f"10 MB XML: the event loop stalls {on:.0f} ms decoded on it, {off:.1f} ms off it")
    print(
        json.dumps(
            {
                "decoders": rows,
                "xml_10mb_stall_ms": {"on_loop": round(on, 1), "off_loop": round(off, 1)},
            }
        )
    )


if __name__ == "__main__":
    main()
