"""Every shell command in the README and the docs runs as written, or is marked as needing an
outside service.

A page's ```sh blocks run in order, in a scratch folder that holds the checkout's `docs/`,
`capabilities/` and `schemas/`, with `naftiko-runtime` and `python` on the PATH meaning this
checkout. Conventions a page may use (HTML comments, invisible on the site and on GitHub):

- `<!-- not run: WHY -->` right before a block: the block needs a service the tests do not
  have (the package index, a Docker engine, a cluster, minutes of load); WHY is required.
- `<!-- run: COMMAND -->`: a step the reader does by hand (save a file), run at that point.
- `naftiko-runtime serve ...` / `naftiko-runtime demo ...`: started in the background (a new
  one replaces the page's running one, as a reader stops the first) and stopped at the end.
- `# exit N` on a command: the exit status it must give (else 0).
- `# => OUTPUT` lines after a command: what it prints (compared as JSON when it is JSON).

The ports the docs use (8080, 9090, 8090, 9191) are moved to free ones, everywhere on the
page. `npx @modelcontextprotocol/inspector` runs where `scripts/install` put it in
node_modules; elsewhere those commands are skipped, and the test says so."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.e2e

DOCS = REPO / "docs"
PAGES = [
    REPO / "README.md",
    *sorted(p for p in DOCS.rglob("*.md") if not p.is_relative_to(DOCS / "examples")),
]
PORTS = (8080, 9090, 8090, 9191)
INSPECTOR = REPO / "node_modules" / ".bin" / "mcp-inspector"
MARKER = re.compile(r"^<!-- (not run|run): (.*?) -->$")
SERVER = re.compile(r"^(?:\w+=\S+ )*naftiko-runtime (serve|demo)\b")


@dataclass
class Command:
    text: str
    line: int
    code: int = 0
    output: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int
    commands: list[Command]
    not_run: str | None = None


def parse(page: Path) -> list[Block]:
    """The page's shell blocks and hidden steps, in order."""
    blocks: list[Block] = []
    lines = page.read_text().splitlines()
    pending: str | None = None
    n = 0
    while n < len(lines):
        marker = MARKER.match(lines[n].strip())
        if marker and marker.group(1) == "run":
            blocks.append(Block(n + 1, [Command(marker.group(2), n + 1)]))
        elif marker:
            pending = marker.group(2).strip()
        elif lines[n].strip() in ("```sh", "```bash"):
            start, n = n + 1, n + 1
            body: list[str] = []
            while lines[n].strip() != "```":
                body.append(lines[n])
                n += 1
            blocks.append(Block(start, _commands(body, start + 1), pending))
            pending = None
        elif lines[n].strip():
            pending = None  # a marker applies to the block right after it
        n += 1
    return blocks


def _commands(body: list[str], first_line: int) -> list[Command]:
    commands: list[Command] = []
    joined = ""
    for offset, line in enumerate(body):
        if line.startswith("# => ") and commands:
            commands[-1].output.append(line.removeprefix("# => "))
            continue
        if not joined and (not line.strip() or line.lstrip().startswith("#")):
            continue
        joined += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if line.endswith("\\"):
            continue
        status = re.search(r"#\s*exit (\d+)", joined)
        commands.append(
            Command(joined.strip(), first_line + offset, int(status[1]) if status else 0)
        )
        joined = ""
    return commands


def test_every_marker_says_why_and_precedes_a_block() -> None:
    for page in PAGES:
        text = page.read_text()
        for found in re.finditer(r"<!-- not run: (.*?) -->\n(.*)", text):
            where = f"{page.relative_to(REPO)}: {found.group(0)[:60]}"
            assert len(found.group(1).split()) >= 3, where
            assert found.group(2).strip() in ("```sh", "```bash"), where


def test_the_pages_hold_commands_and_most_of_them_run() -> None:
    blocks = [b for page in PAGES for b in parse(page)]
    ran = [c for b in blocks if b.not_run is None for c in b.commands]
    marked = [c for b in blocks if b.not_run is not None for c in b.commands]
    assert len(ran) > 60 and len(marked) < len(ran) / 3, (len(ran), len(marked))


class Page:
    """A scratch folder, the ports of the page, and its background servers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ports = {port: free_port() for port in PORTS}
        self.server: subprocess.Popen[bytes] | None = None
        self.server_log = folder / "server.log"
        bin_dir = folder / ".bin"
        bin_dir.mkdir()
        for name, target in (("naftiko-runtime", "-m naftiko_runtime"), ("python", "")):
            shim = bin_dir / name
            shim.write_text(f'#!/bin/sh\nexec {sys.executable} {target} "$@"\n')
            shim.chmod(0o755)
        for name in ("docs", "capabilities", "schemas", "node_modules"):
            if (REPO / name).exists():
                (folder / name).symlink_to(REPO / name)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("LETTA_", "NAFTIKO_"))}
        self.env.update(
            PATH=f"{bin_dir}:{os.environ['PATH']}",
            PYTHONPATH=str(REPO),
            NO_COLOR="1",
            npm_config_update_notifier="false",
        )

    def moved(self, text: str) -> str:
        return re.sub(
            r"(?<!\d)(8080|9090|8090|9191)(?!\d)", lambda m: str(self.ports[int(m[1])]), text
        )

    def start(self, command: Command) -> None:
        self.stop()
        text = self.moved(command.text)
        text += "".join(f" --port {spec}={port}" for spec, port in self.ports.items())
        log = self.server_log.open("wb")
        self.server = subprocess.Popen(
            ["bash", "-c", "exec " + text],
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while "naftiko-runtime: serving " not in self.server_log.read_text(errors="replace"):
            assert self.server.poll() is None, f"line {command.line}: {text}\n{self.log()}"
            assert time.monotonic() < deadline, f"line {command.line}: not ready\n{self.log()}"
            time.sleep(0.05)
        time.sleep(0.2)  # every socket is bound before the first line; let it settle

    def log(self) -> str:
        return self.server_log.read_text(errors="replace")[-3000:]

    def run(self, command: Command) -> None:
        text = self.moved(command.text)
        done = subprocess.run(
            ["bash", "-c", text],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        where = (
            f"line {command.line}: {text}\n"
            f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-2000:]}"
        )
        assert done.returncode == command.code, where
        if command.output:
            _same(self.moved("\n".join(command.output)), done.stdout, where)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=5)
        self.server = None


def _same(expected: str, got: str, where: str) -> None:
    try:
        assert json.loads(got) == json.loads(expected), where
    except json.JSONDecodeError:
        assert got.strip() == expected.strip(), where


@pytest.fixture
def page_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="naftiko-docs-") as folder:
        yield Path(folder)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_page_commands_run_as_written(page: Path, page_folder: Path) -> None:
    blocks = [b for b in parse(page) if b.not_run is None]
    if not blocks:
        pytest.skip("no commands on this page")
    runner = Page(page_folder)
    skipped: list[str] = []
    try:
        for block in blocks:
            for command in block.commands:
                if "npx @modelcontextprotocol/inspector" in command.text and not INSPECTOR.exists():
                    skipped.append(command.text)
                elif SERVER.match(command.text) and "#" not in command.text:
                    runner.start(command)
                else:
                    runner.run(command)
    finally:
        runner.stop()
    if skipped:
        pytest.skip(f"{len(skipped)} MCP Inspector command(s) need npm's tools (scripts/install)")
