"""The Ikanos lint rules (`ikanos-rules.yml`, the Spectral ruleset of `ikanos: 1.0.0-beta5`).

Same ids, severities, `recommended` flags and messages as the ruleset, run on the file as
written, each finding at the node Spectral reports (see `official._at`). `[*]` walks a list's
items or a mapping's values, as Spectral's JSONPath does, so keyed maps and legacy lists are
both covered. The custom functions are followed to the letter, including where they look only
at lists (`script-defaults-required`, `aggregate-function-unique` read legacy `functions` lists
that a beta5 file never has). One departure, as for alpha2: the `ikanos-oauth2-*` rules select
`authentication[?(@.type == 'oauth2')]`, which never matches an object; ours check the oauth2
`authentication` object itself, as they intend.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from naftiko_runtime.capability.dialects.ikanos import each
from naftiko_runtime.capability.rules.official import _truthy, _value_at
from naftiko_runtime.capability.rules.rule import ERR, INFO, WARN, Rule
from naftiko_runtime.capability.source import DataPath, SourceDocument, as_dict
from naftiko_runtime.diagnostics import Diagnostic, Severity

Finding = tuple[DataPath, str | None]  # where, and the function's own message ({{error}})
Check = Callable[[Any], Iterator[Finding]]


def _at(doc: SourceDocument, pointer: DataPath) -> tuple[int, int, DataPath]:
    """Spectral's range for `pointer`: the nearest node that exists; a mapping or list under
    a key from the key's line, anything else from its first character."""
    while pointer and _missing(doc.data, pointer):
        pointer = pointer[:-1]
    value = _value_at(doc.data, pointer)
    key = bool(pointer) and isinstance(pointer[-1], str) and isinstance(value, dict | list)
    line, column = doc.source_map.locate(pointer, key=key)
    return line, column, pointer


def _missing(data: Any, pointer: DataPath) -> bool:
    node = data
    for step in pointer:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return True
    return False


def _select(data: Any, *steps: str) -> Iterator[tuple[DataPath, Any]]:
    """A JSONPath of plain names and `*` from the root: each node it selects, with its path."""
    found: list[tuple[DataPath, Any]] = [((), data)]
    for step in steps:
        following: list[tuple[DataPath, Any]] = []
        for path, node in found:
            if step == "*":
                following.extend(((*path, k), v) for k, v in each(node))
            elif isinstance(node, dict) and step in node:
                following.append(((*path, step), node[step]))
        found = following
    yield from found


def _where(
    nodes: Iterator[tuple[DataPath, Any]], test: Callable[[dict[str, Any]], bool]
) -> Iterator[tuple[DataPath, dict[str, Any]]]:
    """A filter `[?(...)]` over the selected nodes' members (items or values)."""
    for path, node in nodes:
        for key, member in each(node):
            if isinstance(member, dict) and test(member):
                yield (*path, key), member


def _consumes(
    data: Any, test: Callable[[dict[str, Any]], bool] = lambda _: True
) -> Iterator[tuple[DataPath, dict[str, Any]]]:
    yield from _where(_select(data, "consumes"), test)
    yield from _where(_select(data, "capability", "consumes"), test)


def _exposes(data: Any, kind: str | None = None) -> Iterator[tuple[DataPath, dict[str, Any]]]:
    return _where(
        _select(data, "capability", "exposes"), lambda e: kind is None or e.get("type") == kind
    )


def _members(
    nodes: Iterator[tuple[DataPath, dict[str, Any]]], name: str
) -> Iterator[tuple[DataPath, Any]]:
    for path, node in nodes:
        for key, member in each(node.get(name)):
            yield (*path, name, key), member


# ---------------------------------------------------------------- how a rule finds
def _pattern(
    nodes: Iterator[tuple[DataPath, Any]],
    *,
    match: str | None = None,
    not_match: str | None = None,
    field: str | None = None,
) -> Iterator[Finding]:
    for path, node in nodes:
        if field is not None:
            if not isinstance(node, dict) or field not in node:
                continue
            path, node = (*path, field), node[field]
        if not isinstance(node, str):
            continue
        if match is not None and not re.search(match, node):
            yield path, None
        elif not_match is not None and re.search(not_match, node):
            yield path, None


def _truthy_field(nodes: Iterator[tuple[DataPath, Any]], name: str) -> Iterator[Finding]:
    for path, node in nodes:
        if not isinstance(node, dict):
            continue
        if name not in node:
            yield path, None
        elif not _truthy(node[name]):
            yield (*path, name), None


