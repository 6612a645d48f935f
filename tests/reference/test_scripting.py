"""Script steps, following the reference's `engine/scripting/ScriptStepExecutorTest` case by
case (JavaScript and Python; Groovy is refused by `validate`), and the sandbox under attack:
loops, memory bombs, imports, files, network, escapes. Each is a JSON error in its limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from naftiko_runtime.engine.scripting import CompiledScript
from naftiko_runtime.engine.scripting.base import ScriptError, ScriptSettings
from naftiko_runtime.engine.steps import RunState, ScriptStepRunner
from naftiko_runtime.engine.values import compile_value
from naftiko_runtime.model import Argument, Location, ScriptStep
from tests.conftest import REPO
from tests.fixtures.process import serve
from tests.fixtures.specs import api_header
from tests.fixtures.upstream import RecordingUpstream, Reply, running

pytestmark = pytest.mark.anyio
SCRIPTS = REPO / "tests" / "fixtures" / "scripts"
MEMBERS = [
    {"login": "alice", "id": 1, "type": "User"},
    {"login": "bot-ci", "id": 2, "type": "Bot"},
    {"login": "bob", "id": 3, "type": "User"},
]
ITEMS = [
    {"name": "Widget", "stock": 5},
    {"name": "Gadget", "stock": 15},
    {"name": "Gizmo", "stock": 3},
]
HERE = Location("test", 1, 1)


def script(
    file: str,
    language: str | None = None,
    dependencies: tuple[str, ...] = (),
    settings: ScriptSettings | None = None,
    directory: str | None = str(SCRIPTS),
) -> CompiledScript:
    language = language or ("python" if file.endswith(".py") else "javascript")
    step = ScriptStep("step", language, directory, file, dependencies, (), HERE)
    return CompiledScript(step, settings or ScriptSettings(timeout_ms=5000))


async def run(compiled: CompiledScript, context: dict[str, Any] | None = None) -> Any:
    return await compiled(context or {})


@pytest.mark.parametrize("suffix", ["js", "py"])
async def test_execute_should_run_and_return_result(suffix: str) -> None:
    """executeShouldRunJavaScriptAndReturnResult / executeShouldRunPythonAndReturnResult"""
    result = await run(script(f"simple-transform.{suffix}"))
    assert result == {"greeting": "hello", "count": 42, "flag": True}


@pytest.mark.parametrize("suffix", ["js", "py"])
async def test_execute_should_filter_array_from_step_context(suffix: str) -> None:
    """executeShouldFilterArrayFromStepContext / executeShouldFilterArrayWithPython"""
    result = await run(script(f"filter-active.{suffix}"), {"list-members": MEMBERS})
    assert result == [{"login": "alice", "id": 1}, {"login": "bob", "id": 3}]


@pytest.mark.parametrize("suffix", ["js", "py"])
async def test_execute_should_inject_with_parameters(suffix: str) -> None:
    """executeShouldInjectWithParameters: `with: {threshold: "{{minStock}}"}` renders against
    the inputs and earlier outputs, and arrives as a string."""
    value, _ = compile_value(Argument("threshold", None, "{{minStock}}"))
    runner = ScriptStepRunner(
        "filter", script(f"filter-by-threshold.{suffix}"), (("threshold", "threshold", value),)
    )
    runner.deps = ("fetch-items",)  # set by plan_stages: a script reads every earlier step
    state = RunState({"minStock": 10}, {}, outputs={"fetch-items": ITEMS})
    result = await runner.run({"minStock": 10}, state)
    assert [item["name"] for item in result] == ["Widget", "Gizmo"]


@pytest.mark.parametrize("suffix", ["js", "py"])
async def test_execute_should_return_null_when_result_not_assigned(suffix: str) -> None:
    assert await run(script(f"no-result.{suffix}"), {"some-step": 1}) is None


async def test_execute_should_pre_evaluate_dependencies() -> None:
    """executeShouldPreEvaluateDependencies (JavaScript)"""
    compiled = script("active-members.js", dependencies=("lib/array-utils.js",))
    result = await run(compiled, {"list-members": MEMBERS})
    assert result == [{"login": "alice", "id": 1}, {"login": "bob", "id": 3}]


async def test_execute_should_pre_evaluate_python_dependencies() -> None:
    """executeShouldPreEvaluatePythonDependencies"""
    compiled = script("analyze-with-deps.py", dependencies=("lib/stats.py",))
    readings = [{"temperature": t} for t in (20, 25, 30)]
    result = await run(compiled, {"fetch-readings": readings})
    assert result == {"average": 25.0, "min": 20, "max": 30, "count": 3}


# ---------------------------------------------------------------- limits and the sandbox
@pytest.mark.parametrize("suffix", ["js", "py"])
async def test_an_infinite_loop_ends_within_the_timeout(suffix: str) -> None:
    """executeShouldEnforceStatementLimit (in time: V8 has no statement counter)."""
    compiled = script(f"infinite-loop.{suffix}", settings=ScriptSettings(timeout_ms=500))
    started = time.monotonic()
    with pytest.raises(ScriptError) as failure:
        await run(compiled)
    assert failure.value.kind in ("timeout", "statement_limit")
    assert time.monotonic() - started < 5


async def test_python_statement_limit_is_counted() -> None:
    """executeShouldUseConfiguredStatementLimit"""
    settings = ScriptSettings(timeout_ms=5000, statement_limit=10)
    with pytest.raises(ScriptError) as failure:
        await run(script("infinite-loop.py", settings=settings))
    assert failure.value.kind == "statement_limit"
    assert "exceeded the statement limit (10)" in str(failure.value)


@pytest.mark.parametrize("suffix", ["js", "py"])
async def test_a_memory_bomb_is_stopped_by_the_memory_limit(suffix: str) -> None:
    settings = ScriptSettings(timeout_ms=10000, memory_mb=64, statement_limit=10_000_000)
    with pytest.raises(ScriptError) as failure:
        await run(script(f"memory-bomb.{suffix}", settings=settings))
    assert failure.value.kind in ("memory", "failed")


@pytest.mark.parametrize(
    "file",
    [
        "require-fs.js",
        "host-access.py",
        "network.py",
        "escape.py",
        "open-file.py",
        "module-escape.py",
        "codecs-escape.py",
        "attrgetter-escape.py",
        "format-escape.py",
        "getattr-escape.py",
        "nan.py",
    ],
)
async def test_no_file_network_process_or_interpreter_access(file: str) -> None:
    """executeShouldDenyHostAccess / executeShouldDenyHostAccessInPython, and more."""
    with pytest.raises(ScriptError) as failure:
        await run(script(file))
    assert failure.value.kind == "failed"


async def test_curated_modules_still_work() -> None:
    result = await run(script("allowed-modules.py"))
    assert result == {"mean": 2, "root": 4.0, "text": "[1]"}


async def test_a_throwing_script_reports_its_message() -> None:
    with pytest.raises(ScriptError) as failure:
        await run(script("throws.js"), {"value": 7})
    assert "bad input: 7" in str(failure.value)


async def test_loops_do_not_block_the_event_loop() -> None:
    """A looping script runs off the event loop: other work goes on meanwhile."""
    compiled = script("infinite-loop.js", settings=ScriptSettings(timeout_ms=800))
    task = asyncio.ensure_future(run(compiled))
    ticks = 0
    while not task.done():
        await asyncio.sleep(0.05)
        ticks += 1
    assert ticks >= 5
    assert isinstance(task.exception(), ScriptError)


# ---------------------------------------------------------------- files and settings
async def test_execute_should_reject_path_traversal() -> None:
    for file in ("../../etc/passwd", "/etc/passwd", "lib/../../x.js", "%2e%2e/x.js"):
        with pytest.raises(ScriptError):
            await run(script(file))


async def test_a_link_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.js").write_text("result = 'outside';")
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "link.js").symlink_to(tmp_path / "outside.js")
    with pytest.raises(ScriptError) as failure:
        await run(script("link.js", directory=str(folder)))
    assert "leaves its folder" in str(failure.value)


async def test_execute_should_fail_on_missing_file_and_dependency() -> None:
    with pytest.raises(ScriptError):
        await run(script("nonexistent.js"))
    with pytest.raises(ScriptError):
        await run(script("simple-transform.js", dependencies=("nonexistent-dep.js",)))


async def test_defaults_and_allowed_languages() -> None:
    """executeShouldResolveBothDefaultsWhenOmitted, ...RejectLanguageNotInAllowedList,
    ...FailWhenNoDefaultLocationAndStepOmitsIt, requireScriptingPermittedShouldReject..."""
    defaults = ScriptSettings(default_location=SCRIPTS.as_uri(), default_language="javascript")
    step = ScriptStep("step", None, None, "simple-transform.js", (), (), HERE)
    assert (await CompiledScript(step, defaults)({}))["greeting"] == "hello"
    with pytest.raises(ScriptError, match="no 'location'"):
        await CompiledScript(step, ScriptSettings(default_language="javascript"))({})
    with pytest.raises(ScriptError, match="no 'language'"):
        await CompiledScript(step, ScriptSettings(default_location=SCRIPTS.as_uri()))({})
    only_js = ScriptSettings(allowed_languages=("javascript",))
    with pytest.raises(ScriptError, match="not in the allowed languages"):
        await run(script("simple-transform.py", settings=only_js))
    with pytest.raises(ScriptError, match="disabled"):
        await run(script("simple-transform.js", settings=ScriptSettings(enabled=False)))


async def test_execute_should_record_execution_stats() -> None:
    settings = ScriptSettings(timeout_ms=300)
    await run(script("simple-transform.js", settings=settings))
    with pytest.raises(ScriptError):
        await run(script("infinite-loop.js", settings=settings))
    assert (settings.stats.executions, settings.stats.errors) == (2, 1)
    assert settings.stats.last_at is not None


# ---------------------------------------------------------------- end to end
SPEC = (
    api_header()
    + """\
        - name: orders
          path: "/orders"
          operations:
            - name: list-orders
              method: GET
  exposes:
    - type: rest
      namespace: scripted
      port: 8080
      resources:
        - path: "/summary"
          operations:
            - method: GET
              name: summary
              steps:
                - type: call
                  name: fetch
                  call: api.list-orders
                - type: script
                  name: totals
                  language: javascript
                  location: "file:///./scripts"
                  file: summary.js
              mappings:
                - targetName: count
                  value: "$.totals.count"
                - targetName: total
                  value: "$.totals.total"
        - path: "/loop"
          operations:
            - method: GET
              name: loop
              steps:
                - type: script
                  name: spin
                  language: python
                  location: "file:///./scripts"
                  file: infinite-loop.py
              mappings:
                - targetName: never
                  value: "$.spin.x"
