"""Shared helpers: run the CLI in-process and write specs to temporary files; the layer
markers (tests/fixtures/layers.py), one per test, and the check that keeps `unit` in-process."""

from __future__ import annotations

import io
import json
import textwrap
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from naftiko_runtime.cli import run
from tests.fixtures.layers import LAYERS, SLOW, InProcessOnly, layer_of

REPO = Path(__file__).resolve().parent.parent
CAPABILITIES = REPO / "capabilities"
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
TESTS = Path(__file__).resolve().parent


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*argv: str, environ: dict[str, str] | None = None) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err, environ or {})
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def anyio_backend() -> str:
    """asyncio only: the runtime serves on asyncio (uvicorn, the MCP SDK), never on trio."""
    return "asyncio"


def pytest_configure(config: pytest.Config) -> None:
    for name, meaning in LAYERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")
    config.addinivalue_line("markers", f"slow: {SLOW}")


LAYER = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mixed = []
    for item in items:
        layer = item.stash[LAYER] = layer_of(item, TESTS)
        named = {mark.name for mark in item.iter_markers() if mark.name in LAYERS}
        if named - {layer}:
            mixed.append(f"{item.nodeid}: {layer} by its folder, marked {', '.join(named)}")
        elif not named:
            item.add_marker(layer)
    if mixed:
        raise pytest.UsageError("a test is in exactly one layer:\n" + "\n".join(mixed))


def _in_process_only(item: pytest.Item) -> Generator[None, object, object]:
    if item.stash.get(LAYER, "unit") != "unit":
        return (yield)
    with InProcessOnly(item.nodeid) as guard:
        result = yield
    if guard.broken:  # refused in a thread, where the failure did not reach the test
        pytest.fail(f"{item.nodeid}: {guard.broken[0]}; mark it e2e", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _in_process_only(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _in_process_only(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _in_process_only(item))