def _values(nodes: Iterator[tuple[DataPath, Any]], name: str) -> Iterator[tuple[DataPath, Any]]:
    for path, node in nodes:
        if isinstance(node, dict) and name in node:
            yield (*path, name), node[name]


# ---------------------------------------------------------------- the rules
def _namespaces_unique(data: Any) -> Iterator[Finding]:
    root = as_dict(data)
    capability = as_dict(root.get("capability"))
    seen: set[str] = set()
    for base, items in (
        (("consumes",), root.get("consumes")),
        (("capability", "consumes"), capability.get("consumes")),
        (("capability", "exposes"), capability.get("exposes")),
        (("binds",), root.get("binds")),
        (("capability", "binds"), capability.get("binds")),
    ):
        for i, item in enumerate(items if isinstance(items, list) else ()):
            namespace = as_dict(item).get("namespace")
            if isinstance(namespace, str) and namespace:
                if namespace in seen:
                    yield (*base, i, "namespace"), None
                seen.add(namespace)


def _base_uris(data: Any) -> Iterator[tuple[DataPath, Any]]:
    return _values(_consumes(data), "baseUri")


def _rest_paths(data: Any) -> Iterator[tuple[DataPath, Any]]:
    return _values(_members(_exposes(data, "rest"), "resources"), "path")


def _consumed_paths(data: Any) -> Iterator[tuple[DataPath, Any]]:
    http = _consumes(data, lambda c: c.get("type") == "http")
    return _values(_members(http, "resources"), "path")


def _addresses(data: Any) -> Iterator[Finding]:
    for kind in ("rest", "mcp", "skill"):
        yield from _pattern(_values(_exposes(data, kind), "address"), not_match=r"example\.com\Z")


def _flows(data: Any) -> Iterator[tuple[DataPath, Any]]:
    return _select(data, "capability", "aggregates", "*", "flows", "*")


def _semantics(data: Any) -> Iterator[Finding]:
    """aggregate-semantics-consistency: flows by `namespace.key` (or legacy `functions`)."""
    capability = as_dict(as_dict(data).get("capability"))
    meanings: dict[str, dict[str, Any]] = {}
    for _, aggregate in each(capability.get("aggregates")):
        aggregate = as_dict(aggregate)
        namespace = aggregate.get("namespace")
        if not isinstance(namespace, str):
            continue
        for name, flow in _named(aggregate.get("flows"), aggregate.get("functions")):
            if isinstance(flow, dict):
                found = flow.get("semantics")
                meanings[f"{namespace}.{name}"] = found if isinstance(found, dict) else {}
    if not meanings:
        return
    for e, adapter in enumerate(as_list_strict(capability.get("exposes"))):
        adapter = as_dict(adapter)
        base = ("capability", "exposes", e)
        if adapter.get("type") == "mcp":
            for key, tool in _located(adapter.get("tools")):
                yield from _tool_semantics(meanings, as_dict(tool), (*base, "tools", key))
        elif adapter.get("type") == "rest":
            for rkey, resource in _located(adapter.get("resources")):
                for okey, op in _located(as_dict(resource).get("operations")):
                    where = (*base, "resources", rkey, "operations", okey, "method")
                    yield from _method_semantics(meanings, as_dict(op), where)


