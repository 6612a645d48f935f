"""A reload keeps no earlier configuration alive. The serving process freezes what each
reload built (so no collection ever scans it: no request stalls behind a 100 ms collection
at 5,000 operations), which means only reference counting frees an old configuration:
nothing of it may sit in a reference cycle."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.options import ServeOptions
from naftiko_runtime.serving.reload import Reloader
from naftiko_runtime.serving.runtime import Runtime
from tests.conftest import CAPABILITIES

ENV = {"LETTA_API_KEY": "k-1234"}


def _compiled() -> Runtime:
    capabilities = load_paths([CAPABILITIES]).capabilities
    return compile_runtime(capabilities, ENV, ServeOptions())


def test_a_reloaded_configuration_is_freed_without_a_collection() -> None:
    runtime = _compiled()
    reloader = Reloader([str(CAPABILITIES)], lambda: ENV, ServeOptions(), runtime)
    live = runtime.mcp_servers[9090].server_set
    gc.collect()
    gc.disable()
    try:
        prepared = reloader.prepare()
        assert prepared is not None and reloader.apply(*prepared)
        first = weakref.ref(next(iter(live.tools.values())))
        temporary = prepared[0].mcp_servers[9090].server_set
        assert temporary.tools == {} and temporary.resources == {}  # handed over, not shared
        mapping = weakref.ref(runtime.rest_ops[8080][0].operation)
        del prepared, temporary
        prepared = reloader.prepare()  # the next reload replaces what the first one built
        assert prepared is not None and reloader.apply(*prepared)
        del prepared
        assert first() is None, "an MCP tool of the replaced configuration is still alive"
        assert mapping() is None, "a REST operation of the replaced configuration is still alive"
    finally:
        gc.enable()


def test_commands_run_without_cyclic_collection_and_leave_it_as_they_found_it() -> None:
    """Loading 5,000 operations took a third longer with collections scanning what was
    being built; a command restores the collector's state (tests run commands in-process)."""
    import io

    from naftiko_runtime import cli
    from naftiko_runtime.cli import validate as command

    seen: list[bool] = []
    real = command.validate

    def spy(*args: object) -> int:
        seen.append(gc.isenabled())
        return real(*args)  # type: ignore[arg-type]

    command.validate = spy  # type: ignore[assignment]
    try:
        code = cli.run(["validate", str(CAPABILITIES)], io.StringIO(), io.StringIO(), {})
    finally:
        command.validate = real
    assert code == 0 and seen == [False] and gc.isenabled()


def test_a_reloaded_configuration_keeps_no_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Positions (and the text a lazily read document would take them from) are only asked
    while a configuration is checked and compiled; the served one keeps none of them."""
    from naftiko_runtime.capability import load
    from naftiko_runtime.serving import reload

    loaded: list[load.LoadResult] = []

    def recording(*args: Any, **kwargs: Any) -> load.LoadResult:
        loaded.append(real(*args, **kwargs))
        return loaded[-1]

    real = reload.load_paths
    monkeypatch.setattr(reload, "load_paths", recording)  # the reload's, not the first load's
    runtime = _compiled()
    reloader = Reloader([str(CAPABILITIES)], lambda: ENV, ServeOptions(), runtime)
    prepared = reloader.prepare()
    assert prepared is not None and reloader.apply(*prepared)
    (result,) = loaded
    assert result.documents
    for source_map in result.source_maps():
        assert source_map.values == {} and source_map.keys == {}
        assert source_map.locate(("capability", "exposes", 0)) == (1, 1)
