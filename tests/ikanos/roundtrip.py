"""Models compared across dialects: what a capability serves, wherever it was written."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from naftiko_runtime.capability.build import build_capability
from naftiko_runtime.capability.dialects.ikanos_checks import in_model_shape
from naftiko_runtime.capability.dialects.migrate import migrate_file
from naftiko_runtime.capability.index import Importer, build_index
from naftiko_runtime.capability.source import load_source
from naftiko_runtime.model import Location

IKANOS_GIT = Path(os.environ.get("NAFTIKO_IKANOS_GIT", "/nonexistent/ikanos.git"))
"""The Ikanos repository's git directory (a clone or mirror of github.com/naftiko/ikanos,
named by $NAFTIKO_IKANOS_GIT): its fixtures are read from there, never copied into this
repository. The tests that need it skip without it."""
IKANOS_DIRS = (
    "modules/ikanos-engine/src/test/resources",
    "modules/ikanos-spec/src/test/resources",
    "modules/ikanos-spec/src/main/resources",
    "modules/ikanos-cli/src/test/resources",
    "modules/ikanos-docs/tutorial",
)
_SKIPPED = ("file", "version")


def ikanos_tree(into: Path) -> Path | None:
    """The Ikanos fixtures and tutorial, extracted under `into` (None when no mirror)."""
    if not (IKANOS_GIT / "HEAD").is_file():
        return None
    archive = subprocess.run(
        ["git", "--git-dir", str(IKANOS_GIT), "archive", "HEAD", *IKANOS_DIRS],
        capture_output=True,
        timeout=60,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, timeout=60, check=True)
    return into


def capability_files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            head = path.read_text(encoding="utf-8", errors="replace")[:4096]
            if any(line.startswith(("ikanos:", "naftiko:")) for line in head.splitlines()):
                found.append(path)
    return found


def model_of(path: Path) -> Any:
    """The model of `path` built without the checks (an output may not validate in its
    dialect and still say what it serves), as plain data without positions."""
    doc = in_model_shape(load_source(path, path.name)[0])
    if doc is None or not isinstance(doc.data, dict) or "capability" not in doc.data:
        return None
    index, _ = build_index(doc, Importer())
    try:
        return plain(build_capability(index))
    except (KeyError, TypeError, AttributeError, ValueError):
        return None  # an invalid output: its diagnostics say why


def plain(value: Any) -> Any:
    if isinstance(value, Location):
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in _SKIPPED and not isinstance(getattr(value, f.name), Location)
        }
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def round_trip(path: Path, there: str, back: str) -> tuple[Any, Any, Any, list[Any]]:
    """`path` migrated to `there` and back, beside it: the three models and every note."""
    first = migrate_file(path, path.name, there)
    middle = path.with_name(f"{path.stem}.rt-{there}{path.suffix}")
    notes = list(first.diagnostics)
    if first.text is None:
        return model_of(path), None, None, notes
    middle.write_text(first.text, encoding="utf-8")
    second = migrate_file(middle, middle.name, back)
    notes.extend(second.diagnostics)
    final = path.with_name(f"{path.stem}.rt-{back}{path.suffix}")
    if second.text is not None:
        final.write_text(second.text, encoding="utf-8")
    return model_of(path), model_of(middle), model_of(final), notes


def copy_tree(source: Path, into: Path) -> Path:
    shutil.copytree(source, into, dirs_exist_ok=True)
    return into
