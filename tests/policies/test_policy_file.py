"""Where policies live: an operator's file passed to `serve --policies`, checked like a
capability (located diagnostics with rule ids, `validate --policies` too), refused at
start-up when invalid, read again on every reload; without it nothing of the policies is
even imported."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, cli
from tests.fixtures.upstream import RecordingUpstream, running
from tests.policies.served import SPEC, serve_with_policies, write

BAD = """\
naftikoPolicies: "1"
upstreams:
  apii:
    retry: {attempts: 3}
  api:
    retry:
      backoff: {initial: 3, max: 1}
    operations:
      get-itm:
        timeouts: {total: 1}
rateLimits:
  - name: x
    limit: 1
    window: 60
    per: jwt-subject
    routes: ["GET /items/{id}", "GET /nope"]
  - name: x
    limit: 2
    window: 1
    header: X-Key
    tools: [get-item]
"""


def _position(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


def test_validate_reports_every_policy_problem_where_it_stands(tmp_path: Path) -> None:
    spec, policy = write(tmp_path, BAD)
    result = cli("validate", "--format", "json", str(spec), "--policies", str(policy))
    assert result.code == 1
    found = {
        (d["rule"], d["line"], d["column"], d["message"])
        for d in result.json()["diagnostics"]
        if d["file"].endswith("policies.yaml")
    }
    assert found == {
        ("policy-target", *_position(BAD, "apii"), "no capability consumes a namespace 'apii'"),
        (
            "policy-value",
            *_position(BAD, "3, max"),
            "backoff.initial (3 s) is above backoff.max (1 s)",
        ),
        ("policy-target", *_position(BAD, "get-itm"), "namespace 'api' has no operation 'get-itm'"),
        (
            "policy-caller",
            *_position(BAD, "jwt-subject"),
            "per: jwt-subject needs every route and tool it limits behind oauth2 authentication: "
            "elsewhere a token's subject is unchecked, and anyone could spend another caller's "
            "quota",
        ),
        ("policy-target", *_position(BAD, '"GET /nope"'), "no REST operation GET /nope is exposed"),
        (
            "policy-value",
            *_position(BAD, "x\n    limit: 2"),
            "rate limit 'x' is defined twice (first as rateLimits[0])",
        ),
        (
            "policy-value",
            *_position(BAD, "header"),
            "`header` names where an API key is read: it needs per: api-key",
        ),
    }
    hints = {d["hint"] for d in result.json()["diagnostics"] if d.get("hint")}
    assert {"did you mean 'api'?", "did you mean 'get-item'?"} <= hints


def test_a_shape_error_is_a_schema_diagnostic_with_a_suggestion(tmp_path: Path) -> None:
    text = 'naftikoPolicies: "1"\nupstreams:\n  api:\n    timeouts: {totl: 5}\n'
    spec, policy = write(tmp_path, text)
    result = cli("validate", str(spec), "--policies", str(policy), "--ignore", "naftiko-")
    assert result.code == 1
    assert "policies.yaml:4:16: error [schema-unknown-property] unknown property 'totl'" in (
        result.out
    )
    assert "hint: did you mean 'total'?" in result.out
    good = 'naftikoPolicies: "1"\nupstreams:\n  api:\n    timeouts: {total: 5}\n'
    policy.write_text(good)
    assert cli("validate", str(spec), "--policies", str(policy)).code == 0


@pytest.mark.e2e
def test_serve_refuses_an_invalid_policy_file_with_its_diagnostics(tmp_path: Path) -> None:
    spec, policy = write(tmp_path, BAD)
    done = subprocess.run(
        [sys.executable, "-m", "naftiko_runtime", "serve", str(spec), "--policies", str(policy)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    line, column = _position(BAD, "apii")
    assert f"policies.yaml:{line}:{column}: error [policy-target]" in done.stderr
    assert "Traceback" not in done.stderr and "7 error(s)" in done.stderr


LIMIT = """\
naftikoPolicies: "1"
rateLimits:
  - name: {name}
    limit: {limit}
    window: 60
    routes: ["GET /items/{{id}}"]
"""


def _wait_for_line(process: object, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in process.output():  # type: ignore[attr-defined]
            return
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} in the log")


@pytest.mark.e2e
def test_a_reload_applies_a_changed_policy_file_and_refuses_a_bad_one(tmp_path: Path) -> None:
    spec, policy = write(tmp_path, LIMIT.format(name="two", limit=2))
    with (
        running(RecordingUpstream()) as base,
        serve_with_policies(spec, policy, base) as (process, urls),
    ):
        item = urls["rest"] + "/items/1"
        assert [httpx.get(item, timeout=10).status_code for _ in range(3)] == [200, 200, 429]
        policy.write_text(LIMIT.format(name="four", limit=4))
        process.process.send_signal(signal.SIGHUP)
        _wait_for_line(process, "policies from")
        answers = [httpx.get(item, timeout=10) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
        assert answers[-1].headers["ratelimit-policy"] == '"four";q=4;w=60'
        policy.write_text(LIMIT.format(name="four", limit=0))
        process.process.send_signal(signal.SIGHUP)
        _wait_for_line(process, "reload rejected: the policy file is invalid")
        assert httpx.get(item, timeout=10).status_code == 429  # the last good policy holds
        log = process.output()
    assert "policies.yaml:4:12: error [schema-range] 0 is less than the minimum of 1" in log


@pytest.mark.e2e
def test_without_a_policy_file_nothing_of_the_policies_is_loaded(tmp_path: Path) -> None:
    """The request path without `--policies` is the one it was: the same client objects,
    and no policy module imported, even after requests were served."""
    (tmp_path / "shop.yaml").write_text(SPEC)
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        import httpx
        from naftiko_runtime.serving.assemble import compile_runtime
        from naftiko_runtime.serving.options import ServeOptions
        from naftiko_runtime.capability.load import load_paths

        capabilities = load_paths([{str(tmp_path / "shop.yaml")!r}]).capabilities
        options = ServeOptions(upstreams={{"*": "http://127.0.0.1:9"}})
        runtime = compile_runtime(capabilities, {{}}, options)
        app = runtime.rest_apps[8080]

        async def main():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
                print((await c.get("/items/1")).status_code)

        asyncio.run(main())
        print(type(runtime.upstream.for_namespace("api")).__name__)
        print(sorted(m for m in sys.modules if m.startswith("naftiko_runtime.policies")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["502", "PooledUpstream", "[]"], done.stderr
