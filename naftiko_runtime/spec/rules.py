"""Semantic rules the schema cannot express: references resolve and nothing collides.

Each finding carries a rule id:
  call-target      `call`/`ref` names an operation (or aggregate function) that exists
  with-key         every `with` key is a parameter of the called operation
  path-param       every `{param}` of an exposed REST path is bound to an input
  required-param   required consumed parameters (and consumed path placeholders) are supplied
  binding          every `{{env.X}}`/`{{X}}` variable resolves to a key of `binds`
  namespace-unique namespaces are unique in a file, exposed ones across all files
  route-conflict   two REST routes (port + method + path) never collide, across all files
  tool-conflict    MCP tool names are unique per server, across all files
  port-conflict    one port serves one kind of adapter
  jsonpath         every JSONPath compiles
  template-syntax  every `{{template}}` compiles
  base-uri         (warning) a baseUri with `{placeholder}`s nothing fills; serve needs --upstream
  param-location   `in:` names a known location
  duplicate-name   operation names are unique in a namespace (reported by the index)
  import           imports resolve (reported by the index)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from naftiko_runtime.diagnostics import Diagnostic, Severity
from naftiko_runtime.jsonpath import JsonPathError, compile_path
from naftiko_runtime.spec.callers import Caller, iter_callers, reference_name
from naftiko_runtime.spec.graph_rules import check_graph
from naftiko_runtime.spec.index import SpecIndex, consumes_lists, norm, path_variables
from naftiko_runtime.spec.source import DataPath, SourceDocument, as_dict, as_list
from naftiko_runtime.templating import Template, TemplateSyntaxError

_BINDING_VAR = re.compile(r"^[A-Z][A-Z0-9_]*$")


def check_document(doc: SourceDocument, index: SpecIndex) -> list[Diagnostic]:
    """Rules that look at one file on its own."""
    found: list[Diagnostic] = []
    callers = list(iter_callers(doc.data))
    for caller in callers:
        found.extend(_check_call(doc, index, caller))
        if caller.kind == "rest":
            found.extend(_check_path_params(doc, index, caller))
    found.extend(_check_namespaces(doc))
    found.extend(_check_templates_and_bindings(doc))
    found.extend(_check_base_uris(doc))
    found.extend(_check_jsonpaths(doc))
    found.extend(check_graph(doc, index))
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
    for value in as_dict(caller.data.get("with")).values():
        referenced = reference_name(value, caller.prefixes)
        if referenced:
            bound.add(norm(referenced))
        if isinstance(value, str):
            bound.update(norm(v) for v in _variables(value))
    found = []
    resource_pointer = caller.pointer[:-2]
    for variable in path_variables(caller.path):
        if norm(variable) not in bound and (caller.data.get("call") or caller.data.get("ref")):
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


# ---------------------------------------------------------------- namespaces
def _check_namespaces(doc: SourceDocument) -> list[Diagnostic]:
    seen: dict[str, DataPath] = {}
    found = []
    root = as_dict(doc.data)
    capability = as_dict(root.get("capability"))
    entries: list[tuple[DataPath, Any]] = []
    for list_path, items in consumes_lists(doc.data):
        for i, item in enumerate(items):
            item = as_dict(item)
            name = item.get("as", item.get("import", item.get("namespace")))
            key = "as" if "as" in item else "import" if "import" in item else "namespace"
            entries.append(((*list_path, i, key), name))
    for e, expose in enumerate(as_list(capability.get("exposes"))):
        entries.append(
            (("capability", "exposes", e, "namespace"), as_dict(expose).get("namespace"))
        )
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


def _template_sites(doc: SourceDocument) -> Iterator[tuple[DataPath, str, bool]]:
    """(pointer, text, secret_context) for every string that is a template."""
    for list_path, items in consumes_lists(doc.data):
        for i, api in enumerate(items):
            api = as_dict(api)
            base = (*list_path, i)
            if isinstance(api.get("baseUri"), str):
                yield (*base, "baseUri"), api["baseUri"], True
            for key, value in as_dict(api.get("authentication")).items():
                if key != "type" and isinstance(value, str):
                    yield (*base, "authentication", key), value, True
            yield from _param_values(api.get("inputParameters"), (*base, "inputParameters"))
            for r, resource in enumerate(as_list(api.get("resources"))):
                resource = as_dict(resource)
                rbase = (*base, "resources", r)
                yield from _param_values(
                    resource.get("inputParameters"), (*rbase, "inputParameters")
                )
                for o, op in enumerate(as_list(resource.get("operations"))):
                    op = as_dict(op)
                    obase = (*rbase, "operations", o)
                    yield from _param_values(op.get("inputParameters"), (*obase, "inputParameters"))
                    body = op.get("body")
                    for sub, text in _strings_with_paths(body, (*obase, "body")):
                        yield sub, text, False
    for caller in iter_callers(doc.data):
        for key, value in as_dict(caller.data.get("with")).items():
            if isinstance(value, str):
                yield (*caller.pointer, "with", key), value, False
    capability = as_dict(as_dict(doc.data).get("capability"))
    for e, expose in enumerate(as_list(capability.get("exposes"))):
        for key, value in as_dict(as_dict(expose).get("authentication")).items():
            if key != "type" and isinstance(value, str):
                yield ("capability", "exposes", e, "authentication", key), value, True


def _param_values(params: Any, pointer: DataPath) -> Iterator[tuple[DataPath, str, bool]]:
    for p, param in enumerate(as_list(params)):
        value = as_dict(param).get("value")
        if isinstance(value, str):
            yield (*pointer, p, "value"), value, False


def _check_templates_and_bindings(doc: SourceDocument) -> list[Diagnostic]:
    # a file of shared `consumes` only is imported; its variables are bound by the importer
    check_bindings = "capability" in as_dict(doc.data)
    keys = _bound_keys(doc)
    all_keys = {k for names in keys.values() for k in names}
    found = []
    for pointer, text, secret_context in _template_sites(doc):
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


_SINGLE_BRACE = re.compile(r"(?<!\{)\{([A-Za-z0-9_.\-]+)\}(?!\})")


def _check_base_uris(doc: SourceDocument) -> list[Diagnostic]:
    found = []
    for list_path, items in consumes_lists(doc.data):
        for i, api in enumerate(items):
            base = as_dict(api).get("baseUri")
            if isinstance(base, str) and _SINGLE_BRACE.search(base):
                names = ", ".join("{" + m + "}" for m in _SINGLE_BRACE.findall(base))
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
def _check_jsonpaths(doc: SourceDocument) -> list[Diagnostic]:
    found = []
    for pointer, expression in _jsonpath_sites(doc.data, ()):
        try:
            compile_path(expression)
        except JsonPathError as exc:
            found.append(doc.diag(pointer, "jsonpath", str(exc)))
    return found


def _jsonpath_sites(node: Any, pointer: DataPath) -> Iterator[tuple[DataPath, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = (*pointer, key)
            if key == "mapping" and isinstance(value, str):
                yield here, value
            elif key == "lookupValue" and isinstance(value, str) and value.startswith("$"):
                yield here, value  # otherwise a template or a literal, as in the reference
            elif (
                key == "value"
                and isinstance(value, str)
                and value.startswith("$")
                and ("outputParameters" in pointer or "mappings" in pointer)
            ):
                yield here, value
            else:
                yield from _jsonpath_sites(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _jsonpath_sites(value, (*pointer, i))


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
        shape = re.sub(r"\{[^}]*\}", "{}", path)
        for o, op in enumerate(as_list(resource.get("operations"))):
            method = str(as_dict(op).get("method", "GET"))
            site = _Site(doc, (*base, "resources", r, "operations", o, "method"))
            prior = routes.get((port, method, shape))
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
                routes[(port, method, shape)] = site
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
