"""Rules for what flows through an operation at run time: names templates read, step fields
mappings read, and what a lookup's index holds. Each finds a spec the engine would serve
without complaint and then answer wrongly (a template rendering "", a mapping skipped, a
lookup never matching).

Rule ids (their rows are listed with `references` and `graph`: this module has none of its
own):
  template-variable  every `{{name}}` resolves: an input, a `with` key, a bound variable, an
                     earlier step, a prompt's argument
  template-syntax    (sites the engine compiles that `references` does not see: lookup values,
                     script `with`, exposed outputs' `value` and `const`)
  jsonpath           (the same: `$.step...` paths in `with` and exposed REST input values)
  step-field         `$.step.field` and `{{step.field}}` read a field the step returns, where
                     its outputs are declared (lookups; call steps over consumed outputs)
  lookup-index       a lookup's `index` can hold an array to match in

Names follow the engine: `-` and `_` spell the same name, a name may hold `.` (the whole
name is tried first, then its dotted segments), `ns.x` reads input `x` through an adapter or
aggregate namespace. Names of the `binding` rule's forms (`env.X`, `NS.KEY` of a bind
namespace, `UPPER_CASE`) are left to that rule.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from naftiko_runtime.capability.callers import Caller, reference_name
from naftiko_runtime.capability.index import OperationEntry, SpecIndex
from naftiko_runtime.capability.source import DataPath, SourceDocument, as_dict, as_list
from naftiko_runtime.capability.walk import Walk
from naftiko_runtime.diagnostics import Diagnostic, Severity
from naftiko_runtime.text.jsonpath import JsonPathError, compile_path, split_step_path
from naftiko_runtime.text.placeholders import norm, path_variables, variables
from naftiko_runtime.text.templating import Template, TemplateSyntaxError

_BINDING_FORM = re.compile(r"^[A-Z][A-Z0-9_]*$")
_FIELD = re.compile(r"^(?:\[(?:\d+|\*)\])*\.([A-Za-z0-9_\-]+)")
_OBJECT_FORMATS = {"html": ("tables",), "markdown": ("frontMatter", "tables", "sections")}
_OBJECT_ONLY = ("html", "markdown", "xml", "protobuf")


@dataclass(frozen=True)
class Bound:
    """What `binds` declares: variable names, and the namespaces they are read through."""

    keys: frozenset[str]
    namespaces: frozenset[str]

    def owns(self, name: str) -> bool:
        """Whether `binding` answers for this name (so this module says nothing of it)."""
        root = name.partition(".")[0]
        return (
            name in self.keys
            or root in self.namespaces
            or root == "env"
            or bool(_BINDING_FORM.match(name))
        )


@dataclass
class Unit:
    """An exposed operation, tool, MCP resource or aggregate function: what its templates
    can read."""

    caller: Caller
    prefixes: tuple[str, ...]
    names: set[str] = field(default_factory=set)  # normalised
    steps: list[tuple[DataPath, dict[str, Any]]] = field(default_factory=list)

    def knows(self, name: str, extra: Iterable[str] = ()) -> bool:
        """`name` resolves: itself or a dotted head of it is known, after an optional
        `prefix.` (the adapter or aggregate namespace)."""
        known = self.names.union(norm(n) for n in extra) if extra else self.names
        head, dot, rest = name.partition(".")
        candidates = [name]
        if dot and head in self.prefixes:
            candidates.append(rest)
        for candidate in candidates:
            parts = candidate.split(".")
            for end in range(1, len(parts) + 1):
                if norm(".".join(parts[:end])) in known:
                    return True
        return False


def bound_of(doc: SourceDocument) -> Bound:
    root = as_dict(doc.data)
    binds = as_list(root.get("binds")) + as_list(as_dict(root.get("capability")).get("binds"))
    keys: set[str] = set()
    namespaces: set[str] = set()
    for bind in binds:
        bind = as_dict(bind)
        if isinstance(bind.get("namespace"), str):
            namespaces.add(bind["namespace"])
        keys.update(k for k in as_dict(bind.get("keys")) if isinstance(k, str))
    return Bound(frozenset(keys), frozenset(namespaces))


def check_flow(
    doc: SourceDocument, index: SpecIndex, walk: Walk, callers: list[Caller]
) -> list[Diagnostic]:
    bound = bound_of(doc)
    units = list(_units(walk, callers))
    found: list[Diagnostic] = []
    for unit in units:
        found.extend(_check_unit(doc, unit, bound))
        found.extend(_check_step_fields(doc, index, unit))
        found.extend(_check_lookup_indexes(doc, index, unit))
    found.extend(_check_consumed_templates(doc, index, units, bound))
    found.extend(_check_prompts(doc, walk))
    if "capability" in as_dict(doc.data):  # a consumes-only file is bound by its importer
        found.extend(_check_bound_only(doc, walk, bound))
    found.extend(_check_input_paths(doc, walk))
    return found


# ---------------------------------------------------------------- units
def _units(walk: Walk, callers: list[Caller]) -> Iterator[Unit]:
    """One unit per exposed operation, tool, MCP resource and aggregate function; a `ref`
    and the function it names see each other's inputs and `with` keys."""
    functions: dict[str, Caller] = {}  # `aggregate.function` → its caller
    namespace_of: dict[DataPath, str] = {}
    for node in walk.functions:
        namespace = as_dict(node.owner).get("namespace")
        if isinstance(namespace, str):
            namespace_of[node.pointer] = namespace
    for caller in callers:
        if caller.kind == "function" and caller.pointer in namespace_of:
            functions[f"{namespace_of[caller.pointer]}.{caller.data.get('name')}"] = caller
    referrers: dict[str, list[Caller]] = {}
    for caller in callers:
        ref = caller.data.get("ref")
        if caller.kind != "step" and isinstance(ref, str):
            referrers.setdefault(ref, []).append(caller)
    for caller in callers:
        if caller.kind == "step":
            continue
        prefixes = caller.prefixes
        related = [caller]
        ref = caller.data.get("ref")
        if isinstance(ref, str):
            prefixes = (*prefixes, ref.partition(".")[0])
            related.extend([functions[ref]] if ref in functions else [])
        if caller.pointer in namespace_of:
            namespace = namespace_of[caller.pointer]
            prefixes = (*prefixes, namespace)
            related.extend(referrers.get(f"{namespace}.{caller.data.get('name')}", ()))
        unit = Unit(caller, prefixes)
        for other in related:
            unit.names.update(_declared(other, prefixes))
        for s, step in enumerate(as_list(caller.data.get("steps"))):
            step = as_dict(step)
            unit.steps.append(((*caller.pointer, "steps", s), step))
            if isinstance(step.get("name"), str):
                unit.names.add(norm(step["name"]))
            unit.names.update(_references(step.get("with"), prefixes))
        yield unit