"""
)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("scripted")
    (folder / "scripts").mkdir()
    for name in ("summary.js", "infinite-loop.py"):
        (folder / "scripts" / name).write_text((SCRIPTS / name).read_text())
    (folder / "spec.yaml").write_text(SPEC)
    orders = [{"amount": 10.5}, {"amount": 20.0}, {"amount": 30.0}]
    upstream = RecordingUpstream(script={"/orders": Reply(body=orjson.dumps(orders))})
    with running(upstream) as base:
        args = [folder / "spec.yaml", "--upstream", f"api={base}", "--script-timeout", "1000"]
        with serve(*args, ports=[8080]) as process:
            yield process.rest


def test_a_script_step_between_call_and_mappings(scripted: str) -> None:
    reply = httpx.get(scripted + "/summary", timeout=10)
    assert reply.status_code == 200
    assert reply.json() == {"count": 3, "total": 60.5}


def test_a_looping_script_is_a_json_error_and_the_server_keeps_serving(scripted: str) -> None:
    started = time.monotonic()
    reply = httpx.get(scripted + "/loop", timeout=30)
    assert reply.status_code in (500, 504)
    error = reply.json()["error"]
    assert error["type"] in ("script_timeout", "script_statement_limit")
    assert error["step"] == "spin"
    assert time.monotonic() - started < 20
    assert httpx.get(scripted + "/summary", timeout=10).status_code == 200
