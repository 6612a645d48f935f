"""`naftiko-runtime migrate`: rewrite a capability in the other dialect, comments and key
order kept (ruamel.yaml's round-trip tree), every point that cannot be carried over as it is
reported at the line of the file being migrated.

The rewrite is the loader's own structural walk (`ikanos.walk_root`) run on the round-trip
tree; what the target dialect has no place for is then found by the target's schema and
dropped, each drop reported (beta5-only fields going back to alpha2; alpha2 fields Ikanos
lacks). What no drop can fix stays, as an error, and the output says it does not validate.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from naftiko_runtime.capability.dialects.ikanos import (
    ALPHA2,
    DOWN,
    IKANOS,
    IKANOS_CURRENT,
    NAFTIKO,
    UP,
    Containers,
    PathMap,
    dialect_of,
    walk_root,
)
from naftiko_runtime.capability.source import DataPath, SourceDocument, load_source, parse_text
from naftiko_runtime.diagnostics import Diagnostic, Severity

STRUCTURAL = frozenset(
    {
        "name",
        "in",
        "value",
        "mapping",
        "properties",
        "items",
        "call",
        "steps",
        "with",
        "ref",
        "outputParameters",
        "inputParameters",
        "namespace",
        "resources",
        "operations",
        "tools",
        "path",
        "method",
        "location",
        "from",
        "import",
        "type",
        "baseUri",
    }
)
"""Keys never dropped on a schema's word: without them the entry means something else (a
mock output without its `name` reads as a mapped one), so they stay and are reported."""
MAX_PASSES = 8
"""Rounds of dropping what the target schema has no place for (each round drops every key
the schema names; a drop can reveal another only in a branch it changed)."""


class _RoundTrip(Containers):
    """ruamel.yaml's commented containers: comments move with the keys they stand by."""

    def mapping(self, like: Any) -> Any:
        from ruamel.yaml.comments import CommentedMap

        made = CommentedMap()
        _copy_style(like, made)
        return made

    def sequence(self, like: Any) -> Any:
        from ruamel.yaml.comments import CommentedSeq

        made = CommentedSeq()
        _copy_style(like, made)
        return made

    def carry(self, old: Any, old_key: Any, new: Any, new_key: Any) -> None:
        items = getattr(getattr(old, "ca", None), "items", None)
        if not items or old_key not in items or type(old) is not type(new):
            return  # a list item's comment has another layout than a key's: left behind
        new.ca.items[new_key] = items[old_key]


def _copy_style(like: Any, made: Any) -> None:
    comment = getattr(getattr(like, "ca", None), "comment", None)
    if comment is not None and type(like) is type(made):
        made.ca.comment = comment
    flow = getattr(like, "fa", None)
    if flow is not None and type(like) is type(made) and flow.flow_style():
        made.fa.set_flow_style()


@dataclass
class Migrated:
    """One file's migration: the new text (None when it could not be read) and every point
    reported, at the source file's lines."""

    source: str
    target: str
    text: str | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def migrate_file(path: Path, display: str, to: str) -> Migrated:
    """`path` rewritten in the `to` dialect (`ikanos` or `naftiko`)."""
    doc, problems = load_source(path, display)
    if doc is None:
        return Migrated(display, to, None, problems)
    return _migrate(doc, path.read_text(encoding="utf-8"), to)


def migrate_text(text: str, display: str, to: str) -> Migrated:
    """YAML text (a capability this runtime wrote, say) rewritten in the `to` dialect."""
    doc, problems = parse_text(text, Path(display), display, fast=False)
    if doc is None:
        return Migrated(display, to, None, problems)
    return _migrate(doc, text, to)


def _migrate(doc: SourceDocument, text: str, to: str) -> Migrated:
    display = doc.display
    found = dialect_of(doc.data)
    if found is None:
        return Migrated(
            display,
            to,
            None,
            [doc.diag((), "migrate", "not a capability file (no `naftiko:` or `ikanos:` key)")],
        )
    if found == to:
        note = doc.diag(
            (found,), "migrate", f"already {to}: copied unchanged", severity=Severity.INFO
        )
        return Migrated(display, to, text, [note])
    yaml, tree = _round_trip(text)
    direction = UP if to == IKANOS else DOWN
    new, paths, notes = walk_root(tree, direction, _RoundTrip())
    root = NAFTIKO if direction == DOWN else IKANOS
    new[root] = _styled(tree.get(found), ALPHA2 if direction == DOWN else IKANOS_CURRENT)
    diagnostics = [
        doc.diag(
            note.path,
            "migrate",
            note.message,
            key=note.key,
            severity=Severity.WARNING,
            hint=_HINTS.get(note.kind),
        )
        for note in notes
    ]
    diagnostics.extend(_fit(new, paths, doc, to))
    out = io.StringIO()
    yaml.dump(new, out)
    return Migrated(display, to, out.getvalue(), sorted(diagnostics, key=Diagnostic.sort_key))