def _declared(caller: Caller, prefixes: tuple[str, ...]) -> set[str]:
    """Inputs (declared, path placeholders), `with` keys and the inputs its references make
    (the unit-level `with` is seen by every step)."""
    names = {norm(n) for n in caller.inputs}
    if caller.path:
        names.update(norm(v) for v in path_variables(caller.path))
    names.update(norm(str(key)) for key in as_dict(caller.data.get("with")))
    names.update(_references(caller.data.get("with"), prefixes))
    return names


def _references(block: Any, prefixes: tuple[str, ...]) -> set[str]:
    """The inputs a `with` block's `ns.x` references create (an undeclared one is added)."""
    names = set()
    for value in as_dict(block).values():
        referenced = reference_name(value, prefixes)
        if referenced:
            names.add(norm(referenced))
    return names


# ---------------------------------------------------------------- templates of a unit
@functools.lru_cache(maxsize=4096)
def _variables(text: str) -> tuple[str, ...] | None:
    """The names a template reads; None when it has sections (their names are read from
    the section's item as well, which no check can know) or does not compile."""
    if "{{" not in text:
        return ()
    if "{{#" in text or "{{^" in text:
        return None
    try:
        return Template(text).variables
    except TemplateSyntaxError:
        return None


def _unresolved(
    doc: SourceDocument,
    pointer: DataPath,
    text: str,
    what: str,
    unit: Unit,
    bound: Bound,
    extra: Iterable[str] = (),
    syntax: bool = False,
) -> Iterator[Diagnostic]:
    if syntax:
        try:
            Template(text)
        except TemplateSyntaxError as exc:
            yield doc.diag(pointer, "template-syntax", f"{exc} in {text!r}")
            return
    extra = tuple(extra)
    for name in _variables(text) or ():
        if bound.owns(name) or unit.knows(name, extra):
            continue
        yield doc.diag(
            pointer,
            "template-variable",
            f"{what} reads {{{{{name}}}}}, but no input, `with` key, bound variable or step "
            "has that name: it renders empty",
            hint=_suggest(name, unit, extra),
        )


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name `name` most likely means: the same but for case, `-` and `_` first
    (`albumId` is `album_id`), else the nearest spelling."""
    import difflib

    def loose(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "")

    candidates = sorted(set(known))
    same = [k for k in candidates if loose(k) == loose(name)]
    if same:
        return same[0]
    by_loose = {loose(k): k for k in candidates}
    close = difflib.get_close_matches(loose(name), list(by_loose), n=1, cutoff=0.6)
    return by_loose[close[0]] if close else None


def _suggest(name: str, unit: Unit, extra: Iterable[str]) -> str:
    close = closest(norm(name), unit.names.union(norm(n) for n in extra))
    if close:
        return f"did you mean {{{{{close}}}}}?"
    return "declare the input, or bind the variable under `binds`"


def _check_unit(doc: SourceDocument, unit: Unit, bound: Bound) -> Iterator[Diagnostic]:
    data, pointer = unit.caller.data, unit.caller.pointer
    for key, value in as_dict(data.get("with")).items():
        if isinstance(value, str):
            yield from _unresolved(
                doc, (*pointer, "with", key), value, f"`with.{key}`", unit, bound
            )
    step_names = {str(step.get("name")) for _, step in unit.steps}
    for step_pointer, step in unit.steps:
        kind = step.get("type")
        own = tuple(str(k) for k in as_dict(step.get("with")))
        for key, value in as_dict(step.get("with")).items():
            if not isinstance(value, str):
                continue
            where = (*step_pointer, "with", key)
            yield from _step_path_compiles(doc, where, value, step_names)
            yield from _unresolved(
                doc, where, value, f"`with.{key}`", unit, bound, own, syntax=kind == "script"
            )
        value = step.get("lookupValue")
        if kind == "lookup" and isinstance(value, str) and not value.startswith("$"):
            where = (*step_pointer, "lookupValue")
            yield from _unresolved(doc, where, value, "lookupValue", unit, bound, syntax=True)
    yield from _check_outputs(doc, unit, bound)


def _check_outputs(doc: SourceDocument, unit: Unit, bound: Bound) -> Iterator[Diagnostic]:
    """Output `value`/`const` templates compile; a mock output (no call) reads the inputs
    only (a mapped one reads the upstream node, which no check can know)."""
    data, pointer = unit.caller.data, unit.caller.pointer
    outputs = (*pointer, "outputParameters")
    mock = _is_static(data)
    declared = as_list(data.get("outputParameters"))
    for where, text in _strings(declared, outputs):
        if where[-1] not in ("value", "const") or "{{" not in text:
            continue
        top = where[len(outputs)]
        named = len(where) == len(outputs) + 2 and "name" in as_dict(
            declared[top] if isinstance(top, int) else None
        )
        if mock and named and where[-1] == "value":
            yield from _unresolved(doc, where, text, "mock output", unit, bound, syntax=True)
            continue
        try:
            Template(text)
        except TemplateSyntaxError as exc:
            yield doc.diag(where, "template-syntax", f"{exc} in {text!r}")


def _is_static(data: dict[str, Any]) -> bool:
    return not any(key in data for key in ("call", "steps", "ref"))


def _step_path_compiles(
    doc: SourceDocument, pointer: DataPath, value: str, steps: set[str]
) -> Iterator[Diagnostic]:
    """A `$.step...` value is a JSONPath into that step's output (the engine compiles it)."""
    split = split_step_path(value)
    if split is None or split[0] not in steps or not split[1]:
        return
    try:
        compile_path(split[1])
    except JsonPathError as exc:
        reason = str(exc).partition("': ")[2] or str(exc)
        yield doc.diag(pointer, "jsonpath", f"invalid JSONPath {value!r}: {reason}")


