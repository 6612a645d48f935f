"""What is checked on an Ikanos file as written, before our own rules run on its translation:
the Ikanos schema, the Ikanos lint rules, the engine's leniency, and what this runtime
cannot serve."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from naftiko_runtime.capability.dialects.ikanos import (
    IKANOS,
    IKANOS_CURRENT,
    dialect_of,
    fold_legacy,
    translate,
)
from naftiko_runtime.capability.rules.ikanos import check_ikanos
from naftiko_runtime.capability.schema import validate_schema
from naftiko_runtime.capability.source import SourceDocument, as_dict, as_list
from naftiko_runtime.diagnostics import Diagnostic, Severity

_SECTIONS = ("exposes", "aggregates", "binds")


def in_model_shape(doc: SourceDocument | None) -> SourceDocument | None:
    """`doc` as the model builder reads it: an `ikanos:` file translated (its positions
    kept), any other file as it is."""
    if doc is None or dialect_of(doc.data) != IKANOS:
        return doc
    return translate(doc)


def check_native(
    doc: SourceDocument, enabled: Callable[[str], bool], *, strict: bool
) -> list[Diagnostic]:
    """The Ikanos schema (legacy lists folded into maps first, each reported), the Ikanos
    rules, and the constructs this runtime refuses, all on the file as written."""
    native = doc.native
    if native is None:
        return []
    folded, legacy = fold_legacy(native)
    found = validate_schema(folded, IKANOS)
    for note in legacy:
        if note.kind != "legacy-list":
            continue
        found.append(
            native.diag(
                note.path,
                "portability" if strict else "ikanos-legacy-list",
                note.message,
                key=True,
                severity=Severity.ERROR if strict else Severity.WARNING,
                hint="write a map keyed by each entry's name (`naftiko-runtime migrate --to "
                "ikanos` rewrites it); the Ikanos schema rejects the list",
            )
        )
    found.extend(check_ikanos(native, enabled))
    found.extend(_unserved(native))
    version = as_dict(native.data).get(IKANOS)
    if isinstance(version, str) and version != IKANOS_CURRENT and strict:
        found.append(
            native.diag(
                (IKANOS,),
                "portability",
                f"{version} is checked with the {IKANOS_CURRENT} schema (the same shape); "
                f"the Ikanos engine of today reads only {IKANOS_CURRENT}",
            )
        )
    return found


def _unserved(native: SourceDocument) -> list[Diagnostic]:
    """Imported exposes, aggregates and binds (only consumed APIs are imported here), and
    tunnels this runtime cannot open."""
    found: list[Diagnostic] = []
    root = as_dict(native.data)
    capability = as_dict(root.get("capability"))
    for section in _SECTIONS:
        for i, entry in enumerate(as_list(capability.get(section))):
            if isinstance(entry, dict) and "from" in entry:
                found.append(
                    native.diag(
                        ("capability", section, i, "from"),
                        "ikanos-unserved",
                        f"importing {section} from another file is not served by this runtime "
                        "(only consumed APIs are imported)",
                        hint=f"write the {section} entry inline",
                    )
                )
    for base, entries in (
        (("consumes",), root.get("consumes")),
        (("capability", "consumes"), capability.get("consumes")),
    ):
        for i, entry in enumerate(as_list(entries)):
            tunnel = as_dict(entry).get("tunnel") if isinstance(entry, dict) else None
            if isinstance(tunnel, dict):
                found.append(_tunnel(native, (*base, i, "tunnel"), tunnel))
    for where, key in _ignored(capability, ("capability",)):
        found.append(
            native.diag(
                (*where, key),
                "ikanos-unserved",
                f"`{key}` is read but not acted on by this runtime yet ({_IGNORED[key]})",
                key=True,
                severity=Severity.WARNING,
            )
        )
    return found


_IGNORED = {
    "ttlMs": "no MCP result caching",
    "cacheScope": "no MCP result caching",
    "maxBinarySize": "binary bodies are bounded by --max-upstream-body",
    "outputMediaType": "the upstream's media type is kept",
    "responses": "the REST answer is the mapped output",
    "responseBinary": "the REST answer is the mapped output",
}
"""Beta5 fields this runtime validates and does not serve yet, each said where written."""


def _ignored(node: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str]]:
    found: list[tuple[tuple[Any, ...], str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _IGNORED and "outputParameters" not in path:
                found.append((path, key))
            elif key not in ("outputParameters", "with", "keys", "metadata"):
                found.extend(_ignored(value, (*path, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_ignored(value, (*path, i)))
    return found


def _tunnel(native: SourceDocument, where: tuple[Any, ...], tunnel: dict[str, Any]) -> Diagnostic:
    if tunnel.get("fallback") == "direct":
        return native.diag(
            where,
            "ikanos-unserved",
            "this runtime opens no OpenZiti tunnel: calls go direct to baseUri, as the Ikanos "
            "engine does when the tunnel cannot open with `fallback: direct`",
            key=True,
            severity=Severity.WARNING,
        )
    return native.diag(
        where,
        "ikanos-unserved",
        "an OpenZiti tunnel needs a Ziti network this runtime cannot join; with `fallback: "
        "fail` (the default) the Ikanos engine would refuse to call it, and so does this one",
        key=True,
        hint="serve it with the Ikanos engine, or set `fallback: direct` for a loopback baseUri",
    )
