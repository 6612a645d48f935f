"""Served folders against a hostile file system, over loopback: an MCP `location` resource
(the official `mcp` client) and a skill adapter (raw HTTP) on a folder holding a FIFO with
no writer, a sparse 300 MB file, a symbolic-link loop and a link out of the folder. Only
regular files are served, never one over `--max-file-size` (10 MiB by default), nothing
stalls the event loop every port shares, and no error names a server path."""

from __future__ import annotations

import contextlib
import io
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import TextResourceContents

from tests.fixtures.process import serve

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
BIG = 300 * 1024 * 1024
LIMIT = "over the 10485760-byte limit"
SPEC = """\
naftiko: "1.0.0-alpha2"
capability:
  exposes:
    - type: mcp
      namespace: files-mcp
      port: 9090
      tools:
        - name: hello
          description: "Say hello"
          outputParameters:
            - name: message
              type: string
              value: "hi"
      resources:
        - name: docs
          label: "Docs"
          uri: "files://docs"
          description: "Every file of the folder"
          location: "file:///./docs"
      prompts:
        - name: piped
          label: "Piped"
          description: "A prompt whose file is a FIFO"
          location: "file:///./docs/pipe"
    - type: skill
      namespace: skills
      port: 8080
      skills:
        - name: hostile
          description: "The hostile folder"
          location: "file:///./docs"
        - name: bulky
          description: "One big file"
          location: "file:///./bulky"
        - name: medium
          description: "Under the limit, over the in-memory part of the zip"
          location: "file:///./medium"
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    folder = tmp_path_factory.mktemp("served")
    (folder / "spec.yaml").write_text(SPEC)
    (folder / "secret.txt").write_text("outside the folder")
    docs = folder / "docs"
    docs.mkdir()
    (docs / "ok.md").write_text("# fine\n")
    os.mkfifo(docs / "pipe")
    with open(docs / "big.bin", "wb") as big:
        os.truncate(big.fileno(), BIG)  # sparse: no disk used
    (docs / "loop1").symlink_to("loop2")
    (docs / "loop2").symlink_to("loop1")
    (docs / "out.txt").symlink_to(folder / "secret.txt")
    (folder / "bulky").mkdir()
    (folder / "bulky" / "SKILL.md").write_text("# Bulky\n")
    with open(folder / "bulky" / "data.bin", "wb") as big:
        os.truncate(big.fileno(), BIG)
    (folder / "medium").mkdir()
    (folder / "medium" / "data.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    try:
        with serve(folder / "spec.yaml", ready="/skills") as process:
            yield {
                **process.urls,
                "folder": str(folder),
                "pid": str(process.process.pid),
            }
    finally:
        _unblock(docs / "pipe")


def _unblock(pipe: Path) -> None:
    """A reader stuck on the FIFO (a server without the fix) gets its end of file."""
    with contextlib.suppress(OSError):
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))


def _rss_kib(pid: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _quick_get(url: str) -> float:
    """Seconds a small request takes: the server's loop is answering."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(url)).status_code == 200
    return time.monotonic() - started


async def _read_error(url: str, uri: str) -> str:
    with anyio.fail_after(10):
        async with Client(url) as client:
            with pytest.raises(MCPError) as caught:
                await client.read_resource(uri)
    return str(caught.value)


async def test_a_fifo_is_refused_and_never_stalls_the_server(served: dict[str, str]) -> None:
    errors: list[str] = []

    async def read_pipe() -> None:
        errors.append(await _read_error(served["mcp"], "files://docs/pipe"))

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(read_pipe)
            await anyio.sleep(0.5)  # the read is in the server by now
            assert await _quick_get(served["rest"] + "/skills") < 2
    finally:
        _unblock(Path(served["folder"], "docs", "pipe"))
    assert errors == ["resource 'files://docs/pipe' cannot be read: not a regular file"]
    with anyio.fail_after(10):
        async with Client(served["mcp"]) as client:
            with pytest.raises(MCPError, match="prompt 'piped': its file cannot be read"):
                await client.get_prompt("piped", {})
    answer = httpx.get(served["rest"] + "/skills/hostile/contents/pipe", timeout=5)
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "type": "not_found",
        "message": "File not served: pipe: not a regular file",
    }


