"""Decoder bombs from a hostile upstream, over real loopback: a body of a few bytes to a few
megabytes that its declared format would blow up into gigabytes or minutes of CPU. Each is
the documented 502 `upstream_bad_response` within seconds, the served process stays within a
few hundred megabytes, and a trivial request sent while the bomb decodes is answered at once
(decoding never holds the event loop)."""

from __future__ import annotations

import json
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.process import serve
from tests.fixtures.raw_upstream import http, raw_upstream
from tests.fixtures.specs import api_header

pytestmark = pytest.mark.e2e

MB = 1024 * 1024
PEAK_RSS_MB = 600  # the served process, start-up included, across every bomb below
GUARD_BYTES = 2 << 30  # address space the served process gets: spares the machine if a
# decoder were unbounded (this file run against an older tree), far above what it needs
ANSWER_SECONDS = 15  # the decode limit is 5 s of CPU; the machine may be shared


def _zigzag(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _avro_container() -> bytes:
    """~100 bytes: an object container whose embedded schema is `null` and whose one block
    claims 2^62 records (each zero bytes long)."""
    schema = b'"null"'
    key = b"avro.schema"
    sync = b"0123456789abcdef"
    header = b"Obj\x01" + _zigzag(1) + _zigzag(len(key)) + key + _zigzag(len(schema)) + schema
    return header + _zigzag(0) + sync + _zigzag(2**62) + _zigzag(0) + sync


def _markdown_table(size: int) -> bytes:
    """A 2000-column header over rows of one cell: each row is padded to every column."""
    head = b"|" + b"a|" * 2000 + b"\n|" + b"-|" * 2000 + b"\n"
    return head + b"x\n" * ((size - len(head)) // 2)


def _wide_csv() -> bytes:
    """15 MB: 10,000 named columns over rows of empty cells (each cell repeats its name)."""
    head = b",".join(b"column_%05d" % i for i in range(10_000)) + b"\n"
    return head + (b"," * 9_999 + b"\n") * ((15 * MB - len(head)) // 10_000)


BOMBS: dict[str, tuple[str, bytes, str]] = {  # path segment: format, body, content type
    "avro": ("avro", _avro_container(), "application/avro"),
    "md-table": ("markdown", _markdown_table(7 * MB + MB // 2), "text/markdown"),
    "md-table-small": ("markdown", _markdown_table(3 * MB), "text/markdown"),
    "md-brackets": ("markdown", b"[" * (4 * MB - 64), "text/markdown"),  # ~40 s of parsing
    "csv": ("csv", _wide_csv(), "text/csv"),
    "xml": ("xml", b"<r>" + b'<a x=""/>' * (15 * MB // 9) + b"</r>", "application/xml"),
}
SPEC_HEAD = (
    api_header("bombs")
    + """\
        - name: ok
          path: "/ok"
          operations:
            - name: get-ok
              method: GET
"""
)


def _spec() -> str:
    consumed, routes = [], ['        - path: "/ok"\n          operations:']
    routes.append("            - method: GET\n              call: bombs.get-ok")
    for name, (fmt, _, _) in BOMBS.items():
        schema = '\n              outputSchema: "item.avsc"' if fmt == "avro" else ""
        consumed.append(
            f'        - name: {name}\n          path: "/{name}"\n          operations:\n'
            f"            - name: get-{name}\n              method: GET\n"
            f"              outputRawFormat: {fmt}{schema}"
        )
        routes.append(
            f'        - path: "/{name}"\n          operations:\n            - method: GET\n'
            f"              call: bombs.get-{name}"
        )
    exposes = "  exposes:\n    - type: rest\n      namespace: bombs-rest\n      port: 8080\n"
    return (
        SPEC_HEAD
        + "\n".join(consumed)
        + "\n"
        + exposes
        + "      resources:\n"
        + ("\n".join(routes) + "\n")
    )


def _replies() -> dict[str, Any]:
    replies: dict[str, Any] = {
        "ok": lambda head: http("200 OK", b'{"ok": true}', b"Content-Type: application/json")
    }
    for name, (_, body, kind) in BOMBS.items():
        replies[name] = lambda head, body=body, kind=kind: http(
            "200 OK", body, f"Content-Type: {kind}".encode()
        )
    return replies


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("bombs")
    spec = folder / "bombs.yaml"
    spec.write_text(_spec())
    (folder / "item.avsc").write_text(json.dumps({"type": "array", "items": "long"}))
    with raw_upstream(_replies()) as base:
        args = [spec, "--upstream", f"bombs={base}", "--timeout", "120"]
        with serve(*args, ports=[8080], ready=None) as process:
            resource.prlimit(process.process.pid, resource.RLIMIT_AS, (GUARD_BYTES,) * 2)
            process.wait_ready(process.rest + "/openapi.json")
            yield {"url": process.rest, "process": process, "folder": folder}


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _bomb_while_probing(url: str, path: str, pid: int) -> tuple[httpx.Response, float, list[float]]:
    """The bomb's answer and how long it took, and the latencies of trivial requests sent
    one after another meanwhile."""
    answer: dict[str, Any] = {}

    def send() -> None:
        start = time.monotonic()
        try:
            answer["reply"] = httpx.get(url + path, timeout=ANSWER_SECONDS * 4)
        finally:
            answer["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    time.sleep(0.3)  # the body is on its way and decoding
    probes: list[float] = []
    with httpx.Client(timeout=ANSWER_SECONDS * 4) as client:
        while thread.is_alive() and len(probes) < 400:
            start = time.monotonic()
            assert client.get(url + "/ok").json() == {"ok": True}
            probes.append(time.monotonic() - start)
            time.sleep(0.02)
    thread.join(ANSWER_SECONDS * 4)
    assert "reply" in answer, f"no answer to {path} in {answer.get('seconds')} s"
    return answer["reply"], answer["seconds"], probes


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_decoder_bomb_is_a_prompt_502_in_bounded_memory(
    served: dict[str, Any], name: str
) -> None:
    pid = served["process"].process.pid
    reply, seconds, probes = _bomb_while_probing(served["url"], f"/{name}", pid)
    assert reply.status_code == 502, (name, reply.status_code, reply.text[:300])
    assert reply.headers["content-type"] == "application/json"
    error = reply.json()["error"]
    assert error["type"] == "upstream_bad_response", error
    assert f"bombs.get-{name}" in error["message"] and "decoding limits" in error["message"]
    assert str(served["folder"]) not in reply.text and "Traceback" not in reply.text
    assert seconds < ANSWER_SECONDS, (name, seconds)
    assert max(probes, default=0) < 1.0, (name, sorted(probes)[-5:])
    peak = _status_kb(pid, "VmHWM") // 1024
    assert peak < PEAK_RSS_MB, (name, peak)
    assert served["process"].process.poll() is None  # still serving


def test_trivial_requests_go_on_while_a_bomb_spends_its_cpu(served: dict[str, Any]) -> None:
    """The Markdown bracket run takes markdown-it ~40 s: it is stopped at the 5 s CPU bound,
    and requests sent meanwhile are answered as if nothing ran."""
    pid = served["process"].process.pid
    reply, seconds, probes = _bomb_while_probing(served["url"], "/md-brackets", pid)
    assert reply.status_code == 502 and "CPU" in reply.json()["error"]["message"]
    assert len(probes) >= 10, probes  # the bomb ran for seconds, probed all along
    assert max(probes) < 1.0, sorted(probes)[-5:]
    assert _status_kb(pid, "VmRSS") // 1024 < PEAK_RSS_MB