# ---------------------------------------------------------------- consumed templates
def _consumed_sites(entry: OperationEntry) -> list[tuple[DataPath, str, str]]:
    """(pointer in the entry's document, text, what) of every template the request renders
    from the caller's scope: fixed parameter values and the body."""
    sites: list[tuple[DataPath, str, str]] = []
    resource_pointer = entry.pointer[:-2]
    api_pointer = resource_pointer[:-2]
    for owner, where in ((entry.api, api_pointer), (entry.resource, resource_pointer)):
        sites.extend(_param_values(owner, where))
    sites.extend(_param_values(entry.data, entry.pointer))
    body = entry.data.get("body")
    for path, text in _strings(body, (*entry.pointer, "body")):
        if "{{" in text:
            sites.append((path, text, f"the body of {entry.namespace}.{entry.name}"))
    return sites


def _param_values(owner: dict[str, Any], where: DataPath) -> Iterator[tuple[DataPath, str, str]]:
    for p, param in enumerate(as_list(owner.get("inputParameters"))):
        param = as_dict(param)
        value = param.get("value")
        if isinstance(value, str) and "{{" in value:
            yield (*where, "inputParameters", p, "value"), value, f"parameter {param.get('name')!r}"


def _strings(node: Any, pointer: DataPath) -> Iterator[tuple[DataPath, str]]:
    if isinstance(node, str):
        yield pointer, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*pointer, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, (*pointer, i))


