"""Rules for what runs as a graph: steps, lookups, scripts, mappings, aggregates, forward.

Rule ids:
  step-name             step names are unique within their operation, tool or function
  step-reference        `$.step` paths, lookup indexes and `{{step.x}}` templates name an
                        earlier step of the same graph (so there is never a cycle)
  lookup-field          a lookup over an earlier lookup reads only fields that lookup returns
  script-language       script steps use a language this runtime runs (not Groovy)
  aggregate-duplicate   an aggregate function ref (`namespace.name`) is defined once
  base-uri-slash        a baseUri does not end with '/' (the reference refuses to load it)
  forward-target        `forward.targetNamespace` names a consumed namespace
  apikey-placement      apikey authentication says `placement: header` or `query`
  output-depth          mapped outputs nest at most MAX_DEPTH levels
  output-schema         avro and protobuf name their schema in `outputSchema`; an html
                        `outputSchema` is a CSS selector that parses
The rows listed here also hold `step-field` and `lookup-index` (reported by `flows`) and
`script-file` (reported by `compile`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from naftiko_runtime.capability.callers import Caller
from naftiko_runtime.capability.index import SpecIndex
from naftiko_runtime.capability.rules.rule import ERR, WARN, ours
from naftiko_runtime.capability.source import DataPath, SourceDocument, as_dict, as_list
from naftiko_runtime.capability.walk import Node, Walk
from naftiko_runtime.diagnostics import Diagnostic, Severity
from naftiko_runtime.extras import missing_extra
from naftiko_runtime.model import MAX_OUTPUT_DEPTH as MAX_DEPTH
from naftiko_runtime.text.jsonpath import path_root, template_roots
from naftiko_runtime.text.templating import Template, TemplateSyntaxError

RULES = (
    ours("step-name", ERR, "step names are unique within a graph", "Rename the step."),
    ours(
        "step-reference",
        ERR,
        "steps read only earlier steps of their graph (no cycles)",
        "Move the step, or read a step that runs before it.",
    ),
    ours(
        "lookup-field",
        ERR,
        "a lookup over a lookup reads fields it returns",
        "Add the field to the earlier lookup's outputParameters.",
    ),
    ours(
        "step-field",
        ERR,
        "`$.step.field` and `{{step.field}}` read fields the step returns, where declared",
        "Read a field the lookup's or consumed operation's outputParameters declare.",
    ),
    ours(
        "lookup-index",
        ERR,
        "a lookup's `index` can hold an array (warning where only likely)",
        "Index a step whose output is the array itself; a script step can unwrap an envelope.",
    ),
    ours(
        "script-language",
        ERR,
        "script steps use javascript or python (and a language `allowedLanguages` lists)",
        "Groovy needs a JVM this runtime does not have; rewrite the script.",
    ),
    ours(
        "script-file",
        ERR,
        "script locations are folders; script files and dependencies are readable in them",
        "Create the file, or fix `location`, `file` or `dependencies`.",
    ),
    ours("aggregate-duplicate", ERR, "each aggregate function ref is defined once", "Rename one."),
    ours(
        "base-uri-slash",
        ERR,
        "a baseUri does not end with '/'",
        "Remove the slash; the reference engine refuses to load it.",
    ),
    ours(
        "forward-target",
        ERR,
        "`forward.targetNamespace` is a consumed namespace",
        "Name a namespace of `consumes`.",
    ),
    ours(
        "apikey-placement",
        WARN,
        "apikey authentication says where the key goes",
        "Add `placement: header` or `placement: query`.",
    ),
    ours("output-depth", ERR, "mapped outputs nest at most 32 levels", "Flatten the output."),
    ours(
        "output-schema",
        ERR,
        "avro and protobuf name a schema that loads; an html `outputSchema` is a CSS selector",
        "Point `outputSchema` at the .avsc or .proto file beside the spec.",
    ),
)

RUNNABLE_LANGUAGES = ("javascript", "js", "python")


def check_graph(
    doc: SourceDocument, index: SpecIndex, walk: Walk, callers: list[Caller]
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for caller in callers:
        if caller.kind != "step" and isinstance(caller.data.get("steps"), list):
            found.extend(_check_steps(doc, index, caller.pointer, caller.data))
    found.extend(_check_aggregates(doc, walk))
    found.extend(_check_consumes(doc, walk))
    found.extend(_check_forwards(doc, index, walk))
    found.extend(_check_output_depth(doc, walk))
    found.extend(_check_output_schemas(doc, walk))
    return found


def _check_output_schemas(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    for node in walk.consumed_resources:
        for o, op in enumerate(as_list(node.data.get("operations"))):
            op = as_dict(op)
            fmt = str(op.get("outputRawFormat", "json")).lower()
            schema = op.get("outputSchema")
            where = (*node.pointer, "operations", o)
            if fmt in ("avro", "protobuf") and not (isinstance(schema, str) and schema.strip()):
                kind = ".avsc" if fmt == "avro" else ".proto"
                yield doc.diag(
                    (*where, "outputRawFormat"),
                    "output-schema",
                    f"outputRawFormat {fmt} needs `outputSchema`: the {kind} file describing "
                    "the payload",
                    hint=f"add outputSchema: ./schemas/records{kind}",
                )
            elif fmt == "html" and isinstance(schema, str) and schema.strip():
                if missing_extra("html"):
                    continue  # `extra-missing` names what to install
                try:
                    import cssselect

                    cssselect.parse(schema)
                except Exception as exc:  # cssselect's SelectorSyntaxError
                    yield doc.diag(
                        (*where, "outputSchema"),
                        "output-schema",
                        f"outputSchema {schema!r} is not a CSS selector: {exc}",
                    )


def _suggest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean '{close[0]}'?" if close else None


def _template_roots(text: str) -> set[str]:
    try:
        return template_roots(Template(text).variables)
    except TemplateSyntaxError:
        return set()  # reported by template-syntax


def _check_steps(
    doc: SourceDocument, index: SpecIndex, pointer: DataPath, unit: dict[str, Any]
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    steps = [as_dict(s) for s in as_list(unit.get("steps"))]
    names = [str(s.get("name")) for s in steps]
    inputs = {str(as_dict(p).get("name")) for p in as_list(unit.get("inputParameters"))}
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            found.append(
                doc.diag(
                    (*pointer, "steps", i, "name"),
                    "step-name",
                    f"step name {name!r} is already used by step {seen[name] + 1} of this graph",
                )
            )
        seen.setdefault(name, i)

    def reference(where: DataPath, step: str, position: int, what: str, strict: bool) -> None:
        if step in names[:position]:
            return
        if step in names:
            found.append(
                doc.diag(
                    where,
                    "step-reference",
                    f"{what} reads step {step!r}, which runs later (a step can read only "
                    "earlier steps)",
                )
            )
        elif strict:
            found.append(
                doc.diag(
                    where,
                    "step-reference",
                    f"{what} reads step {step!r}, which this graph does not have",
                    hint=_suggest(step, names),
                )
            )

    for i, step in enumerate(steps):
        base = (*pointer, "steps", i)
        kind = step.get("type")
        for key, value in as_dict(step.get("with")).items():
            if isinstance(value, str):
                root = path_root(value)
                if root is not None and root in names:
                    reference((*base, "with", key), root, i, f"`with.{key}`", False)
                for variable in _template_roots(value) - inputs:
                    if variable in names:
                        reference((*base, "with", key), variable, i, f"`with.{key}`", False)
        if kind == "lookup":
            index_name = step.get("index")
            if isinstance(index_name, str):
                # `$.step.items` (dialect) reads `step`
                index_step = (
                    path_root(index_name) if index_name.startswith("$") else None
                ) or index_name
                reference((*base, "index"), index_step, i, "lookup index", True)
                found.extend(_lookup_fields(doc, index, base, step, steps, names, i))
            value = step.get("lookupValue")
            if isinstance(value, str):
                root = path_root(value)
                if root is not None:
                    reference((*base, "lookupValue"), root, i, "lookupValue", True)
        elif kind == "script":
            language = step.get("language")
            if isinstance(language, str) and language not in RUNNABLE_LANGUAGES:
                found.append(
                    doc.diag(
                        (*base, "language"),
                        "script-language",
                        f"script language {language!r} cannot run here: Groovy needs a JVM; "
                        "this runtime runs javascript and python scripts",
                        hint="rewrite the script in JavaScript or Python",
                    )
                )
    for m, mapping in enumerate(as_list(unit.get("mappings"))):
        value = as_dict(mapping).get("value")
        if isinstance(value, str):
            root = path_root(value)
            if root is not None and root not in names:
                found.append(
                    doc.diag(
                        (*pointer, "mappings", m, "value"),
                        "step-reference",
                        f"mapping reads step {root!r}, which this graph does not have",
                        hint=_suggest(root, names),
                    )
                )
    return found


def _lookup_fields(
    doc: SourceDocument,
    index: SpecIndex,
    base: DataPath,
    step: dict[str, Any],
    steps: list[dict[str, Any]],
    names: list[str],
    position: int,
) -> Iterator[Diagnostic]:
    """A lookup over an earlier lookup can only read the fields that lookup returns. (A call
    step's array keeps every upstream field, so its declared outputs do not bound it.)"""
    target = step.get("index")
    if target not in names[:position]:
        return
    source = steps[names.index(str(target))]
    if source.get("type") != "lookup":
        return
    declared = [str(f) for f in as_list(source.get("outputParameters")) if isinstance(f, str)]
    wanted: list[tuple[DataPath, Any]] = [((*base, "match"), step.get("match"))]
    for f, field in enumerate(as_list(step.get("outputParameters"))):
        wanted.append(((*base, "outputParameters", f), field))
    for path, field in wanted:
        if isinstance(field, str) and field not in declared:
            yield doc.diag(
                path,
                "lookup-field",
                f"lookup field {field!r} is not returned by lookup step {target!r} "
                f"(it returns {', '.join(declared) or 'nothing'})",
                hint=_suggest(field, declared),
            )


def _check_aggregates(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    seen: set[str] = set()
    for node in walk.functions:
        ref = f"{as_dict(node.owner).get('namespace')}.{node.data.get('name')}"
        if ref in seen:
            yield doc.diag(
                (*node.pointer, "name"),
                "aggregate-duplicate",
                f"aggregate function ref {ref!r} is already defined",
            )
        seen.add(ref)


def _check_consumes(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    for node in walk.consumes:
        list_path, i, api = node.pointer[:-1], node.pointer[-1], node.data
        base = api.get("baseUri")
        if isinstance(base, str) and base.endswith("/"):
            yield doc.diag(
                (*list_path, i, "baseUri"),
                "base-uri-slash",
                f"baseUri {base!r} ends with '/': the reference engine refuses to load it",
                hint=f"write {base.rstrip('/')!r}",
            )
        auth = as_dict(api.get("authentication"))
        if auth.get("type") == "apikey" and "placement" not in auth:
            yield doc.diag(
                (*list_path, i, "authentication"),
                "apikey-placement",
                "apikey authentication without 'placement': the reference engine refuses "
                "to call it; this runtime sends the key as a header",
                severity=Severity.WARNING,
                hint="add 'placement: header' (or 'query')",
            )


def _check_forwards(doc: SourceDocument, index: SpecIndex, walk: Walk) -> Iterator[Diagnostic]:
    for node in walk.rest_resources:
        forward = as_dict(node.data.get("forward"))
        target = forward.get("targetNamespace")
        if isinstance(target, str) and target not in index.apis:
            yield doc.diag(
                (*node.pointer, "forward", "targetNamespace"),
                "forward-target",
                f"forward target {target!r} is not a consumed namespace",
                hint=_suggest(target, sorted(index.apis)),
            )


def _check_output_depth(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    """Mapped outputs nested deeper than the engine compiles (reported once, at the top)."""
    owners = [
        *walk.rest_operations,
        *walk.tools,
        *walk.mcp_resources,
        *walk.functions,
        *(
            Node((*node.pointer, "operations", o), as_dict(op))
            for node in walk.consumed_resources
            for o, op in enumerate(as_list(node.data.get("operations")))
        ),
    ]
    for owner in owners:
        for o, output in enumerate(as_list(owner.data.get("outputParameters"))):
            depth = _depth(output, 0)
            if depth > MAX_DEPTH:
                yield doc.diag(
                    (*owner.pointer, "outputParameters", o),
                    "output-depth",
                    f"output nests {depth} levels deep; at most {MAX_DEPTH} are served",
                )


def _depth(node: Any, level: int) -> int:
    if level > MAX_DEPTH + 1:
        return level  # deep enough to report; no need to walk further
    deepest = level
    if isinstance(node, dict):
        for child in as_dict(node.get("properties")).values():
            deepest = max(deepest, _depth(child, level + 1))
        items = node.get("items")
        if isinstance(items, dict):
            deepest = max(deepest, _depth(items, level + 1))
    return deepest
