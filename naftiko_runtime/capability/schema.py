"""Schema validation: every error in the file, each narrowed to the branch the user meant."""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from naftiko_runtime.capability.source import DataPath, SourceDocument
from naftiko_runtime.diagnostics import Diagnostic

if TYPE_CHECKING:  # jsonschema is imported only to word the errors of an invalid document
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SUPPORTED_VERSIONS = ("1.0.0-alpha2", "1.0.0-alpha3")
SCHEMA_FILE = "naftiko-capability.schema.json"
IKANOS_SCHEMA_FILE = "ikanos-schema.json"  # the Ikanos project's own, bundled unchanged
# keys whose presence tells which anyOf/oneOf branch a user meant
_DISCRIMINATING_KEYS = frozenset(
    {
        "call",
        "steps",
        "ref",
        "location",
        "template",
        "import",
        "from",
        "instruction",
        "operations",
        "forward",
        "transport",
    }
)


def schema_path(name: str = SCHEMA_FILE) -> Path:
    """A bundled schema: beside the package in a checkout, inside it in an installed wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "schemas" / name, here / "_schemas" / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(name)


@functools.cache
def load_schema(dialect: str = "naftiko") -> dict[str, Any]:
    """The schema a dialect's files are checked with. The Ikanos one is read unchanged but
    for its version constant, widened to every Ikanos version of the same shape."""
    name = IKANOS_SCHEMA_FILE if dialect == "ikanos" else SCHEMA_FILE
    with schema_path(name).open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    if dialect == "ikanos":
        from naftiko_runtime.capability.dialects.ikanos import IKANOS_VERSIONS

        version = dict(schema["properties"]["ikanos"])
        version.pop("const", None)
        version["enum"] = list(IKANOS_VERSIONS)
        schema["properties"] = {**schema["properties"], "ikanos": version}
    return schema


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"][len("#/$defs/") :]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


_ANNOTATIONS = frozenset({"description", "title", "examples", "default", "$comment"})


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema with every non-recursive `$ref` replaced by its definition.

    jsonschema resolves each `$ref` through `referencing` on every visit; inlining them once
    at start-up removes about a quarter of validation time. Recursive definitions (mapped
    outputs nest themselves) stay as references.
    """
    defs: dict[str, Any] = schema.get("$defs", {})
    direct = {name: _refs(body) for name, body in defs.items()}
    recursive = set()
    for name in defs:
        seen, todo = set(), list(direct[name])
        while todo:
            current = todo.pop()
            if current == name:
                recursive.add(name)
                break
            if current not in seen:
                seen.add(current)
                todo.extend(direct.get(current, ()))

    def expand(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = ref[len("#/$defs/") :]
                if target not in recursive:
                    rest = {k: v for k, v in node.items() if k != "$ref"}
                    if set(rest) <= _ANNOTATIONS:  # the Ikanos schema describes its $refs
                        return expand(defs[target])
                    return expand({**rest, "allOf": [defs[target]]})
            return {key: expand(value) for key, value in node.items()}
        if isinstance(node, list):
            return [expand(item) for item in node]
        return node

    inlined: dict[str, Any] = expand({k: v for k, v in schema.items() if k != "$defs"})
    inlined["$defs"] = {name: expand(body) for name, body in defs.items() if name in recursive}
    return inlined


@functools.cache
def _validator(dialect: str = "naftiko") -> Draft202012Validator:
    """The detailed validator, for documents the fast one rejects: a valid spec never imports
    jsonschema (about 0.1 s and 10 MB)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(inline_refs(load_schema(dialect)))


@functools.cache
def _fast_validator(dialect: str = "naftiko") -> Any:
    """jsonschema-rs on the same schema: answers "valid?" in microseconds. Only a document it
    rejects goes through jsonschema for located, worded errors (a test keeps both verdicts
    equal on the corpus and on mutated specs)."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(load_schema(dialect))


def schema_verdicts_agree(data: Any, dialect: str = "naftiko") -> bool:
    """For tests: the fast and the detailed validators agree on `data`."""
    return bool(_fast_validator(dialect).is_valid(data)) == (
        next(iter(_validator(dialect).iter_errors(data)), None) is None
    )


def validate_schema(doc: SourceDocument, dialect: str = "naftiko") -> list[Diagnostic]:
    """All schema errors in `doc` (against its dialect's schema), located and worded."""
    if _fast_validator(dialect).is_valid(doc.data):
        return []
    found: list[Diagnostic] = []
    for error in _validator(dialect).iter_errors(doc.data):
        for leaf in _narrow(error):
            found.extend(_describe(doc, leaf))
    unique = {(d.line, d.column, d.pointer, d.message): d for d in found}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def _expected(err: ValidationError) -> Any:
    """The schema keyword's value (typed loosely by the stubs)."""
    return err.validator_value


def _subschema(err: ValidationError) -> dict[str, Any]:
    return err.schema if isinstance(err.schema, dict) else {}


def _branch_penalty(errors: list[ValidationError], instance: Any) -> int:
    """How unlikely a branch is to be the one meant: missing discriminating keys weigh most."""
    penalty = 0
    for err in errors:
        at_root = not err.relative_path
        if at_root and err.validator in ("const", "enum"):
            penalty += 1000
        elif tuple(err.relative_path) == ("type",) and err.validator in ("const", "enum"):
            penalty += 1000  # the Ikanos schema tells its branches apart by a `type` const
        elif at_root and err.validator == "required":
            missing = _missing_key(err)
            penalty += 500 if missing in _DISCRIMINATING_KEYS else 50
        elif at_root and err.validator == "not":
            penalty += 500
        else:
            penalty += 1
    return penalty


def _missing_key(err: ValidationError) -> str:
    for key in _expected(err):
        if isinstance(err.instance, dict) and key not in err.instance:
            return str(key)
    return ""


def _narrow(error: ValidationError) -> Iterator[ValidationError]:
    """Yield the errors of the most plausible branch of an anyOf/oneOf, recursively."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        yield error
        return
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    n_branches = len(_expected(error))
    if len(branches) < n_branches:  # some branch passed: a oneOf matched more than one branch
        yield error
        return
    ranked = sorted(
        branches.items(), key=lambda kv: (_branch_penalty(kv[1], error.instance), kv[0])
    )
    chosen = ranked[0][1]
    top_level = [e for e in chosen if e.parent is error]
    from jsonschema.exceptions import best_match

    for sub in top_level or [best_match(chosen)]:
        yield from _narrow(sub)


def _describe(doc: SourceDocument, err: ValidationError) -> list[Diagnostic]:
    path: DataPath = tuple(err.absolute_path)
    validator = err.validator
    if path in (("naftiko",), ("ikanos",)) and validator in ("enum", "const", "type"):
        from naftiko_runtime.capability.dialects.ikanos import IKANOS_VERSIONS

        supported = ", ".join(SUPPORTED_VERSIONS if path == ("naftiko",) else IKANOS_VERSIONS)
        return [
            doc.diag(
                path,
                "version",
                f"unsupported spec version {err.instance!r}; supported: {supported}",
            )
        ]
    if path and path[-1] == "in" and validator == "enum":
        locations = ", ".join(map(str, _expected(err)))
        return [
            doc.diag(
                path,
                "param-location",
                f"unknown parameter location {err.instance!r}; use one of: {locations}",
            )
        ]
    if validator in ("additionalProperties", "unevaluatedProperties") and isinstance(
        err.instance, dict
    ):
        allowed = sorted(_allowed_keys(_subschema(err)))
        out = []
        for key in _extra_keys(err):
            close = difflib.get_close_matches(key, allowed, n=1)
            out.append(
                doc.diag(
                    (*path, key),
                    "schema-unknown-property",
                    f"unknown property {key!r}",
                    key=True,
                    hint=f"did you mean {close[0]!r}?"
                    if close
                    else f"allowed here: {', '.join(allowed)}",
                )
            )
        return out
    if validator == "required":
        key = _missing_key(err)
        return [doc.diag(path, "schema-required", f"missing required property {key!r}")]
    if validator in ("oneOf", "anyOf") and path == ():
        if (
            isinstance(err.instance, dict)
            and "capability" in err.instance
            and "consumes" in err.instance
        ):
            return [
                doc.diag(
                    ("consumes",),
                    "schema-one-of",
                    "a file has either 'capability' or a root 'consumes' list, not both",
                    key=True,
                )
            ]
    if validator == "oneOf" and err.context == []:
        return [doc.diag(path, "schema-one-of", _one_of_overlap(err))]
    rule = {
        "type": "schema-type",
        "enum": "schema-enum",
        "const": "schema-enum",
        "pattern": "schema-pattern",
        "minItems": "schema-min-items",
        "minProperties": "schema-min-items",
        "minimum": "schema-range",
        "maximum": "schema-range",
        "maxLength": "schema-length",
        "minLength": "schema-length",
        "not": "schema-not",
        "oneOf": "schema-one-of",
        "anyOf": "schema-any-of",
        "propertyNames": "schema-property-name",
    }.get(str(validator), f"schema-{validator}")
    return [doc.diag(path, rule, _message(err))]


def _allowed_keys(schema: dict[str, Any]) -> set[str]:
    """The properties a (sub)schema names, through `allOf` (as the Ikanos schema composes
    with `unevaluatedProperties`)."""
    found = set((schema.get("properties") or {}).keys())
    for part in schema.get("allOf") or ():
        if isinstance(part, dict):
            found |= _allowed_keys(part)
    return found


_UNEXPECTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _extra_keys(err: ValidationError) -> list[str]:
    instance: dict[str, Any] = err.instance if isinstance(err.instance, dict) else {}
    if err.validator == "unevaluatedProperties":  # the keys jsonschema names in its message
        named = set(_UNEXPECTED.findall(err.message.split("(", 1)[-1]))
        return [k for k in instance if k in named]
    props = _subschema(err).get("properties") or {}
    return [k for k in instance if k not in props]


def _one_of_overlap(err: ValidationError) -> str:
    keys = [k for branch in _expected(err) for k in branch.get("required", [])]
    shown = " and ".join(f"'{k}'" for k in dict.fromkeys(keys))
    return f"only one of {shown} may be given" if shown else err.message


def _message(err: ValidationError) -> str:
    if err.validator == "pattern":
        return f"{err.instance!r} does not match the pattern {_expected(err)}"
    if err.validator == "type":
        wanted = _expected(err)
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return f"{_short(err.instance)} is not of type {wanted}"
    if err.validator in ("enum", "const"):
        allowed = _expected(err) if err.validator == "enum" else [_expected(err)]
        return f"{_short(err.instance)} is not one of {', '.join(map(str, allowed))}"
    return err.message


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
