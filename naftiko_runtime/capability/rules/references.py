"""Semantic rules the schema cannot express: references resolve and nothing collides.

`check_document` runs every check of one file (these, `graph`, `flows`, `compile`);
`check_across` the ones over every file served together. Each finding carries a rule id:
  call-target      `call`/`ref` names an operation (or aggregate function) that exists
  with-key         every `with` key is a parameter of the called operation
  path-param       every `{param}` of an exposed REST path is bound to an input
  path-input       every `in: path` input (exposed or consumed) names a `{param}` of its path
  required-param   required consumed parameters (and consumed path placeholders) are supplied
  binding          every `{{env.X}}`/`{{X}}` variable resolves to a key of `binds`
  namespace-unique namespaces are unique in a file, exposed ones across all files
  route-conflict   two REST routes (port + method + path) never collide, across all files
  tool-conflict    MCP tool names are unique per server, across all files
  port-conflict    one port serves one kind of adapter
  jsonpath         every JSONPath compiles
  template-syntax  every `{{template}}` compiles
  base-uri         (warning) a baseUri with `{placeholder}`s nothing fills; serve needs --upstream
  param-location   `in:` names a known location (listed with `structure`)
The rows listed here also hold `template-variable` (reported by `flows`), `duplicate-name`
and `import` (reported by the index).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from naftiko_runtime.capability.callers import Caller, reference_name
from naftiko_runtime.capability.index import SpecIndex
from naftiko_runtime.capability.rules.compile import check_files
from naftiko_runtime.capability.rules.flows import check_flow, closest
from naftiko_runtime.capability.rules.graph import check_graph
from naftiko_runtime.capability.rules.rule import ERR, WARN, ours
from naftiko_runtime.capability.source import DataPath, SourceDocument, as_dict, as_list
from naftiko_runtime.capability.walk import Walk, walk_document
from naftiko_runtime.diagnostics import Diagnostic, Severity
from naftiko_runtime.text.jsonpath import JsonPathError, compile_path
from naftiko_runtime.text.placeholders import norm, parameters, path_variables, shape
from naftiko_runtime.text.templating import Template, TemplateSyntaxError

RULES = (
    ours(
        "call-target",
        ERR,
        "`call` and `ref` name something that exists",
        "Use `namespace.operation` (or `aggregate.function`); a suggestion is given.",
    ),
    ours(
        "with-key",
        ERR,
        "every `with` key is a parameter of the called operation",
        "Rename the key or declare the parameter.",
    ),
    ours(
        "path-param",
        ERR,
        "every `{param}` of an exposed path is bound to an input",
        "Declare the input or bind it in `with`.",
    ),
    ours(
        "path-input",
        ERR,
        "every `in: path` input names a `{param}` of its path (exposed and consumed)",
        "Rename the input to the placeholder (a suggestion is given), or declare it `in: query`.",
    ),
    ours(
        "required-param", ERR, "required consumed parameters are supplied", "Supply them in `with`."
    ),
    ours("binding", ERR, "every `{{VAR}}` resolves to a key of `binds`", "Add the key to `binds`."),
    ours(
        "namespace-unique",
        ERR,
        "namespaces are unique (exposed ones across files)",
        "Rename one of them.",
    ),
    ours("route-conflict", ERR, "port + method + path is unique across files", "Change one route."),
    ours(
        "tool-conflict", ERR, "MCP tool names are unique per server across files", "Rename a tool."
    ),
    ours("port-conflict", ERR, "one port serves one kind of adapter", "Move one adapter."),
    ours(
        "jsonpath",
        ERR,
        "every JSONPath compiles",
        "Fix the expression (`$.` is the whole document).",
    ),
    ours("template-syntax", ERR, "every `{{template}}` compiles", "Fix the tag."),
    ours(
        "template-variable",
        ERR,
        "every `{{name}}` resolves to an input, a `with` key, a bound variable or a step",
        "Fix the name (a suggestion is given), declare the input, or bind the variable.",
    ),
    ours("import", ERR, "imports resolve", "Fix the location or the imported namespace."),
    ours("duplicate-name", ERR, "operation names are unique in a namespace", "Rename one."),
    ours(
        "base-uri",
        WARN,
        "a baseUri's `{placeholders}` are filled",
        "Serve with --upstream NAMESPACE=URL, or bind the values.",
    ),
)

_BINDING_VAR = re.compile(r"^[A-Z][A-Z0-9_]*$")


def check_document(
    doc: SourceDocument, index: SpecIndex, walk: Walk | None = None
) -> list[Diagnostic]:
    """Rules that look at one file on its own, all reading the one walk of it."""
    walk = walk or walk_document(doc.data)
    found: list[Diagnostic] = []
    callers = list(walk.callers())
    for caller in callers:
        found.extend(_check_call(doc, index, caller))
        if caller.kind == "rest":
            found.extend(_check_path_params(doc, index, caller))
    found.extend(_check_namespaces(doc, walk))
    found.extend(_check_templates_and_bindings(doc, walk, callers))
    found.extend(_check_base_uris(doc, walk))
    found.extend(_check_jsonpaths(doc, walk))
    found.extend(check_graph(doc, index, walk, callers))
    found.extend(check_flow(doc, index, walk, callers))
    found.extend(_check_path_inputs(doc, walk))
    found.extend(check_files(doc, walk))
    return found


# ---------------------------------------------------------------- calls and parameters
def _check_call(doc: SourceDocument, index: SpecIndex, caller: Caller) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    ref = caller.data.get("ref")
    if isinstance(ref, str):
        namespace, _, name = ref.partition(".")
        if name not in index.aggregates.get(namespace, {}):
            known = [f"{ns}.{fn}" for ns, fns in index.aggregates.items() for fn in sorted(fns)]
            found.append(
                doc.diag(
                    (*caller.pointer, "ref"),
                    "call-target",
                    f"ref {ref!r} names no aggregate function",
                    hint=_suggest(ref, known),
                )
            )
    target = caller.data.get("call")
    if not isinstance(target, str):
        return found
    operation = index.operation(target)
    if operation is None:
        known = [f"{ns}.{op}" for ns, api in index.apis.items() for op in api.operations]
        namespace = target.partition(".")[0]
        why = (
            ("no consumed namespace " + repr(namespace))
            if namespace not in index.apis
            else f"namespace {namespace!r} has no operation {target.partition('.')[2]!r}"
        )
        found.append(
            doc.diag(
                (*caller.pointer, "call"),
                "call-target",
                f"call target {target!r} does not exist: {why}",
                hint=_suggest(target, known),
            )
        )
        return found
    with_map = as_dict(caller.data.get("with"))
    accepted = {norm(n): n for n in operation.params}
    for variable in _operation_template_vars(operation.data, operation.resource, operation.api):
        accepted.setdefault(norm(variable), variable)
    for key in with_map:
        if norm(key) in accepted:
            continue
        if accepted:
            found.append(
                doc.diag(
                    (*caller.pointer, "with", key),
                    "with-key",
                    f"{key!r} is not a parameter of {target!r}",
                    key=True,
                    hint=_suggest(key, list(accepted.values()))
                    or f"its parameters: {', '.join(accepted.values())}",
                )
            )
        else:  # nothing declared to check against; the reference engine accepts this
            found.append(
                doc.diag(
                    (*caller.pointer, "with", key),
                    "with-key",
                    f"{key!r} is not used: {target!r} declares no parameters",
                    key=True,
                    severity=Severity.WARNING,
                    hint="declare it under the operation's inputParameters",
                )
            )
    supplied = {norm(k) for k in with_map} | {norm(n) for n in caller.inputs}
    for name, param in operation.params.items():
        needed = param.get("in") == "path" or param.get("required") is True
        if needed and "value" not in param and norm(name) not in supplied:
            found.append(
                doc.diag(
                    (*caller.pointer, "call"),
                    "required-param",
                    f"required parameter {name!r} of {target!r} is never supplied",
                    hint=f"add `{name}` under `with`",
                )
            )
    for variable in path_variables(operation.path):
        if norm(variable) not in supplied and variable not in operation.params:
            found.append(
                doc.diag(
                    (*caller.pointer, "call"),
                    "required-param",
                    f"path placeholder {{{variable}}} of {target!r} "
                    f"({operation.path}) is never supplied",
                    hint=f"add `{variable}` under `with`",
                )
            )
    return found


def _operation_template_vars(
    operation: dict[str, Any], resource: dict[str, Any], api: dict[str, Any]
) -> set[str]:
    """Names an operation's templates read: body, path and fixed parameter values.

    A body may read `{{tools.name}}`; the `with` key that feeds it is `name`.
    """
    names: set[str] = set()
    texts = list(_strings(operation.get("body")))
    texts.append(str(resource.get("path", "")))
    for owner in (operation, resource, api):
        texts.extend(
            str(p.get("value", ""))
            for p in as_list(owner.get("inputParameters"))
            if isinstance(p, dict)
        )
    for text in texts:
        for variable in _variables(text):
            names.add(variable)
            names.add(variable.rpartition(".")[2])
    return names


def _check_path_params(doc: SourceDocument, index: SpecIndex, caller: Caller) -> list[Diagnostic]:
    if caller.path is None:
        return []
    bound = {norm(n) for n in caller.inputs}
    ref = caller.data.get("ref")
    if isinstance(ref, str):
        namespace, _, name = ref.partition(".")
        bound.update(norm(n) for n in index.aggregates.get(namespace, {}).get(name, ()))
    values = list(as_dict(caller.data.get("with")).values())
    for step in as_list(caller.data.get("steps")):  # steps read inputs too
        values.extend(as_dict(as_dict(step).get("with")).values())
        values.append(as_dict(step).get("lookupValue"))
    for value in values:
        referenced = reference_name(value, caller.prefixes)
        if referenced:
            bound.add(norm(referenced))
        if isinstance(value, str):
            bound.update(norm(v) for v in _variables(value))
    found = []
    resource_pointer = caller.pointer[:-2]
    calls = any(caller.data.get(key) for key in ("call", "ref", "steps"))
    for variable in path_variables(caller.path):
        if norm(variable) not in bound and calls:
            found.append(
                doc.diag(
                    (*resource_pointer, "path"),
                    "path-param",
                    f"path parameter {{{variable}}} of {caller.path!r} is not bound "
                    f"to any input of the {caller.data.get('method', 'GET')} "
                    "operation",
                    hint=f"reference it in `with`, e.g. rest.{norm(variable)}",
                )
            )
    return found


def _check_path_inputs(doc: SourceDocument, walk: Walk) -> list[Diagnostic]:
    """An `in: path` input whose name is no `{placeholder}` of its path: exposed, every call
    answers 400 (the route never fills it) and /openapi.json publishes a parameter the path
    lacks; consumed, it is required and then dropped from the URL."""
    found: list[Diagnostic] = []
    for node in walk.rest_resources:
        path = node.data.get("path")
        owners = [(node.pointer, node.data)]
        owners += [
            ((*node.pointer, "operations", o), as_dict(op))
            for o, op in enumerate(as_list(node.data.get("operations")))
        ]
        if isinstance(path, str) and "forward" not in node.data:
            for pointer, owner in owners:
                found.extend(_path_inputs(doc, pointer, owner, [path], "exposed"))
    for node in walk.consumes:
        paths: list[str] = []
        for r, resource in enumerate(as_list(node.data.get("resources"))):
            resource = as_dict(resource)
            path = resource.get("path")
            if not isinstance(path, str):
                continue
            paths.append(path)
            rpointer = (*node.pointer, "resources", r)
            found.extend(_path_inputs(doc, rpointer, resource, [path], "consumed"))
            for o, op in enumerate(as_list(resource.get("operations"))):
                opointer = (*rpointer, "operations", o)
                found.extend(_path_inputs(doc, opointer, as_dict(op), [path], "consumed"))
        if paths:  # namespace-wide: some resource must have it
            found.extend(_path_inputs(doc, node.pointer, node.data, paths, "consumed"))
    return found


def _path_inputs(
    doc: SourceDocument, pointer: DataPath, owner: dict[str, Any], paths: list[str], side: str
) -> Iterator[Diagnostic]:
    placeholders = [v for path in paths for v in path_variables(path)]
    known = {norm(v) for v in placeholders}
    for i, param in enumerate(as_list(owner.get("inputParameters"))):
        param = as_dict(param)
        name = param.get("name")
        if param.get("in") != "path" or not isinstance(name, str) or norm(name) in known:
            continue
        shown = paths[0] if len(paths) == 1 else "any resource path"
        consequence = (
            "every call answers 400 and /openapi.json lists a parameter the path lacks"
            if side == "exposed"
            else "it is required, then left out of the URL"
        )
        close = closest(name, placeholders)
        yield doc.diag(
            (*pointer, "inputParameters", i, "name"),
            "path-input",
            f"path input {name!r} names no placeholder of {shown!r}: {consequence}",
            hint=f"did you mean {{{close}}}? rename the input to it"
            if close
            else f"add {{{name}}} to the path, or declare the input `in: query`",
        )


# ---------------------------------------------------------------- namespaces
def _check_namespaces(doc: SourceDocument, walk: Walk) -> list[Diagnostic]:
    seen: dict[str, DataPath] = {}
    found = []
    root = as_dict(doc.data)
    capability = as_dict(root.get("capability"))
    entries: list[tuple[DataPath, Any]] = []
    for node in walk.consumes:
        item = node.data
        name = item.get("as", item.get("import", item.get("namespace")))
        key = "as" if "as" in item else "import" if "import" in item else "namespace"
        entries.append(((*node.pointer, key), name))
    for node in walk.exposes:
        entries.append(((*node.pointer, "namespace"), node.data.get("namespace")))
    bind_lists = (
        (("binds",), root.get("binds")),
        (("capability", "binds"), capability.get("binds")),
    )
    for list_path, bind_items in bind_lists:
        for b, bind in enumerate(as_list(bind_items)):
            entries.append(((*list_path, b, "namespace"), as_dict(bind).get("namespace")))
    for pointer, name in entries:
        if not isinstance(name, str):
            continue
        if name in seen:
            line = doc.source_map.locate(seen[name])[0]
            found.append(
                doc.diag(
                    pointer,
                    "namespace-unique",
                    f"namespace {name!r} is already used at line {line}",
                )
            )
        else:
            seen[name] = pointer
    return found


# ---------------------------------------------------------------- templates and binds
def _bound_keys(doc: SourceDocument) -> dict[str, set[str]]:
    root = as_dict(doc.data)
    binds = as_list(root.get("binds")) + as_list(as_dict(root.get("capability")).get("binds"))
    keys: dict[str, set[str]] = {}
    for bind in binds:
        bind = as_dict(bind)
        if isinstance(bind.get("namespace"), str):
            keys.setdefault(bind["namespace"], set()).update(as_dict(bind.get("keys")))
    return keys


def _template_sites(walk: Walk, callers: list[Caller]) -> Iterator[tuple[DataPath, str, bool]]:
    """(pointer, text, secret_context) for every string that is a template: consumed
    baseUris, auth fields and fixed parameter values, consumed bodies, `with` values."""
    consumed = {node.pointer for node in walk.consumes}
    exposed = {node.pointer for node in walk.exposes}
    withs = {caller.pointer for caller in callers}
    for pointer, text in walk.strings:
        if len(pointer) < 3:
            continue
        head = pointer[:2] if pointer[0] == "consumes" else pointer[:3]
        if head in consumed:
            rest = pointer[len(head) :]
            if rest == ("baseUri",):
                yield pointer, text, True
            elif len(rest) == 2 and rest[0] == "authentication" and rest[1] != "type":
                yield pointer, text, True
            elif len(rest) >= 3 and rest[-1] == "value" and rest[-3] == "inputParameters":
                yield pointer, text, False
            elif "body" in rest and "operations" in rest:
                yield pointer, text, False
        elif head in exposed:
            rest = pointer[3:]
            if len(rest) == 2 and rest[0] == "authentication" and rest[1] != "type":
                yield pointer, text, True
        if len(pointer) >= 2 and pointer[-2] == "with" and pointer[:-2] in withs:
            yield pointer, text, False


def _check_templates_and_bindings(
    doc: SourceDocument, walk: Walk, callers: list[Caller]
) -> list[Diagnostic]:
    # a file of shared `consumes` only is imported; its variables are bound by the importer
    check_bindings = "capability" in as_dict(doc.data)
    keys = _bound_keys(doc)
    all_keys = {k for names in keys.values() for k in names}
    found = []
    for pointer, text, secret_context in _template_sites(walk, callers):
        try:
            template = Template(text)
        except TemplateSyntaxError as exc:
            found.append(doc.diag(pointer, "template-syntax", f"{exc} in {text!r}"))
            continue
        for variable in template.variables if check_bindings else ():
            namespace, dot, key = variable.partition(".")
            if dot and namespace in keys:
                if key not in keys[namespace]:
                    found.append(
                        doc.diag(
                            pointer,
                            "binding",
                            f"{{{{{variable}}}}}: bind namespace {namespace!r} has no key {key!r}",
                            hint=_suggest(key, sorted(keys[namespace]))
                            or f"add {key} under binds[namespace={namespace}].keys",
                        )
                    )
            elif dot and namespace == "env":
                found.append(
                    doc.diag(
                        pointer,
                        "binding",
                        f"{{{{{variable}}}}} reads namespace 'env', but no bind "
                        "declares namespace 'env'",
                        hint=f"add `binds: [{{namespace: env, keys: {{{key}: {key}}}}}]`",
                    )
                )
            elif not dot and _BINDING_VAR.match(variable) and variable not in all_keys:
                if secret_context or not template.single_variable:
                    found.append(
                        doc.diag(
                            pointer,
                            "binding",
                            f"{{{{{variable}}}}} is not bound by any `binds` key",
                            hint=_suggest(variable, sorted(all_keys)),
                        )
                    )
    return found


def _check_base_uris(doc: SourceDocument, walk: Walk) -> list[Diagnostic]:
    found = []
    for node in walk.consumes:
        list_path, i, api = node.pointer[:-1], node.pointer[-1], node.data
        base = as_dict(api).get("baseUri")
        unfilled = parameters(base) if isinstance(base, str) else []
        if unfilled:
            names = ", ".join("{" + name + "}" for name in unfilled)
            found.append(
                doc.diag(
                    (*list_path, i, "baseUri"),
                    "base-uri",
                    f"baseUri {base!r} has placeholders nothing fills ({names})",
                    severity=Severity.WARNING,
                    hint=f"serve with --upstream {as_dict(api).get('namespace')}=URL",
                )
            )
    return found


# ---------------------------------------------------------------- JSONPath
def _check_jsonpaths(doc: SourceDocument, walk: Walk) -> list[Diagnostic]:
    found = []
    for pointer, expression in _jsonpath_sites(walk):
        try:
            compile_path(expression)
        except JsonPathError as exc:
            found.append(doc.diag(pointer, "jsonpath", str(exc)))
    return found


def _jsonpath_sites(walk: Walk) -> Iterator[tuple[DataPath, str]]:
    for pointer, value in walk.strings:
        key = pointer[-1] if pointer else None
        if key == "mapping":
            yield pointer, value
        elif key == "lookupValue" and value.startswith("$"):
            yield pointer, value  # otherwise a template or a literal, as in the reference
        elif (
            key == "value"
            and value.startswith("$")
            and ("outputParameters" in pointer or "mappings" in pointer)
        ):
            yield pointer, value


# ---------------------------------------------------------------- across files
@dataclass
class _Site:
    doc: SourceDocument
    pointer: DataPath

    def where(self) -> str:
        line, column = self.doc.source_map.locate(self.pointer)
        return f"{self.doc.display}:{line}:{column}"


def check_across(docs: list[SourceDocument]) -> list[Diagnostic]:
    """Rules over every file served together: routes, tools, ports, exposed namespaces."""
    found: list[Diagnostic] = []
    routes: dict[tuple[int, str, str], _Site] = {}
    tools: dict[tuple[str, str], _Site] = {}
    ports: dict[int, tuple[str, _Site]] = {}
    namespaces: dict[str, _Site] = {}
    for doc in docs:
        capability = as_dict(as_dict(doc.data).get("capability"))
        for e, expose in enumerate(as_list(capability.get("exposes"))):
            expose = as_dict(expose)
            base: DataPath = ("capability", "exposes", e)
            kind, port = expose.get("type"), expose.get("port")
            namespace = expose.get("namespace")
            if isinstance(namespace, str):
                site = _Site(doc, (*base, "namespace"))
                prior_ns = namespaces.get(namespace)
                if prior_ns and prior_ns.doc is not doc:
                    found.append(
                        doc.diag(
                            site.pointer,
                            "namespace-unique",
                            f"exposed namespace {namespace!r} is already used at "
                            f"{prior_ns.where()}",
                        )
                    )
                namespaces.setdefault(namespace, site)
            if isinstance(port, int) and isinstance(kind, str):
                prior_port = ports.get(port)
                if prior_port and prior_port[0] != kind:
                    found.append(
                        doc.diag(
                            (*base, "port"),
                            "port-conflict",
                            f"port {port} is used by a {kind} adapter here and by a "
                            f"{prior_port[0]} adapter at {prior_port[1].where()}",
                        )
                    )
                ports.setdefault(port, (kind, _Site(doc, (*base, "port"))))
            if kind == "rest" and isinstance(port, int):
                found.extend(_routes(doc, expose, base, port, routes))
            if kind == "mcp":
                server = str(port) if isinstance(port, int) else f"stdio:{namespace}"
                for t, tool in enumerate(as_list(expose.get("tools"))):
                    name = as_dict(tool).get("name")
                    if not isinstance(name, str):
                        continue
                    site = _Site(doc, (*base, "tools", t, "name"))
                    prior = tools.get((server, name))
                    if prior:
                        found.append(
                            doc.diag(
                                site.pointer,
                                "tool-conflict",
                                f"MCP tool {name!r} is already defined at "
                                f"{prior.where()} on the same server",
                            )
                        )
                    else:
                        tools[(server, name)] = site
    return found


def _routes(
    doc: SourceDocument,
    expose: dict[str, Any],
    base: DataPath,
    port: int,
    routes: dict[tuple[int, str, str], _Site],
) -> list[Diagnostic]:
    found = []
    for r, resource in enumerate(as_list(expose.get("resources"))):
        resource = as_dict(resource)
        path = resource.get("path")
        if not isinstance(path, str):
            continue
        route = shape(path)
        for o, op in enumerate(as_list(resource.get("operations"))):
            method = str(as_dict(op).get("method", "GET"))
            site = _Site(doc, (*base, "resources", r, "operations", o, "method"))
            prior = routes.get((port, method, route))
            if prior:
                found.append(
                    doc.diag(
                        site.pointer,
                        "route-conflict",
                        f"route {method} {path} on port {port} is already defined "
                        f"at {prior.where()}",
                    )
                )
            else:
                routes[(port, method, route)] = site
    return found


# ---------------------------------------------------------------- helpers
def _suggest(name: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _variables(text: str) -> tuple[str, ...]:
    try:
        return Template(text).variables
    except TemplateSyntaxError:
        return ()


def _strings(node: Any) -> Iterator[str]:
    for _, text in _strings_with_paths(node, ()):
        yield text


def _strings_with_paths(node: Any, pointer: DataPath) -> Iterator[tuple[DataPath, str]]:
    if isinstance(node, str):
        yield pointer, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings_with_paths(value, (*pointer, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings_with_paths(value, (*pointer, i))
