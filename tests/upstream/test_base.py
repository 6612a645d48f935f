"""The seam's layering, read from the source: `base` imports no client and nothing of the
runtime, and no module of the package imports a layer above it (observability, policies,
engine, adapters, serving), so no import circle can run through it."""

from __future__ import annotations

import ast
from pathlib import Path

import naftiko_runtime.upstream

PACKAGE = Path(naftiko_runtime.upstream.__file__).parent
ABOVE = ("observability", "policies", "engine", "adapters", "serving", "openapi", "cli")


def imported(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
    return names


def test_base_imports_only_the_standard_library() -> None:
    ours = {name for name in imported(PACKAGE / "base.py") if name.startswith("naftiko_runtime")}
    assert ours == set()


def test_no_upstream_module_imports_a_layer_above_it() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for name in imported(path):
            parts = name.split(".")
            assert not (parts[0] == "naftiko_runtime" and parts[1:2] and parts[1] in ABOVE), (
                path.name,
                name,
            )


def test_only_the_pool_picks_a_client() -> None:
    """Clients build on `base`, `errors` and `deadlines`; h1 and pyreqwest hand work to
    aiohttp's client; nothing else names a client."""
    clients = {"h1", "aiohttp", "pyreqwest"}
    allowed = {"pool.py": clients, "h1.py": {"aiohttp"}, "pyreqwest.py": {"aiohttp"}}
    for path in sorted(PACKAGE.glob("*.py")):
        named = {
            name.rsplit(".", 1)[1]
            for name in imported(path)
            if name.startswith("naftiko_runtime.upstream.")
        }
        assert named & clients <= allowed.get(path.name, set()), path.name