_HINTS = {
    "invented-key": "rename the key in the output if another name suits it better",
    "duplicate-name": "rename one of them in the source, then migrate again",
}


def _styled(old: Any, text: str) -> Any:
    """`text` quoted as `old` was (ruamel keeps a scalar's style in its type)."""
    from ruamel.yaml.scalarstring import ScalarString

    return type(old)(text) if isinstance(old, ScalarString) else text


def _round_trip(text: str) -> tuple[Any, Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    _, indent, block_seq_indent = load_yaml_guess_indent(text)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long description
    offset = block_seq_indent or 0
    sequence = indent or 2
    yaml.indent(mapping=max(2, sequence - offset), sequence=sequence, offset=offset)
    return yaml, yaml.load(text)


def _plain(value: Any) -> Any:
    """Round-trip data as plain JSON-like values, for the schema."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _fit(tree: Any, paths: PathMap, doc: SourceDocument, to: str) -> list[Diagnostic]:
    """Drop what the target schema has no place for (each drop reported); report what stays
    invalid as an error."""
    from naftiko_runtime.capability.schema import _narrow, _validator

    validator = _validator(IKANOS if to == IKANOS else "naftiko")
    found: list[Diagnostic] = []
    remaining: list[Any] = []
    for _ in range(MAX_PASSES):
        leaves = [leaf for e in validator.iter_errors(_plain(tree)) for leaf in _narrow(e)]
        unsure = {tuple(leaf.absolute_path)[:-1] for leaf in leaves if _misjudged(leaf)}
        dropped, remaining = False, []
        for leaf in leaves:
            where: DataPath = tuple(leaf.absolute_path)
            extra = [] if where in unsure else _extra(leaf)
            holder = _at(tree, where)
            if not extra or not isinstance(holder, dict):
                remaining.append(leaf)
                continue
            if any(key in STRUCTURAL and not _droppable(key, where) for key in extra):
                remaining.append(leaf)
                continue
            for key in extra:
                if key in holder:
                    del holder[key]
                    dropped = True
                    found.append(
                        doc.diag(
                            paths.original((*where, key))[0],
                            "migrate",
                            f"{key!r} has no place here in {_name(to)}: dropped",
                            key=True,
                            severity=Severity.WARNING,
                        )
                    )
        if not dropped:
            break
    for leaf in remaining:
        found.append(_invalid(leaf, paths, doc, to))
    return found


def _droppable(key: str, where: DataPath) -> bool:
    """`type` of a consumed input parameter is alpha2 documentation Ikanos has no place for
    (the one structural-looking key that is not structural there)."""
    return key == "type" and "inputParameters" in where[-2:] and "consumes" in where


def _misjudged(leaf: Any) -> bool:
    """An error saying the value is of another kind (`type: rest` where `control` was
    expected): the schema branch is in doubt, so nothing is dropped on its word."""
    return leaf.validator in ("const", "enum") and tuple(leaf.absolute_path)[-1:] == ("type",)


def _invalid(leaf: Any, paths: PathMap, doc: SourceDocument, to: str) -> Diagnostic:
    where: DataPath = tuple(leaf.absolute_path)
    if "propertyNames" in leaf.schema_path and isinstance(leaf.instance, str):
        return doc.diag(
            paths.original((*where, leaf.instance))[0],
            "migrate",
            f"{leaf.instance!r} is kept as a key, but {_name(to)} wants keys matching "
            f"{leaf.validator_value!r} here: the output does not validate",
            hint="rename it in the source (clients then see the new name) and migrate again",
        )
    return doc.diag(
        paths.original(where)[0],
        "migrate",
        f"the {_name(to)} output does not validate here: {leaf.message[:200]}",
        hint="fix this in the output (or the source) by hand",
    )


def _name(dialect: str) -> str:
    return f"Ikanos {IKANOS_CURRENT}" if dialect == IKANOS else f"naftiko {ALPHA2}"


def _extra(error: Any) -> list[str]:
    """The keys an additional/unevaluated-properties error names (none for other errors)."""
    from naftiko_runtime.capability.schema import _extra_keys

    if error.validator not in ("additionalProperties", "unevaluatedProperties"):
        return []
    return [str(k) for k in _extra_keys(error)]


def _at(tree: Any, path: DataPath) -> Any:
    node = tree
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node