def as_list_strict(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _named(primary: Any, legacy: Any) -> Iterator[tuple[str, Any]]:
    """The function's `toNamedEntries`: map keys, else list items' `name`."""
    if isinstance(primary, dict):
        yield from primary.items()
        return
    for value in primary if isinstance(primary, list) else as_list_strict(legacy):
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            yield value["name"], value


def _located(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict):
        yield from value.items()
    else:
        for i, item in enumerate(as_list_strict(value)):
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                yield i, item


def _tool_semantics(
    meanings: dict[str, dict[str, Any]], tool: dict[str, Any], base: DataPath
) -> Iterator[Finding]:
    meaning = meanings.get(tool["ref"]) if isinstance(tool.get("ref"), str) else None
    hints = tool.get("hints")
    if not meaning or not isinstance(hints, dict):
        return
    safe, idempotent = meaning.get("safe"), meaning.get("idempotent")
    if (safe is True and hints.get("readOnly") is False) or (
        safe is False and hints.get("readOnly") is True
    ):
        yield (*base, "hints", "readOnly"), None
    if safe is True and hints.get("destructive") is True:
        yield (*base, "hints", "destructive"), None
    if (idempotent is True and hints.get("idempotent") is False) or (
        idempotent is False and hints.get("idempotent") is True
    ):
        yield (*base, "hints", "idempotent"), None


def _method_semantics(
    meanings: dict[str, dict[str, Any]], op: dict[str, Any], where: DataPath
) -> Iterator[Finding]:
    ref, method = op.get("ref"), op.get("method")
    if not isinstance(ref, str) or not isinstance(method, str):
        return
    meaning = meanings.get(ref)
    if not meaning:
        return
    verb, safe = method.upper(), meaning.get("safe")
    if (
        (safe is True and verb != "GET")
        or (safe is False and verb == "GET")
        or (meaning.get("idempotent") is True and verb == "POST")
    ):
        yield where, None


def _stdio_auth(data: Any) -> Iterator[Finding]:
    for path, adapter in _exposes(data, "mcp"):
        if adapter.get("transport") == "stdio" and _truthy(adapter.get("authentication")):
            yield (*path, "authentication"), None


def _oauth2(data: Any) -> Iterator[tuple[DataPath, Any]]:
    for path, adapter in _exposes(data):
        auth = adapter.get("authentication")
        if isinstance(auth, dict) and auth.get("type") == "oauth2":
            yield (*path, "authentication"), auth


def _info_tags(data: Any) -> Iterator[Finding]:
    return _truthy_field(_select(data, "info"), "tags")


def _markdown(pattern: str) -> Check:
    def check(data: Any) -> Iterator[Finding]:
        fields: list[Iterator[tuple[DataPath, Any]]] = [
            _values(_select(data, "info"), "description"),
            _values(_select(data, "info"), "label"),
            _values(_select(data, "capability", "exposes", "*"), "description"),
            _values(_members(_exposes(data, "rest"), "resources"), "description"),
            _values(
                _select_members(_members(_exposes(data, "rest"), "resources"), "operations"),
                "description",
            ),
            _values(_members(_exposes(data, "mcp"), "tools"), "description"),
            _values(_members(_exposes(data, "skill"), "skills"), "description"),
            _values(_select(data, "consumes", "*"), "description"),
            _values(_select(data, "capability", "consumes", "*"), "description"),
        ]
        for nodes in fields:
            yield from _pattern(nodes, not_match=pattern)

    return check


def _select_members(
    nodes: Iterator[tuple[DataPath, Any]], name: str
) -> Iterator[tuple[DataPath, Any]]:
    for path, node in nodes:
        if isinstance(node, dict):
            for key, member in each(node.get(name)):
                yield (*path, name, key), member


def _control_ports(data: Any) -> Iterator[Finding]:
    exposes = as_list_strict(as_dict(as_dict(data).get("capability")).get("exposes"))
    controls, business = [], []
    for i, adapter in enumerate(exposes):
        if not adapter:
            continue
        adapter = as_dict(adapter)
        if adapter.get("type") == "control":
            controls.append((i, adapter.get("port")))
        elif _truthy(adapter.get("port")):
            business.append((i, adapter.get("type"), adapter.get("port")))
    for i, _ in controls[1:]:
        yield (
            ("capability", "exposes", i, "type"),
            (
                "Only one control adapter is allowed per capability. "
                f"Found duplicate at exposes[{i}]."
            ),
        )
    for i, port in controls:
        for j, kind, other in business:
            if type(port) is type(other) and port == other:
                yield (
                    ("capability", "exposes", i, "port"),
                    (
                        f"Control port {port} conflicts with {kind} adapter at exposes[{j}]. "
                        "Use a dedicated port for the control adapter."
                    ),
                )


def _control_address(data: Any) -> Iterator[Finding]:
    return _pattern(
        _values(_exposes(data, "control"), "address"), match=r"^(localhost|127\.0\.0\.1)\Z"
    )


def _script_defaults(data: Any) -> Iterator[Finding]:
    """script-defaults-required, which reads only list-shaped tools, operations and steps."""
    capability = as_dict(as_dict(data).get("capability"))
    exposes = as_list_strict(capability.get("exposes"))
    location = language = False
    for adapter in exposes:
        adapter = as_dict(adapter)
        scripting = as_dict(adapter.get("management")).get("scripting")
        if adapter.get("type") == "control" and _truthy(scripting):
            scripting = as_dict(scripting)
            location = _filled(scripting.get("defaultLocation"))
            language = _filled(scripting.get("defaultLanguage"))
            break
    if location and language:
        return
    for path, step in _list_steps(exposes, capability.get("aggregates")):
        if as_dict(step).get("type") != "script":
            continue
        name = step.get("name") or "unnamed"
        for key, done, default in (
            ("location", location, "defaultLocation"),
            ("language", language, "defaultLanguage"),
        ):
            if not _truthy(step.get(key)) and not done:
                yield (
                    (*path, key),
                    (
                        f"Script step '{name}' omits '{key}' and no "
                        f"'management.scripting.{default}' is configured. Add '{key}' to this "
                        f"step or set a '{default}' on the "
                        "control adapter."
                    ),
                )


def _filled(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _list_steps(exposes: list[Any], aggregates: Any) -> Iterator[tuple[DataPath, Any]]:
    for e, adapter in enumerate(exposes):
        adapter = as_dict(adapter)
        base = ("capability", "exposes", e)
        if adapter.get("type") == "mcp":
            for t, tool in enumerate(as_list_strict(adapter.get("tools"))):
                for s, step in enumerate(as_list_strict(as_dict(tool).get("steps"))):
                    yield (*base, "tools", t, "steps", s), step
        if adapter.get("type") == "rest":
            for r, resource in enumerate(as_list_strict(adapter.get("resources"))):
                for o, op in enumerate(as_list_strict(as_dict(resource).get("operations"))):
                    for s, step in enumerate(as_list_strict(as_dict(op).get("steps"))):
                        yield (*base, "resources", r, "operations", o, "steps", s), step
    for a, aggregate in enumerate(as_list_strict(aggregates)):
        for f, function in enumerate(as_list_strict(as_dict(aggregate).get("functions"))):
            for s, step in enumerate(as_list_strict(as_dict(function).get("steps"))):
                yield ("capability", "aggregates", a, "functions", f, "steps", s), step


_SECTIONS = ("consumes", "exposes", "aggregates", "binds")


def _imports(
    data: Any, test: Callable[[dict[str, Any]], bool]
) -> Iterator[tuple[DataPath, dict[str, Any]]]:
    for section in _SECTIONS:
        yield from _where(_select(data, "capability", section), test)


def _import_alias_unique(data: Any) -> Iterator[Finding]:
    capability = as_dict(as_dict(data).get("capability"))
    for section in _SECTIONS:
        seen: dict[str, int] = {}
        for i, entry in enumerate(as_list_strict(capability.get(section))):
            if not isinstance(entry, dict) or not isinstance(entry.get("from"), str):
                continue
            alias = entry.get("as")
            effective = alias if isinstance(alias, str) and alias else entry.get("import")
            if not isinstance(effective, str) or not effective:
                continue
            if effective in seen:
                yield (
                    ("capability", section, i, "as" if _truthy(alias) else "import"),
                    (
                        f"Duplicate effective namespace '{effective}' in {section} imports: entry "
                        f"{i} conflicts with entry {seen[effective]}. Use distinct 'as' aliases to "
                        "disambiguate."
                    ),
                )
            else:
                seen[effective] = i


def _standalone_no_imports(data: Any) -> Iterator[Finding]:
    root = as_dict(data)
    if _truthy(root.get("capability")):
        return
    for section in _SECTIONS:
        for i, entry in enumerate(as_list_strict(root.get(section))):
            if isinstance(entry, dict) and isinstance(entry.get("from"), str):
                yield (
                    (section, i, "from"),
                    (
                        f"Standalone {section} files must not contain import entries. Entry at "
                        f"index {i} has a 'from' field — imports are only allowed in capability "
                        "documents."
                    ),
                )


def _namespace_required(section: str, marker: str) -> Check:
    def check(data: Any) -> Iterator[Finding]:
        yield from _truthy_field(_select(data, section, "*"), "namespace")
        yield from _truthy_field(
            _where(_select(data, "capability", section), lambda e: _truthy(e.get(marker))),
            "namespace",
        )

    return check


def _function_unique(data: Any) -> Iterator[Finding]:
    for base in (("aggregates", "*", "functions"), ("capability", "aggregates", "*", "functions")):
        for path, functions in _select(data, *base):
            seen: dict[str, int] = {}
            for i, function in enumerate(as_list_strict(functions)):
                name = as_dict(function).get("name")
                if not isinstance(name, str) or not name:
                    continue
                if name in seen:
                    yield (
                        (*path, i, "name"),
                        (
                            f"Duplicate function name '{name}' at index {i} (first seen at index "
                            f"{seen[name]})."
                        ),
                    )
                else:
                    seen[name] = i


_MUSTACHE = re.compile(r"\{\{\s*([a-z0-9-]+)\.([a-z0-9-_]+)\s*\}\}", re.IGNORECASE)


def _tunnel_identity(data: Any) -> Iterator[Finding]:
    root = as_dict(data)
    capability = as_dict(root.get("capability"))
    bindings: dict[str, set[str]] = {}
    for binds in (root.get("binds"), capability.get("binds")):
        for bind in as_list_strict(binds):
            if isinstance(bind, dict) and isinstance(bind.get("namespace"), str):
                keys = bindings.setdefault(bind["namespace"], set())
                if isinstance(bind.get("keys"), dict):
                    keys.update(bind["keys"])
    for base, consumes in (
        (("consumes",), root.get("consumes")),
        (("capability", "consumes"), capability.get("consumes")),
    ):
        for i, entry in enumerate(as_list_strict(consumes)):
            identity = as_dict(as_dict(entry).get("tunnel")).get("identity")
            if not isinstance(identity, str):
                continue
            for match in _MUSTACHE.finditer(identity):
                namespace, key = match.group(1), match.group(2)
                where = (*base, i, "tunnel", "identity")
                if namespace not in bindings:
                    yield (
                        where,
                        (
                            f"tunnel.identity references binding namespace '{namespace}' but no "
                            "matching entry exists in 'binds' or 'capability.binds'."
                        ),
                    )
                elif key not in bindings[namespace]:
                    yield (
                        where,
                        (
                            f"tunnel.identity references key '{key}' on binding '{namespace}', but "
                            f"that key is not declared. Add it to binds[{namespace}].keys."
                        ),
                    )


def _tunnelled(data: Any, direct: bool) -> Iterator[tuple[DataPath, Any]]:
    def test(entry: dict[str, Any]) -> bool:
        tunnel = entry.get("tunnel")
        if not _truthy(tunnel):
            return False
        return not direct or as_dict(tunnel).get("fallback") == "direct"

    return _values(_consumes(data, test), "baseUri")


# ---------------------------------------------------------------- the table
def _rule(
    rule_id: str, severity: Severity, recommended: bool, summary: str, message: str, check: Check
) -> tuple[Rule, Check]:
    """An Ikanos rule and its check, which reads the file as written (`check_ikanos`), not
    the walk of its translation."""
    return Rule(rule_id, severity, summary, message, recommended, official=True), check


_FROM = "Import entry must have both 'from' and 'import' fields."
_TABLE: tuple[tuple[Rule, Check], ...] = (
    _rule(
        "ikanos-namespaces-unique",
        ERR,
        True,
        "namespaces are unique across adapters and binds (Ikanos)",
        "Namespaces must be globally unique across all adapters and bindings.",
        _namespaces_unique,
    ),
    _rule(
        "ikanos-consumes-baseuri-no-trailing-slash",
        WARN,
        True,
        "a consumed baseUri has no trailing slash (Ikanos)",
        "The `consumes.baseUri` should not have a trailing slash.",
        lambda d: _pattern(_base_uris(d), not_match=r"/\Z"),
    ),
    _rule(
        "ikanos-consumed-resource-no-query-in-path",
        WARN,
        True,
        "a consumed resource path has no query string (Ikanos)",
        "Consumed resource `path` must not contain a query string. Use `inputParameters` with "
        "`in: query` instead.",
        lambda d: _pattern(_consumed_paths(d), not_match=r"\?"),
    ),
    _rule(
        "ikanos-rest-resource-path-no-trailing-slash",
        WARN,
        True,
        "an exposed REST path has no trailing slash (Ikanos)",
        "Exposed resource `path` must not have a trailing slash.",
        lambda d: _pattern(_rest_paths(d), not_match=r"/\Z"),
    ),
    _rule(
        "ikanos-rest-resource-path-no-query",
        WARN,
        True,
        "an exposed REST path has no query string (Ikanos)",
        "Exposed resource `path` must not contain a query string. Use `inputParameters` with "
        "`in: query` instead.",
        lambda d: _pattern(_rest_paths(d), not_match=r"\?"),
    ),
    _rule(
        "ikanos-address-not-example",
        WARN,
        True,
        "a server address is not example.com (Ikanos)",
        "Server `address`, when present, should not be example.com.",
        _addresses,
    ),
    _rule(
        "ikanos-aggregate-flow-description",
        WARN,
        True,
        "aggregate flows have a description (Ikanos)",
        "Each aggregate flow should have a `description` field.",
        lambda d: _truthy_field(_flows(d), "description"),
    ),
    _rule(
        "ikanos-aggregate-semantics-consistency",
        WARN,
        True,
        "flow semantics agree with tool hints and REST methods (Ikanos)",
        "Aggregate flow semantics must be consistent with MCP tool hints and REST operation "
        "methods.",
        _semantics,
    ),
    _rule(
        "ikanos-mcp-auth-stdio-conflict",
        WARN,
        True,
        "a stdio MCP server has no authentication (Ikanos)",
        "MCP `authentication` should not be set when `transport` is `stdio`.",
        _stdio_auth,
    ),
    _rule(
        "ikanos-oauth2-https-authserver",
        ERR,
        True,
        "an OAuth2 authorization server uses https (Ikanos)",
        "OAuth2 `authorizationServerUri` must use the `https://` scheme.",
        lambda d: _pattern(_oauth2(d), match=r"^https://", field="authorizationServerUri"),
    ),
    _rule(
        "ikanos-oauth2-resource-https",
        WARN,
        True,
        "an OAuth2 resource uses https (Ikanos)",
        "OAuth2 `resource` should use the `https://` scheme for production.",
        lambda d: _pattern(_oauth2(d), match=r"^https://", field="resource"),
    ),
    _rule(
        "ikanos-oauth2-scopes-defined",
        WARN,
        True,
        "OAuth2 authentication defines scopes (Ikanos)",
        "OAuth2 authentication should define `scopes` for scope challenge support.",
        lambda d: _truthy_field(_oauth2(d), "scopes"),
    ),
    _rule(
        "ikanos-info-tags",
        INFO,
        False,
        "info has tags (Ikanos)",
        "The `info.tags` array should be present and non-empty.",
        _info_tags,
    ),
    _rule(
        "ikanos-consumes-description",
        WARN,
        True,
        "consumes entries have a description (Ikanos)",
        "Each `consumes` entry should have a `description` field.",
        lambda d: _truthy_field(_consumes(d), "description"),
    ),
    _rule(
        "ikanos-rest-resource-description",
        WARN,
        True,
        "exposed REST resources have a description (Ikanos)",
        "Each exposed REST resource should have a `description` field.",
        lambda d: _truthy_field(_members(_exposes(d, "rest"), "resources"), "description"),
    ),
    _rule(
        "ikanos-rest-operation-description",
        INFO,
        False,
        "exposed REST operations have a description (Ikanos)",
        "Exposed REST operations should have a `description` field.",
        lambda d: _truthy_field(
            _select_members(_members(_exposes(d, "rest"), "resources"), "operations"),
            "description",
        ),
    ),
    _rule(
        "ikanos-no-script-tags-in-markdown",
        ERR,
        True,
        "descriptions hold no <script> tags (Ikanos)",
        "Markdown fields must not contain <script> tags.",
        _markdown(r"<script"),
    ),
    _rule(
        "ikanos-no-eval-in-markdown",
        ERR,
        True,
        "descriptions hold no eval() calls (Ikanos)",
        "Markdown fields must not contain eval() calls.",
        _markdown(r"eval\("),
    ),
    _rule(
        "ikanos-baseuri-not-example",
        WARN,
        False,
        "a consumed baseUri does not point to example.com (Ikanos)",
        "The `consumes.baseUri` should not point to example.com.",
        lambda d: _pattern(_base_uris(d), not_match=r"example\.com"),
    ),
    _rule(
        "ikanos-control-port-singleton-and-unique",
        ERR,
        True,
        "one control adapter, on a port of its own (Ikanos)",
        "Control port validation failed.",
        _control_ports,
    ),
    _rule(
        "ikanos-control-address-localhost-warning",
        WARN,
        True,
        "the control adapter listens on loopback (Ikanos)",
        "Control adapter `address` should be `localhost` or `127.0.0.1` for security.",
        _control_address,
    ),
    _rule(
        "ikanos-script-defaults-required",
        ERR,
        True,
        "script steps have a location and a language (Ikanos)",
        "{{error}}",
        _script_defaults,
    ),
    _rule(
        "ikanos-import-from-required",
        ERR,
        True,
        "an import entry names `import` (Ikanos)",
        _FROM,
        lambda d: _truthy_field(_imports(d, lambda e: _truthy(e.get("from"))), "import"),
    ),
    _rule(
        "ikanos-import-import-required",
        ERR,
        True,
        "an import entry names `from` (Ikanos)",
        _FROM,
        lambda d: _truthy_field(
            _imports(d, lambda e: _truthy(e.get("import")) and not _truthy(e.get("type"))),
            "from",
        ),
    ),
    _rule(
        "ikanos-import-unique-alias",
        ERR,
        True,
        "imported namespaces are unique per section (Ikanos)",
        "Import alias uniqueness validation failed.",
        _import_alias_unique,
    ),
    _rule(
        "ikanos-import-from-not-self",
        WARN,
        True,
        "an import's `from` is not `.` (Ikanos)",
        "Import 'from' should not point to the current directory.",
        lambda d: _pattern(
            _values(_imports(d, lambda e: _truthy(e.get("from"))), "from"), not_match=r"^\.\Z"
        ),
    ),
    _rule(
        "ikanos-standalone-no-imports",
        ERR,
        True,
        "standalone section files import nothing (Ikanos)",
        "{{error}}",
        _standalone_no_imports,
    ),
    _rule(
        "ikanos-exposes-namespace-required",
        ERR,
        True,
        "exposed adapters have a namespace (Ikanos)",
        "Each exposed adapter must have a 'namespace' to be importable.",
        _namespace_required("exposes", "type"),
    ),
    _rule(
        "ikanos-aggregates-namespace-required",
        ERR,
        True,
        "aggregates have a namespace (Ikanos)",
        "Each aggregate must have a 'namespace' to be importable.",
        _namespace_required("aggregates", "functions"),
    ),
    _rule(
        "ikanos-aggregates-unique-function-name",
        ERR,
        True,
        "aggregate function names are unique (Ikanos)",
        "Aggregate function names must be unique within the same aggregate.",
        _function_unique,
    ),
    _rule(
        "ikanos-tunnel-identity-must-bind",
        ERR,
        True,
        "tunnel.identity references a declared binding (Ikanos)",
        "tunnel.identity must reference a declared binding.",
        _tunnel_identity,
    ),
    _rule(
        "ikanos-tunnel-fallback-direct-warns",
        WARN,
        True,
        "a direct tunnel fallback targets loopback only (Ikanos)",
        "'tunnel.fallback: direct' on a non-loopback baseUri silently bypasses the tunnel and "
        "may leak traffic. Use 'fail' unless the baseUri itself is private/loopback.",
        lambda d: _pattern(
            _tunnelled(d, True), match=r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:|/|\Z)"
        ),
    ),
    _rule(
        "ikanos-tunnel-with-public-baseuri-warns",
        INFO,
        True,
        "a tunnelled baseUri is not on a public TLD (Ikanos)",
        "Tunnel target uses a public TLD baseUri — confirm the hostname truly resolves through "
        "the tunnel and not via public DNS.",
        lambda d: _pattern(
            _tunnelled(d, False),
            not_match=r"^https?://[^/]+\.(com|net|org|io|co|app|dev|cloud|ai)(:|/|\Z)",
        ),
    ),
)
RULES: tuple[Rule, ...] = tuple(rule for rule, _ in _TABLE)
_CHECKS = {rule.id: check for rule, check in _TABLE}


def check_ikanos(doc: SourceDocument, enabled: Callable[[str], bool]) -> list[Diagnostic]:
    """Every Ikanos rule's findings on `doc` (the file as written), one per rule and path."""
    found: list[Diagnostic] = []
    for rule in RULES:
        if not enabled(rule.id):
            continue
        seen: set[DataPath] = set()
        for path, message in _CHECKS[rule.id](doc.data):
            if path in seen:
                continue
            seen.add(path)
            line, column, shown = _at(doc, path)
            text = message if rule.help == "{{error}}" and message else rule.help
            found.append(
                Diagnostic(
                    doc.display,
                    line,
                    column,
                    _pointer(path),
                    rule.id,
                    text,
                    severity=rule.severity,
                )
            )
    return found


def _pointer(path: DataPath) -> str:
    from naftiko_runtime.diagnostics import pointer_of

    return pointer_of(path)
