"""The spec pipeline over a set of paths: source → schema → rules (→ portability) → model.

Every file is checked and every problem collected before anything is built; the model is
built only when no error was found, so code past this point never re-checks structure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from naftiko_runtime.diagnostics import Diagnostic
from naftiko_runtime.errors import SpecError
from naftiko_runtime.spec.index import Importer, SpecIndex, build_index
from naftiko_runtime.spec.model import Capability, build_capability
from naftiko_runtime.spec.official import OFFICIAL_RULES
from naftiko_runtime.spec.portability import check_portability
from naftiko_runtime.spec.registry import DEFAULT, Selection, apply_selection, ignore_comments
from naftiko_runtime.spec.rules import check_across, check_document
from naftiko_runtime.spec.schema import validate_schema
from naftiko_runtime.spec.source import SourceDocument, SourceMap, display_path, load_source
from naftiko_runtime.spec.walk import walk_document

_NAFTIKO_KEY = re.compile(r"^naftiko\s*:", re.MULTILINE)
YAML_SUFFIXES = (".yaml", ".yml")


class UsageError(Exception):
    """A path argument that cannot be used at all (exit code 2)."""


@dataclass
class LoadResult:
    """What a run found: the documents read, every diagnostic, and the model when valid."""

    documents: list[SourceDocument] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    capabilities: list[Capability] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    imported: list[SourceDocument] = field(default_factory=list)

    def source_maps(self) -> list[SourceMap]:
        """Every document's positions, imports included: once the model is compiled nothing
        asks where a thing was written, and a server releases them (`SourceMap.release`)."""
        return [doc.source_map for doc in (*self.documents, *self.imported)]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        """For library callers who prefer an exception: SpecError carrying every error."""
        if not self.ok:
            raise SpecError(self.errors)


def expand_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files named directly, plus every capability YAML below each directory named."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for candidate in sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES):
                if candidate.is_file() and _looks_like_capability(candidate):
                    found.append(candidate)
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{raw}: no such file or directory")
    if not found:
        raise UsageError("no capability files found in " + ", ".join(map(str, paths)))
    unique = dict.fromkeys(p.resolve() for p in found)
    return [Path(p) for p in unique]


def _looks_like_capability(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return bool(_NAFTIKO_KEY.search(handle.read(64 * 1024)))
    except OSError:
        return True  # let load_source report why it cannot be read


def load_paths(
    paths: Sequence[str | Path],
    *,
    strict: bool = False,
    build_model: bool = True,
    selection: Selection = DEFAULT,
) -> LoadResult:
    """Load, check and (when valid) model every capability under `paths`."""
    result = LoadResult()
    importer = Importer()
    indexes: list[SpecIndex] = []
    ignored: dict[str, set[str]] = {}
    for path in expand_paths(paths):
        shown = display_path(path)
        result.files.append(shown)
        doc, problems = load_source(path, shown)
        result.diagnostics.extend(problems)
        if doc is None:
            continue
        result.documents.append(doc)
        result.diagnostics.extend(
            check_one(doc, importer, indexes, strict=strict, selection=selection)
        )
        ignored[doc.display], comment_problems = ignore_comments(doc)
        result.diagnostics.extend(comment_problems)
    result.imported = importer.documents()
    result.diagnostics.extend(check_across(result.documents))
    result.diagnostics = apply_selection(result.diagnostics, selection, ignored)
    result.diagnostics.sort(key=Diagnostic.sort_key)
    if build_model and result.ok:
        result.capabilities = [
            build_capability(index)
            for index in indexes
            if isinstance(index.doc.data, dict) and "capability" in index.doc.data
        ]
    return result


def check_one(
    doc: SourceDocument,
    importer: Importer,
    indexes: list[SpecIndex],
    *,
    strict: bool,
    selection: Selection = DEFAULT,
) -> list[Diagnostic]:
    """All findings about one document (schema, semantic and official rules, portability)."""
    if not isinstance(doc.data, dict):
        return [doc.diag((), "schema-type", "a capability file must be a YAML mapping")]
    found = validate_schema(doc)
    index, problems = build_index(doc, importer)
    indexes.append(index)
    found.extend(problems)
    walk = walk_document(doc.data)
    found.extend(check_document(doc, index, walk))
    for official in OFFICIAL_RULES:
        if selection.enabled(official.id):
            found.extend(official.check(doc, walk))
    if strict:
        found.extend(check_portability(doc))
    return found
