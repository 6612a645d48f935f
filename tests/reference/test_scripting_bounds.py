"""Script steps under load and hostile scripts, over real loopback against a served spec:
memory V8's heap limit does not see (array buffers, WebAssembly memory), call storms on
both languages, and integers past 64 bits. The server must stay small and keep serving;
what cannot run gets a JSON error at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.process import serve
from tests.fixtures.specs import api_header

SCRIPTS = {
    # 1.5 GB of array buffers, touched so they are real memory, past a 64 MB limit
    "buffers.js": "var keep = [];\n"
    "for (var i = 0; i < 96; i++) keep.push(new Uint8Array(16 * 1024 * 1024).fill(1));\n"
    "result = {held: keep.length};\n",
    # the same through WebAssembly memory (outside the heap too)
    "wasm.js": "var memory = new WebAssembly.Memory({initial: 1, maximum: 65536});\n"
    "for (var i = 0; i < 96; i++) { memory.grow(256); new Uint8Array(memory.buffer).fill(1); }\n"
    "result = {held: memory.buffer.byteLength};\n",
    # a 40 MB heap held for about a second
    "hold.js": "var big = new Array(5000000).fill(1.5);\n"
    "var until = Date.now() + 1000; while (Date.now() < until) {}\n"
    "result = {held: big.length};\n",
    "ok.js": "result = {ok: true};\n",
    # about a second and a half of CPU in one statement (RestrictedPython caps range())
    "slow.py": "import math\nresult = {'total': math.factorial(250000) % 7}\n",
    "quick.py": "result = {'ok': True}\n",
    "big.py": "result = {'big': 2 ** 80}\n",
}


def _route(file: str, target: str) -> str:
    language = "python" if file.endswith(".py") else "javascript"
    step = file.split(".")[0]
    return f"""\
        - path: "/{step}"
          operations:
            - method: GET
              name: {step}
              steps:
                - type: script
                  name: {step}
                  language: {language}
                  location: "file:///./scripts"
                  file: {file}
              mappings:
                - targetName: {target}
                  value: "$.{step}.{target}"
"""


SPEC = (
    api_header()
    + """\
        - name: unused
          path: "/unused"
          operations:
            - name: unused
              method: GET
  exposes:
    - type: rest
      namespace: bounded
      port: 8080
      resources:
"""
    + "".join(
        _route(file, target)
        for file, target in (
            ("buffers.js", "held"),
            ("wasm.js", "held"),
            ("hold.js", "held"),
            ("ok.js", "ok"),
            ("slow.py", "total"),
            ("quick.py", "ok"),
            ("big.py", "big"),
        )
    )
)


class Served:
    def __init__(self, url: str, pid: int) -> None:
        self.url = url
        self.pid = pid

    def status(self, field: str) -> int:
        """A number from the served process's /proc status (kB for memory)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} for {self.pid}")

    def get(self, path: str, timeout: float = 30) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        reply = httpx.get(self.url + path, timeout=timeout)
        return reply, time.monotonic() - started


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("bounded")
    (folder / "scripts").mkdir()
    for name, source in SCRIPTS.items():
        (folder / "scripts" / name).write_text(source)
    (folder / "spec.yaml").write_text(SPEC)
    args = [folder / "spec.yaml", "--script-memory", "64", "--script-timeout", "8000"]
    with serve(*args, ports=[8080]) as process:
        yield Served(process.rest, process.process.pid)


class TreeSampler(threading.Thread):
    """Peaks of the served process and its children together: resident kB and processes."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.peak_processes = 0
        self.done = threading.Event()

    def tree(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
        found = [self.pid]
        for pid in found:
            found.extend(parents.get(pid, []))
        return found

    def run(self) -> None:
        while not self.done.wait(0.05):
            pids = self.tree()
            total = 0
            for pid in pids:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                total += next(
                    (int(line.split()[1]) for line in status.splitlines() if "VmRSS" in line), 0
                )
            self.peak_kb = max(self.peak_kb, total)
            self.peak_processes = max(self.peak_processes, len(pids))


def _storm(
    served: Served, path: str, count: int, started: threading.Event | None = None
) -> list[tuple[int, Any, float]]:
    """`count` calls at once: (status, JSON body, seconds) of each, timed from the request
    (each client is made before the start, so its set-up is not counted)."""
    start = threading.Barrier(count, action=started.set if started else None)

    def call(_: int) -> tuple[int, Any, float]:
        with httpx.Client(timeout=60) as client:
            start.wait(timeout=30)
            began = time.monotonic()
            reply = client.get(served.url + path)
            return reply.status_code, reply.json(), time.monotonic() - began

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


@pytest.mark.parametrize("path", ["/buffers", "/wasm"])
def test_memory_outside_the_heap_is_bounded_and_the_server_keeps_serving(
    served: Served, path: str
) -> None:
    reply, took = served.get(path)
    assert reply.status_code == 500
    error = reply.json()["error"]
    assert error["type"] == "script_memory"
    assert error["step"] == path[1:]
    assert "/" not in error["message"]  # no server path
    assert took < 20
    assert served.status("VmHWM") < 400 * 1024  # the server never held the buffers
    follow, _ = served.get("/ok")
    assert (follow.status_code, follow.json()) == (200, {"ok": True})


def test_a_javascript_storm_is_bounded_and_the_excess_is_refused_at_once(
    served: Served,
) -> None:
    sampler = TreeSampler(served.pid)
    sampler.start()
    try:
        answers = _storm(served, "/hold", 48)
    finally:
        sampler.done.set()
        sampler.join()
    assert sampler.peak_processes <= 1 + 4 + 2 + 2  # server, running, warm JS, warm Python
    assert sampler.peak_kb < 1500 * 1024
    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {200, 503}
    assert statuses.count(200) >= 4
    refused = [(body, took) for status, body, took in answers if status == 503]
    assert len(refused) >= 48 - 4 - 16
    assert all(body["error"]["type"] == "script_busy" for body, _ in refused)
    assert min(took for _, took in refused) < 1.5  # a full queue answers at once
    assert max(took for _, _, took in answers) < 15
    assert served.status("VmHWM") < 400 * 1024
    assert served.status("Threads") < 40
    follow, _ = served.get("/ok")
    assert follow.status_code == 200


def test_a_trivial_python_route_is_not_held_behind_slow_scripts(served: Served) -> None:
    with ThreadPoolExecutor(1) as background:
        started = threading.Event()
        storm = background.submit(_storm, served, "/slow", 24, started)
        assert started.wait(timeout=30)
        time.sleep(0.3)  # the storm holds every interpreter and fills the queue
        javascript, _ = served.get("/ok")  # its own gate: untouched by the Python storm
        reply, took = served.get("/quick")
        answers = storm.result(timeout=120)
    assert took < 3.5
    assert reply.status_code in (200, 503)
    if reply.status_code == 503:
        assert reply.json()["error"]["type"] == "script_busy"
    assert {status for status, _, _ in answers} <= {200, 503}
    assert max(took for _, _, took in answers) < 15
    assert javascript.status_code == 200
    after, _ = served.get("/quick")
    assert (after.status_code, after.json()) == (200, {"ok": True})


def test_integers_past_64_bits_come_back_exact(served: Served) -> None:
    reply, _ = served.get("/big")
    assert reply.status_code == 200
    assert b"1208925819614629174706176" in reply.content
    assert reply.json() == {"big": 2**80}