async def test_a_file_over_the_limit_is_refused_with_bounded_memory(
    served: dict[str, str],
) -> None:
    before = _rss_kib(served["pid"])
    message = await _read_error(served["mcp"], "files://docs/big.bin")
    assert message == f"resource 'files://docs/big.bin' cannot be read: {BIG} bytes, {LIMIT}"
    async with httpx.AsyncClient(timeout=10) as client:
        answers = [await client.get(served["rest"] + "/skills/hostile/contents/big.bin")]
        answers += [await client.get(served["rest"] + "/skills/bulky/contents/data.bin")]
    for answer in answers:
        assert answer.status_code == 413
        assert answer.json()["error"]["type"] == "file_too_large"
        assert f"is {BIG} bytes, {LIMIT} (--max-file-size)" in answer.json()["error"]["message"]
    assert _rss_kib(served["pid"]) - before < 64 * 1024


async def test_a_symlink_loop_is_a_clean_error_naming_no_server_path(
    served: dict[str, str],
) -> None:
    message = await _read_error(served["mcp"], "files://docs/loop1")
    assert message == "resource 'files://docs/loop1' cannot be read: symbolic link loop"
    answer = httpx.get(served["rest"] + "/skills/hostile/contents/loop1", timeout=5)
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "type": "not_found",
        "message": "File not served: loop1: symbolic link loop",
    }
    assert served["folder"] not in answer.text and "Traceback" not in answer.text


async def test_only_what_a_read_serves_is_listed(served: dict[str, str]) -> None:
    """A FIFO, a loop and a link out of the folder are not listed; a file over the limit
    is (its read says why it is refused)."""
    with anyio.fail_after(10):
        async with Client(served["mcp"]) as client:
            listed = {r.uri for r in (await client.list_resources()).resources}
            assert listed == {"files://docs/big.bin", "files://docs/ok.md"}
            ok = (await client.read_resource("files://docs/ok.md")).contents[0]
            assert isinstance(ok, TextResourceContents) and ok.text == "# fine\n"
    listing = httpx.get(served["rest"] + "/skills/hostile/contents", timeout=5)
    assert listing.status_code == 200
    assert [f["path"] for f in listing.json()["files"]] == ["big.bin", "ok.md"]
    out = httpx.get(served["rest"] + "/skills/hostile/contents/out.txt", timeout=5)
    assert out.status_code == 400 and "outside the folder" not in out.text


async def test_a_download_is_bounded_and_never_stalls_the_server(
    served: dict[str, str],
) -> None:
    """Over the limit: a 413 at once (nothing zipped); under it: streamed from a spooled
    file, while a small request is answered."""
    before = _rss_kib(served["pid"])
    async with httpx.AsyncClient(timeout=10) as client:
        too_big = await client.get(served["rest"] + "/skills/bulky/download")
        assert too_big.status_code == 413
        assert too_big.json()["error"] == {
            "type": "file_too_large",
            "message": f"skill 'bulky' cannot be downloaded: its files add up to "
            f"{BIG + 8} bytes, {LIMIT} (--max-file-size)",
        }
        hostile = await client.get(served["rest"] + "/skills/hostile/download")
        assert hostile.status_code == 413
        timings: list[float] = []

        async def download() -> None:
            answer = await client.get(served["rest"] + "/skills/medium/download")
            archive = zipfile.ZipFile(io.BytesIO(answer.content))
            assert [(i.filename, i.file_size) for i in archive.infolist()] == [
                ("data.bin", 3 * 1024 * 1024)
            ]

        async def small() -> None:
            timings.append(await _quick_get(served["rest"] + "/skills"))

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(download)
            group.start_soon(small)
    assert timings[0] < 2
    assert _rss_kib(served["pid"]) - before < 64 * 1024


def test_the_limit_is_set_by_max_file_size(served: dict[str, str]) -> None:
    spec = Path(served["folder"], "spec.yaml")
    with serve(spec, "--max-file-size", "1", ready="/skills/medium") as process:
        base = process.rest + "/skills/medium"
        for path in ("/download", "/contents/data.bin"):
            answer = httpx.get(base + path, timeout=10)
            assert answer.status_code == 413
            assert "over the 1048576-byte limit" in answer.json()["error"]["message"]
        ok = httpx.get(process.rest + "/skills/bulky/contents/SKILL.md", timeout=10)
        assert (ok.status_code, ok.text) == (200, "# Bulky\n")