def _calls(unit: Unit) -> Iterator[tuple[DataPath, dict[str, Any]]]:
    """(pointer, data) of each place the unit calls a consumed operation."""
    if isinstance(unit.caller.data.get("call"), str):
        yield unit.caller.pointer, unit.caller.data
    for pointer, step in unit.steps:
        if step.get("type") == "call" and isinstance(step.get("call"), str):
            yield pointer, step


def _check_consumed_templates(
    doc: SourceDocument, index: SpecIndex, units: list[Unit], bound: Bound
) -> Iterator[Diagnostic]:
    """A consumed body or fixed value reads its caller's scope, so each call must give it
    every name. A name no call gives is the template's mistake (reported where it is
    written); a name some calls give and others not is those calls' (reported at each)."""
    sites: dict[int, list[tuple[DataPath, str, str]]] = {}
    entries: dict[int, OperationEntry] = {}
    given: dict[tuple[int, str], bool] = {}  # (entry, name) → some call gives it
    missing: dict[tuple[DataPath, int], list[str]] = {}  # (call, entry) → names it lacks
    for unit in units:
        for pointer, data in _calls(unit):
            entry = index.operation(str(data["call"]))
            if entry is None:
                continue
            entries[id(entry)] = entry
            if id(entry) not in sites:
                sites[id(entry)] = _consumed_sites(entry)
            extra = (*entry.params, *(str(k) for k in as_dict(data.get("with"))))
            lacking = missing.setdefault((pointer, id(entry)), [])
            for _, text, _ in sites[id(entry)]:
                for name in _variables(text) or ():
                    if bound.owns(name):
                        continue
                    resolved = unit.knows(name, extra)
                    given[(id(entry), name)] = given.get((id(entry), name), False) or resolved
                    if not resolved and name not in lacking:
                        lacking.append(name)
    for (entry_id, name), some in given.items():
        entry = entries[entry_id]
        if some or entry.doc is not doc:
            continue
        for site, text, what in sites[entry_id]:
            if name in (_variables(text) or ()):
                yield doc.diag(
                    site,
                    "template-variable",
                    f"{what} reads {{{{{name}}}}}, which no call of "
                    f"{entry.namespace}.{entry.name} gives (no input, `with` key, bound "
                    "variable or step of that name): it renders empty",
                    hint=f"give `{name.rpartition('.')[2]}` in each call's `with`, or fix the name",
                )
    for (call, entry_id), lacking in missing.items():
        entry = entries[entry_id]
        names = [n for n in lacking if given[(entry_id, n)] or entry.doc is not doc]
        if not names:
            continue
        shown = ", ".join(f"{{{{{n}}}}}" for n in names)
        yield doc.diag(
            (*call, "call"),
            "template-variable",
            f"{entry.namespace}.{entry.name} reads {shown}, which this call does not give "
            "(no input, `with` key, bound variable or step of that name): it renders empty",
            hint="give "
            + ", ".join(f"`{n.rpartition('.')[2]}`" for n in names)
            + " in `with` (and the input it reads)",
        )


