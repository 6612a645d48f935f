"""The generated pages of the docs are current: the CLI reference is what
scripts/docs_reference.py writes from the argparse parser, and the rule table is the
registry's (`naftiko-runtime rules --format markdown`). Regenerate both with
`python scripts/docs_reference.py`."""

from __future__ import annotations

import importlib.util

from naftiko_runtime.capability.rules import RULES, markdown_table
from tests.conftest import REPO, cli

GENERATOR = REPO / "scripts" / "docs_reference.py"


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("docs_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current() -> None:
    page = (REPO / "docs" / "reference" / "cli.md").read_text()
    assert page == _generator().cli_page(), "regenerate with: python scripts/docs_reference.py"  # type: ignore[attr-defined]


def test_cli_reference_lists_every_command_and_flag() -> None:
    page = (REPO / "docs" / "reference" / "cli.md").read_text()
    for command in ("validate", "serve", "demo", "check", "import openapi", "create capability"):
        assert f"\n## {command}\n" in page
    for flag in ("--strict", "--simulate", "--workers", "--http-client", "--trace-sampling"):
        assert f"`{flag}`" in page


def test_docs_rule_table_is_current() -> None:
    page = (REPO / "docs" / "reference" / "rules.md").read_text()
    table = page.split("<!-- rules:start -->\n", 1)[1].split("<!-- rules:end -->", 1)[0]
    assert table == markdown_table(), "regenerate with: python scripts/docs_reference.py"
    assert table == cli("rules", "--format", "markdown").out
    assert all(f"| `{rule}` |" in table for rule in RULES)
