"""Compiling a runtime: one pooled client per consumed namespace, bindings resolved once."""

from __future__ import annotations

from pathlib import Path

import pytest

from naftiko_runtime.capability.load import load_paths
from naftiko_runtime.errors import BindingError
from naftiko_runtime.serving.assemble import compile_runtime
from naftiko_runtime.serving.options import ServeOptions
from tests.conftest import CAPABILITIES


def test_each_consumed_namespace_gets_its_own_client() -> None:
    capabilities = load_paths([CAPABILITIES]).capabilities
    runtime = compile_runtime(capabilities, {"LETTA_API_KEY": "k-1234"}, ServeOptions())
    assert runtime.upstream.namespaces == ["letta-jobs", "letta-runs"]
    clients = {e.operation.call.operation.namespace: set() for e in runtime.rest_ops[8080]}
    for endpoint in runtime.rest_ops[8080]:
        clients[endpoint.operation.call.operation.namespace].add(
            id(endpoint.operation.call.upstream)
        )
    assert all(len(ids) == 1 for ids in clients.values())  # shared within a namespace
    assert clients["letta-jobs"] != clients["letta-runs"]  # separate across namespaces


def test_missing_bindings_name_every_variable_and_line() -> None:
    capabilities = load_paths([CAPABILITIES]).capabilities
    with pytest.raises(BindingError) as missing:
        compile_runtime(capabilities, {}, ServeOptions())
    assert [(name, line) for name, _, line in missing.value.missing] == [
        ("LETTA_API_KEY", 15),
        ("LETTA_API_KEY", 15),
    ]


def test_env_files_read_as_dotenv_tools_write_them(tmp_path: Path) -> None:
    """Inline comments, escapes, quotes with `#` inside, multi-line values (python-dotenv)."""
    from naftiko_runtime.secrets.bindings import read_env_file

    env = tmp_path / ".env"
    env.write_text(
        "# secrets\n"
        "export TOKEN=abc123  # the comment is not part of it\n"
        'QUOTED="has # hash and \\"quotes\\""\n'
        "SINGLE='raw \\n stays'\n"
        'LINES="one\\ntwo"\n'
        "EMPTY=\n"
    )
    assert read_env_file(env) == {
        "TOKEN": "abc123",
        "QUOTED": 'has # hash and "quotes"',
        "SINGLE": "raw \\n stays",
        "LINES": "one\ntwo",
        "EMPTY": "",
    }
