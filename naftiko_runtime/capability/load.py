"""The spec pipeline over a set of paths: source → schema → rules (→ portability) → model.

Every file is checked and every problem collected before anything is built; the model is
built only when no error was found, so code past this point never re-checks structure.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naftiko_runtime.capability.aside import can_fork, start_streaming
from naftiko_runtime.capability.aside import start as start_aside
from naftiko_runtime.capability.build import build_capability
from naftiko_runtime.capability.dialects.ikanos import IKANOS
from naftiko_runtime.capability.dialects.ikanos_checks import check_native, in_model_shape
from naftiko_runtime.capability.index import Importer, SpecIndex, build_index
from naftiko_runtime.capability.rules import (
    DEFAULT,
    Selection,
    apply_selection,
    ignore_comments,
    official,
)
from naftiko_runtime.capability.rules.portability import check_portability
from naftiko_runtime.capability.rules.references import check_across, check_document
from naftiko_runtime.capability.schema import validate_schema
from naftiko_runtime.capability.source import SourceDocument, SourceMap, display_path, load_source
from naftiko_runtime.capability.walk import walk_document
from naftiko_runtime.diagnostics import Diagnostic
from naftiko_runtime.errors import SpecError, UsageError
from naftiko_runtime.model import Capability

_NAFTIKO_KEY = re.compile(r"^(?:naftiko|ikanos)\s*:", re.MULTILINE)
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class LoadResult:
    """What a run found: the documents read, every diagnostic, and the model when valid."""

    documents: list[SourceDocument] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    capabilities: list[Capability] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    imported: list[SourceDocument] = field(default_factory=list)
    positions: list[SourceMap] = field(default_factory=list)  # the maps of a detached model
    unparsed: list[SourceDocument] = field(default_factory=list)  # lines of files that failed

    @property
    def shown(self) -> list[SourceDocument]:
        """Every document a diagnostic may quote a line of (those that did not parse too)."""
        return [*self.documents, *self.unparsed]

    def source_maps(self) -> list[SourceMap]:
        """Every document's positions, imports included: once the model is compiled nothing
        asks where a thing was written, and a server releases them (`SourceMap.release`)."""
        return [doc.source_map for doc in (*self.documents, *self.imported)] + self.positions

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


ASIDE_MIN_BYTES = 256 * 1024
"""Specs this large (all files together) are checked partly in a forked child (`aside`):
below, a fork and its pickled answer cost more than the share of checking they save."""


def load_paths(
    paths: Sequence[str | Path],
    *,
    strict: bool = False,
    build_model: bool = True,
    selection: Selection = DEFAULT,
    aside: bool | None = False,
    meanwhile: Callable[[list[Capability]], object] | None = None,
    built: Callable[[Capability], object] | None = None,
) -> LoadResult:
    """Load, check and (when valid) model every capability under `paths`.

    `aside`: check in a forked child at the same time (None: when the spec is large enough
    and this process may fork). With `build_model` the child does every check while this
    process builds the model, kept only if no error is found; without, each does half the
    files. The findings are the same either way. `meanwhile` is given that model while the
    child still checks: the caller's own preparation (imports, say) fills the wait; it must
    change nothing the caller cannot drop, since the spec may yet turn out invalid. `built`
    gets each capability of that model as soon as it is built (the same caveat)."""
    result = LoadResult()
    importer = Importer()
    indexes: list[SpecIndex] = []
    files = expand_paths(paths)
    split = _aside_split(files, build_model, aside)
    # validate: the child is forked first and reads its share of the files itself (what it
    # read is compared with what this process read, below); serve: forked once every file and
    # import is read, so the checks and the model are of the very same texts
    beside = (
        start_aside(lambda: _checked_files(files[split:], strict, selection))
        if 0 < split < len(files)
        else None
    )
    try:
        parse_problems: list[Diagnostic] = []
        mine: list[SourceDocument] = []
        theirs_docs: list[SourceDocument] = []
        keep = split if beside is not None or split == 0 else len(files)
        for n, path in enumerate(files):
            shown = display_path(path)
            result.files.append(shown)
            doc, problems = load_source(path, shown)
            doc = in_model_shape(doc)
            parse_problems.extend(problems)
            if doc is None and any(p.rule == "yaml-syntax" for p in problems):
                result.unparsed.extend(_unparsed(path, shown))
            if doc is not None:
                result.documents.append(doc)
                (mine if n < keep else theirs_docs).append(doc)
        speculative: list[Capability] | None = None
        if split == 0 and theirs_docs:  # split 0 only when building the model
            for doc in theirs_docs:  # the model's indexes, and every import read (cached)
                if isinstance(doc.data, dict):
                    indexes.append(build_index(doc, importer)[0])
            beside = start_aside(lambda: _checked(theirs_docs, importer, strict, selection))
            if beside is not None:
                speculative = _speculative_model(indexes, built)
                if speculative is not None and meanwhile is not None:
                    _prepare(meanwhile, speculative)
            else:
                mine, theirs_docs, indexes = theirs_docs, [], []
        found, ignored = _check_all(mine, importer, indexes, strict, selection)
    finally:
        answer = beside.result() if beside is not None else None
    if theirs_docs and (answer is None or answer[2] != _digests(theirs_docs)):
        # the child failed, or read other texts than this process (a file changed meanwhile):
        # its share is checked here, on what this process read
        answer = (*_check_all(theirs_docs, importer, [], strict, selection), {})
        speculative = None
    if answer is not None:
        found.extend(answer[0])
        ignored.update(answer[1])
    result.imported = importer.documents()
    result.diagnostics = [*parse_problems, *found, *check_across(result.documents)]
    result.diagnostics = apply_selection(result.diagnostics, selection, ignored)
    result.diagnostics.sort(key=Diagnostic.sort_key)
    if build_model and result.ok:
        result.capabilities = speculative if speculative is not None else _model(indexes)
    return result


def _unparsed(path: Path, shown: str) -> list[SourceDocument]:
    """A file that is not YAML, kept for its lines: its syntax error quotes the line."""
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [SourceDocument(path, shown, None, SourceMap(), lines)]


def load_detached(
    paths: Sequence[str | Path],
    *,
    meanwhile: Callable[[Sequence[Path]], object] | None = None,
    each: Callable[[Capability], object] | None = None,
) -> LoadResult:
    """`serve`'s load: for a large spec, the whole of `load_paths` runs in a forked loader
    (which checks in a child of its own while it builds the model) and sends the model back
    pickled, while this process prepares (`meanwhile`, given the files: imports, say), then
    gets each capability as it arrives (`each`: compile it, say), before the checks are known
    to pass: both must change nothing the caller cannot drop.

    Why: parsing leaves megabytes of freed objects among the few that the model keeps, and
    the allocator can hand back only wholly empty arenas; a model unpickled here is laid out
    compactly (5,000 operations: about 10-20 MB less resident). The diagnostics are the same;
    `documents` holds only the files a diagnostic of an invalid spec names (their lines, for
    the report), and a lazy position is read again from its file if a start-up error asks."""
    files = expand_paths(paths)
    if _aside_split(files, True, None) == len(files):  # small, or this process may not fork
        return load_paths(files, aside=None)
    loader = start_streaming(lambda send: _detached(files, send))
    if loader is None:
        return load_paths(files, aside=None)
    if meanwhile is not None:
        with contextlib.suppress(Exception):  # the preparation is the caller's, not the spec's
            meanwhile(files)
    streamed: list[Capability] = []

    def received(capability: Capability) -> None:
        streamed.append(capability)
        if each is not None:
            with contextlib.suppress(Exception):
                each(capability)

    answer = loader.collect(received)
    if answer is None:  # said once: a loader killed for memory is worth knowing of
        logging.getLogger("naftiko_runtime").warning(
            "the forked loader failed or died; loading in this process"
        )
        return load_paths(files, aside=None)
    result, model, maps = answer
    if result.ok:  # the maps are the very ones the model's positions use (one pickler)
        result.capabilities = streamed if model is None else model
        result.positions = maps
    return result


Detached = tuple[LoadResult, list[Capability] | None, list[SourceMap]]
"""A loader's answer once every capability is sent: the result without the model and, when
invalid, with the documents a diagnostic names (their lines); the model when it is not the
one sent; the source maps."""


def _detached(files: Sequence[Path], send: Callable[[Any], None]) -> Detached:
    """In the loader: load as this process would, and send each capability of the model as
    it is built, while the checks still run in the loader's own child (the model is kept
    only if they pass)."""
    sent: list[list[Capability]] = []
    result = load_paths(files, aside=True, meanwhile=sent.append, built=send)
    if not result.ok:
        named = {d.file for d in result.diagnostics}
        shown = [
            SourceDocument(doc.path, doc.display, None, SourceMap(), doc.lines)
            for doc in (*result.shown, *result.imported)
            if doc.display in named
        ]
        return LoadResult(shown, result.diagnostics, [], result.files, []), None, []
    # a model sent before the checks and then rebuilt (a file changed meanwhile) goes whole
    model = None if sent and sent[0] is result.capabilities else result.capabilities
    slim = LoadResult([], result.diagnostics, [], result.files, [])
    return slim, model, result.source_maps()


Checked = tuple[list[Diagnostic], dict[str, set[str]], dict[str, bytes]]
"""What a child answers: its findings, the rules comments switch off, a digest per text."""


def _checked_files(files: Sequence[Path], strict: bool, selection: Selection) -> Checked:
    """In the child: read `files` and check them (a file that does not parse is reported by
    the parent, which reads every file too)."""
    loaded = (in_model_shape(load_source(path, display_path(path))[0]) for path in files)
    docs = [doc for doc in loaded if doc is not None]
    return _checked(docs, Importer(), strict, selection)


def _checked(
    docs: list[SourceDocument], importer: Importer, strict: bool, selection: Selection
) -> Checked:
    return (*_check_all(docs, importer, [], strict, selection), _digests(docs))


def _digests(docs: Sequence[SourceDocument]) -> dict[str, bytes]:
    return {
        doc.display: hashlib.blake2b("\n".join(doc.lines).encode("utf-8", "surrogatepass")).digest()
        for doc in docs
    }


def _aside_split(files: list[Path], build_model: bool, aside: bool | None) -> int:
    """How many files this process checks itself, the rest being checked aside: all of them
    (nothing aside), 0 (`serve`: the child checks every file while this process builds the
    model), or about half (`validate`)."""
    if aside is False or not files or (aside is None and not can_fork()):
        return len(files)
    sizes = [_size(path) for path in files]
    if aside is None and sum(sizes) < ASIDE_MIN_BYTES:
        return len(files)
    if build_model:
        return 0
    if len(files) < 2:
        return len(files)
    # this process also checks across files and sorts: the child takes the larger half
    half, running, mine = sum(sizes) / 2, 0, 0
    for size in sizes[:-1]:
        if running + size > half:
            break
        running, mine = running + size, mine + 1
    return max(1, mine)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _check_all(
    docs: Sequence[SourceDocument],
    importer: Importer,
    indexes: list[SpecIndex],
    strict: bool,
    selection: Selection,
) -> tuple[list[Diagnostic], dict[str, set[str]]]:
    """Every file's own findings, and the rules each file's comments switch off."""
    found: list[Diagnostic] = []
    ignored: dict[str, set[str]] = {}
    for doc in docs:
        found.extend(check_one(doc, importer, indexes, strict=strict, selection=selection))
        ignored[doc.display], comment_problems = ignore_comments(doc)
        found.extend(comment_problems)
    return found, ignored


def _speculative_model(
    indexes: list[SpecIndex], built: Callable[[Capability], object] | None = None
) -> list[Capability] | None:
    """The model built before the checks are known to pass: an invalid spec may break the
    builder in any way, which only matters if the checks then find nothing wrong."""
    try:
        return _model(indexes, built)
    except Exception:
        return None


def _prepare(meanwhile: Callable[[list[Capability]], object], model: list[Capability]) -> None:
    """The caller's preparation on a model not yet known valid: its failure is not the
    spec's (a valid spec meets it again where it is needed for real)."""
    with contextlib.suppress(Exception):
        meanwhile(model)


def _model(
    indexes: list[SpecIndex], built: Callable[[Capability], object] | None = None
) -> list[Capability]:
    """The model of every indexed capability (with `build_model` every document is indexed
    here: checked here, or indexed for the model while the child checked it)."""
    model = []
    for index in indexes:
        if isinstance(index.doc.data, dict) and "capability" in index.doc.data:
            model.append(build_capability(index))
            if built is not None:
                built(model[-1])
    return model


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
    ikanos = doc.dialect == IKANOS and doc.native is not None
    if ikanos and doc.native is not None:  # the file as written: Ikanos schema and rules
        found = check_native(doc, selection.enabled, strict=strict)
    else:
        found = validate_schema(doc)
    index, problems = build_index(doc, importer)
    indexes.append(index)
    found.extend(problems)
    walk = walk_document(doc.data)
    found.extend(check_document(doc, index, walk))
    if not ikanos:
        for rule in official.RULES:
            if rule.check is not None and selection.enabled(rule.id):
                found.extend(rule.check(doc, walk))
        if strict:
            found.extend(check_portability(doc))
    return found