# ---------------------------------------------------------------- prompts and binds only
def _check_prompts(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    """A prompt message's `{{name}}` must be one of its arguments: one that is not stays in
    the text as written."""
    for node in walk.exposes:
        if node.data.get("type") != "mcp":
            continue
        for p, prompt in enumerate(as_list(node.data.get("prompts"))):
            prompt = as_dict(prompt)
            arguments = [str(as_dict(a).get("name")) for a in as_list(prompt.get("arguments"))]
            for m, message in enumerate(as_list(prompt.get("template"))):
                content = as_dict(message).get("content")
                if not isinstance(content, str):
                    continue
                for name in variables(content):
                    if name in arguments:
                        continue
                    yield doc.diag(
                        (*node.pointer, "prompts", p, "template", m, "content"),
                        "template-variable",
                        f"prompt message reads {{{{{name}}}}}, which is not an argument of "
                        f"prompt {prompt.get('name')!r}: the client gets it as written",
                        hint=f"declare {name!r} under the prompt's arguments"
                        if not arguments
                        else f"its arguments: {', '.join(arguments)}",
                    )


def _check_bound_only(doc: SourceDocument, walk: Walk, bound: Bound) -> Iterator[Diagnostic]:
    """baseUri and authentication render from `binds` alone (no input reaches them)."""
    for node in [*walk.consumes, *walk.exposes]:
        sites: list[tuple[DataPath, Any]] = [((*node.pointer, "baseUri"), node.data.get("baseUri"))]
        for key, value in as_dict(node.data.get("authentication")).items():
            if key != "type":
                sites.append(((*node.pointer, "authentication", key), value))
        for pointer, text in sites:
            if not isinstance(text, str) or "{{" not in text:
                continue
            for name in _variables(text) or ():
                if bound.owns(name):
                    continue
                yield doc.diag(
                    pointer,
                    "template-variable",
                    f"{{{{{name}}}}} is not bound: {pointer[-1]} reads only `binds` "
                    "variables, so it renders empty",
                    hint=f"bind it: `binds: [{{namespace: env, keys: {{{name}: ...}}}}]`",
                )


# ---------------------------------------------------------------- exposed input values
def _check_input_paths(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    """An exposed REST input's `$...` value is a JSONPath into the request body."""
    owners = [(node.pointer, node.data) for node in walk.rest_resources]
    owners += [(node.pointer, node.data) for node in walk.rest_operations]
    for pointer, owner in owners:
        for i, param in enumerate(as_list(owner.get("inputParameters"))):
            value = as_dict(param).get("value")
            if isinstance(value, str) and value.startswith("$"):
                try:
                    compile_path(value)
                except JsonPathError as exc:
                    yield doc.diag((*pointer, "inputParameters", i, "value"), "jsonpath", str(exc))


# ---------------------------------------------------------------- step fields
@dataclass(frozen=True)
class _Produces:
    """The fields a step's stored output can hold, when they are known."""

    fields: tuple[str, ...]
    what: str  # says where they are declared
    lookup: bool


def _produces(index: SpecIndex, step: dict[str, Any]) -> _Produces | None:
    kind = step.get("type")
    if kind == "lookup":
        fields = tuple(str(f) for f in as_list(step.get("outputParameters")) if isinstance(f, str))
        return _Produces(fields, f"lookup {step.get('name')!r} returns", True) if fields else None
    if kind == "call" and isinstance(step.get("call"), str):
        entry = index.operation(step["call"])
        if entry is None:
            return None
        names = _output_names(entry)
        if names:
            return _Produces(names, f"{step['call']!r} declares outputParameters", False)
    return None


def _output_names(entry: OperationEntry) -> tuple[str, ...]:
    return tuple(
        str(as_dict(o).get("name"))
        for o in as_list(entry.data.get("outputParameters"))
        if isinstance(as_dict(o).get("name"), str)
    )


def _reads(unit: Unit) -> Iterator[tuple[DataPath, str]]:
    """(pointer, value) of every string that may read a step's output."""
    for m, mapping in enumerate(as_list(unit.caller.data.get("mappings"))):
        value = as_dict(mapping).get("value")
        if isinstance(value, str):
            yield (*unit.caller.pointer, "mappings", m, "value"), value
    for pointer, step in unit.steps:
        for key, value in as_dict(step.get("with")).items():
            if isinstance(value, str):
                yield (*pointer, "with", key), value
        value = step.get("lookupValue")
        if isinstance(value, str):
            yield (*pointer, "lookupValue"), value


def _field_reads(value: str) -> Iterator[tuple[str, str]]:
    """(step, the first field read below it) for a `$.step.field` path or `{{step.field}}`."""
    text = value.strip()
    split = split_step_path(text)
    if split is not None:
        step, rest = split[0], split[1][1:]  # below the step, without the `$`
        first = _FIELD.match(rest)
        if first is not None and not rest.startswith(".."):
            yield step, first.group(0)
        return
    for name in _variables(text) or ():
        parts = name.split(".")
        below = ""
        for part in parts[1:]:
            if not part.isdigit():
                below += "." + part
                break
            below += f"[{part}]"
        if below.endswith("]") or not below:
            continue
        yield parts[0], below


def _check_step_fields(doc: SourceDocument, index: SpecIndex, unit: Unit) -> Iterator[Diagnostic]:
    produces: dict[str, _Produces] = {}
    for _, step in unit.steps:
        name = step.get("name")
        if isinstance(name, str):
            made = _produces(index, step)
            if made is not None:
                produces[name] = produces[norm(name)] = made
    if not produces:
        return
    for pointer, value in _reads(unit):
        for step_name, below in _field_reads(value):
            made = produces.get(step_name)
            if made is None:
                continue
            if below.startswith("[") and not made.lookup:
                continue  # an element of an array keeps every upstream field
            field_name = _FIELD.match(below)
            wanted = field_name.group(1) if field_name else below.lstrip(".")
            if wanted in made.fields:
                continue
            yield doc.diag(
                pointer,
                "step-field",
                f"reads field {wanted!r} of step {step_name!r}, which it never holds: "
                f"{made.what} {', '.join(made.fields)}",
                hint=_field_hint(step_name, wanted, made),
            )


def _field_hint(step: str, wanted: str, made: _Produces) -> str:
    close = closest(wanted, made.fields)
    if close:
        return f"did you mean {close!r}?"
    if made.lookup:
        return "add the field to the lookup's outputParameters"
    return f"read it below a declared output (`$.{step}.{made.fields[0]}.{wanted}`), or declare it"


# ---------------------------------------------------------------- lookup index
def _check_lookup_indexes(
    doc: SourceDocument, index: SpecIndex, unit: Unit
) -> Iterator[Diagnostic]:
    """A lookup matches entries of an array; an index that is an object is matched as one
    entry, so a `match` field it does not have never matches."""
    calls = {
        str(step.get("name")): step
        for _, step in unit.steps
        if step.get("type") == "call" and isinstance(step.get("call"), str)
    }
    for pointer, step in unit.steps:
        target = step.get("index")
        if step.get("type") != "lookup" or not isinstance(target, str) or target not in calls:
            continue
        entry = index.operation(str(calls[target]["call"]))
        match = step.get("match")
        if entry is None or not isinstance(match, str):
            continue
        finding = _object_index(entry, match)
        if finding is None:
            continue
        keys, certain = finding
        yield doc.diag(
            (*pointer, "index"),
            "lookup-index",
            f"lookup index {target!r} holds an object ({', '.join(keys)}), not an array: "
            f"`match: {match}` {'never matches' if certain else 'likely never matches'}",
            severity=Severity.ERROR if certain else Severity.WARNING,
            hint="a lookup matches the entries of an array: index a step whose output is "
            "the array itself (a script step can unwrap an envelope)",
        )


def _object_index(entry: OperationEntry, match: str) -> tuple[tuple[str, ...], bool] | None:
    """(the object's keys, certain) when the step's output cannot be an array and `match`
    is not one of its keys; None otherwise."""
    fmt = str(entry.data.get("outputRawFormat", "json")).lower()
    named = _output_names(entry)
    if fmt in _OBJECT_ONLY:
        keys = named or _OBJECT_FORMATS.get(fmt, ())
        return (keys, True) if keys and match not in keys else None
    if not named or match in named:
        return None
    # an output typed array below the root is an envelope's list: the upstream answers an
    # object (typed array at the root, `$.`, says the answer is the array itself)
    outputs = [as_dict(o) for o in as_list(entry.data.get("outputParameters"))]
    arrays = [str(o.get("value", "")).strip() for o in outputs if o.get("type") == "array"]
    if not arrays or any(value in ("$", "$.") for value in arrays):
        return None
    return named, False
