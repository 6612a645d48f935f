"""The official Naftiko lint rules (the `1.0.0-alpha2` Spectral ruleset), over the walk.

Same ids, severities, `recommended` flags and messages as the ruleset, and each finding at
the node Spectral reports: the value a pattern rejects, or the object whose field is missing
(for a mapping under a key, the key's line). Truthiness follows JavaScript, as in Spectral
(`tags: []` counts as present). One departure: the three `naftiko-oauth2-*` rules select
`authentication[?(@.type == 'oauth2')]`, which never matches because `authentication` is an
object, not a list; ours check the oauth2 `authentication` object itself, as they intend.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from naftiko_runtime.capability.rules.rule import ERR, INFO, WARN, Check, Rule
from naftiko_runtime.capability.source import DataPath, SourceDocument, as_dict, as_list
from naftiko_runtime.capability.walk import Node, Walk
from naftiko_runtime.diagnostics import Diagnostic, Severity

_MARKDOWN_KINDS = ("rest", "mcp", "skill")


def _truthy(value: Any) -> bool:
    """JavaScript truthiness: empty lists and objects are truthy, 0 and "" are not."""
    if value is None or value is False:
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return value != 0 and value == value
    if isinstance(value, str):
        return value != ""
    return True


def _value_at(data: Any, pointer: DataPath) -> Any:
    node = data
    for step in pointer:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return None
    return node


def _at(doc: SourceDocument, pointer: DataPath, rule: Rule) -> Diagnostic:
    """Where Spectral puts a finding on `pointer`: a mapping or list under a key starts on
    the key's line; a list item at its first key; a scalar at its first character."""
    value = _value_at(doc.data, pointer)
    key = bool(pointer) and isinstance(pointer[-1], str) and isinstance(value, dict | list)
    return doc.diag(pointer, rule.id, rule.help, key=key, severity=rule.severity)


def _missing(doc: SourceDocument, node: Node, name: str, rule: Rule) -> Iterator[Diagnostic]:
    """Spectral's `truthy` on `node.name`: reported at the node when the field is absent,
    at the value when it is present but falsy."""
    if name not in node.data:
        yield _at(doc, node.pointer, rule)
    elif not _truthy(node.data[name]):
        yield _at(doc, (*node.pointer, name), rule)


def _pattern(
    doc: SourceDocument,
    node: Node,
    name: str,
    rule: Rule,
    *,
    match: str | None = None,
    not_match: str | None = None,
) -> Iterator[Diagnostic]:
    value = node.data.get(name)
    if not isinstance(value, str):
        return  # Spectral's pattern skips what is not a string
    if match is not None and not re.search(match, value):
        yield _at(doc, (*node.pointer, name), rule)
    elif not_match is not None and re.search(not_match, value):
        yield _at(doc, (*node.pointer, name), rule)


def _of(nodes: list[Node], kind: str) -> list[Node]:
    return [n for n in nodes if as_dict(n.owner).get("type") == kind]


# ---------------------------------------------------------------- the rules
def _namespaces_unique(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    root = as_dict(doc.data)
    capability = as_dict(root.get("capability"))
    seen: set[str] = set()
    for list_path, items in (
        (("consumes",), root.get("consumes")),
        (("capability", "consumes"), capability.get("consumes")),
        (("capability", "exposes"), capability.get("exposes")),
        (("binds",), root.get("binds")),
        (("capability", "binds"), capability.get("binds")),
    ):
        for i, item in enumerate(as_list(items)):
            namespace = as_dict(item).get("namespace")
            if isinstance(namespace, str) and namespace:
                if namespace in seen:
                    yield _at(
                        doc, (*list_path, i, "namespace"), RULES_BY_ID["naftiko-namespaces-unique"]
                    )
                seen.add(namespace)


def _consumes_baseuri_slash(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-consumes-baseuri-no-trailing-slash"]
    for node in walk.consumes:
        yield from _pattern(doc, node, "baseUri", rule, not_match=r"/\Z")


def _consumed_query(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-consumed-resource-no-query-in-path"]
    for node in walk.consumed_resources:
        if as_dict(node.owner).get("type") == "http":
            yield from _pattern(doc, node, "path", rule, not_match=r"\?")


def _rest_path_slash(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-rest-resource-path-no-trailing-slash"]
    for node in walk.rest_resources:
        yield from _pattern(doc, node, "path", rule, not_match=r"/\Z")


def _rest_path_query(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-rest-resource-path-no-query"]
    for node in walk.rest_resources:
        yield from _pattern(doc, node, "path", rule, not_match=r"\?")


def _address_not_example(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-address-not-example"]
    for node in walk.exposes:
        if node.data.get("type") in _MARKDOWN_KINDS:
            yield from _pattern(doc, node, "address", rule, not_match=r"example\.com\Z")


def _function_description(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-aggregate-function-description"]
    for node in walk.functions:
        yield from _missing(doc, node, "description", rule)


def _semantics_consistency(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-aggregate-semantics-consistency"]
    semantics: dict[str, dict[str, Any]] = {}
    for node in walk.functions:
        namespace, name = as_dict(node.owner).get("namespace"), node.data.get("name")
        if isinstance(namespace, str) and isinstance(name, str):
            found = node.data.get("semantics")
            semantics[f"{namespace}.{name}"] = found if isinstance(found, dict) else {}
    reported: set[DataPath] = set()

    def report(pointer: DataPath) -> Iterator[Diagnostic]:
        if pointer not in reported:  # Spectral keeps one result per rule and path
            reported.add(pointer)
            yield _at(doc, pointer, rule)

    for node in _of(walk.tools, "mcp"):
        meaning = semantics.get(str(node.data.get("ref")), {})
        hints = node.data.get("hints")
        if not meaning or not isinstance(hints, dict):
            continue
        base = (*node.pointer, "hints")
        safe, idempotent = meaning.get("safe"), meaning.get("idempotent")
        if (safe is True and hints.get("readOnly") is False) or (
            safe is False and hints.get("readOnly") is True
        ):
            yield from report((*base, "readOnly"))
        if safe is True and hints.get("destructive") is True:
            yield from report((*base, "destructive"))
        if (idempotent is True and hints.get("idempotent") is False) or (
            idempotent is False and hints.get("idempotent") is True
        ):
            yield from report((*base, "idempotent"))
    for node in _of(walk.rest_operations, "rest"):
        meaning = semantics.get(str(node.data.get("ref")), {})
        method = node.data.get("method")
        if not meaning or not isinstance(method, str) or not isinstance(node.data.get("ref"), str):
            continue
        verb = method.upper()
        safe, idempotent = meaning.get("safe"), meaning.get("idempotent")
        if (
            (safe is True and verb != "GET")
            or (safe is False and verb == "GET")
            or (idempotent is True and verb == "POST")
        ):
            yield from report((*node.pointer, "method"))


def _stdio_auth(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-mcp-auth-stdio-conflict"]
    for node in walk.exposes:
        data = node.data
        if data.get("type") == "mcp" and data.get("transport") == "stdio":
            if _truthy(data.get("authentication")):
                yield _at(doc, (*node.pointer, "authentication"), rule)


def _oauth2_nodes(walk: Walk) -> Iterator[Node]:
    for node in walk.exposes:
        auth = node.data.get("authentication")
        if isinstance(auth, dict) and auth.get("type") == "oauth2":
            yield Node((*node.pointer, "authentication"), auth)


def _oauth2_authserver(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-oauth2-https-authserver"]
    for node in _oauth2_nodes(walk):
        yield from _pattern(doc, node, "authorizationServerUri", rule, match=r"^https://")


def _oauth2_resource(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-oauth2-resource-https"]
    for node in _oauth2_nodes(walk):
        yield from _pattern(doc, node, "resource", rule, match=r"^https://")


def _oauth2_scopes(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-oauth2-scopes-defined"]
    for node in _oauth2_nodes(walk):
        yield from _missing(doc, node, "scopes", rule)


def _info_tags(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    info = as_dict(doc.data).get("info")
    if isinstance(info, dict):
        yield from _missing(doc, Node(("info",), info), "tags", RULES_BY_ID["naftiko-info-tags"])


def _consumes_description(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-consumes-description"]
    for node in walk.consumes:
        yield from _missing(doc, node, "description", rule)


def _resource_description(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-rest-resource-description"]
    for node in walk.rest_resources:
        yield from _missing(doc, node, "description", rule)


def _operation_description(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-rest-operation-description"]
    for node in walk.rest_operations:
        yield from _missing(doc, node, "description", rule)


def _steps_name(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-steps-name-pattern"]
    owners = {n.pointer for n in walk.rest_operations} | {n.pointer for n in walk.tools}
    for node in walk.steps:
        if node.owner_pointer in owners:
            yield from _pattern(doc, node, "name", rule, match=r"^[A-Za-z0-9_-]+\Z")


def _markdown_nodes(walk: Walk, doc: SourceDocument) -> Iterator[Node]:
    info = as_dict(doc.data).get("info")
    if isinstance(info, dict):
        yield Node(("info",), info)
    yield from walk.exposes
    yield from _of(walk.rest_resources, "rest")
    yield from _of(walk.rest_operations, "rest")
    yield from _of(walk.tools, "mcp")
    yield from _of(walk.skills, "skill")
    yield from walk.consumes


def _markdown(rule_id: str, pattern: str) -> Check:
    def check(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
        rule = RULES_BY_ID[rule_id]
        for node in _markdown_nodes(walk, doc):
            names = ("description", "label") if node.pointer == ("info",) else ("description",)
            for name in names:
                yield from _pattern(doc, node, name, rule, not_match=pattern)

    return check


def _baseuri_example(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-baseuri-not-example"]
    for node in walk.consumes:
        yield from _pattern(doc, node, "baseUri", rule, not_match=r"example\.com")


def _control_ports(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-control-port-singleton-and-unique"]
    controls = [n for n in walk.exposes if n.data.get("type") == "control"]
    business = [
        n for n in walk.exposes if n.data.get("type") != "control" and _truthy(n.data.get("port"))
    ]
    for extra in controls[1:]:
        yield _at(doc, (*extra.pointer, "type"), rule)
    for control in controls:
        port = control.data.get("port")
        if any(
            type(b.data.get("port")) is type(port) and b.data.get("port") == port for b in business
        ):
            yield _at(doc, (*control.pointer, "port"), rule)


def _control_address(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-control-address-localhost-warning"]
    for node in walk.exposes:
        if node.data.get("type") == "control":
            yield from _pattern(doc, node, "address", rule, match=r"^(localhost|127\.0\.0\.1)\Z")


def _script_defaults(doc: SourceDocument, walk: Walk) -> Iterator[Diagnostic]:
    rule = RULES_BY_ID["naftiko-script-defaults-required"]
    scripting: dict[str, Any] = {}
    for node in walk.exposes:
        management = as_dict(node.data.get("management"))
        if node.data.get("type") == "control" and _truthy(management.get("scripting")):
            scripting = as_dict(management.get("scripting"))
            break

    def configured(key: str) -> bool:
        value = scripting.get(key)
        return isinstance(value, str) and value.strip() != ""

    owners = [*_of(walk.tools, "mcp"), *_of(walk.rest_operations, "rest"), *walk.functions]
    order = {n.pointer: i for i, n in enumerate(owners)}
    steps = sorted(
        (s for s in walk.steps if s.owner_pointer in order), key=lambda s: order[s.owner_pointer]
    )
    for step in steps:
        if step.data.get("type") != "script":
            continue
        name = step.data.get("name") or "unnamed"
        for key, default in (("location", "defaultLocation"), ("language", "defaultLanguage")):
            if not _truthy(step.data.get(key)) and not configured(default):
                message = (
                    f"Script step '{name}' omits '{key}' and no 'management.scripting.{default}' "
                    f"is configured. Add '{key}' to this step or set a '{default}' on the "
                    "control adapter."
                )
                where = (*step.pointer, key) if key in step.data else step.pointer
                found = _at(doc, where, rule)
                yield Diagnostic(
                    found.file,
                    found.line,
                    found.column,
                    found.pointer,
                    rule.id,
                    message,
                    severity=rule.severity,
                )


def _rule(
    id: str, severity: Severity, recommended: bool, summary: str, message: str, check: Check
) -> Rule:
    """An official rule: its `recommended` flag is whether it runs by default, and its
    message (what every finding says) is its help."""
    return Rule(id, severity, summary, message, recommended, official=True, check=check)


RULES: tuple[Rule, ...] = (
    _rule(
        "naftiko-namespaces-unique",
        ERR,
        True,
        "namespaces are unique across adapters and binds",
        "Namespaces must be globally unique across all adapters and bindings.",
        _namespaces_unique,
    ),
    _rule(
        "naftiko-consumes-baseuri-no-trailing-slash",
        WARN,
        True,
        "a consumed baseUri has no trailing slash",
        "The `consumes.baseUri` should not have a trailing slash.",
        _consumes_baseuri_slash,
    ),
    _rule(
        "naftiko-consumed-resource-no-query-in-path",
        WARN,
        True,
        "a consumed resource path has no query string",
        "Consumed resource `path` must not contain a query string. Use `inputParameters` with "
        "`in: query` instead.",
        _consumed_query,
    ),
    _rule(
        "naftiko-rest-resource-path-no-trailing-slash",
        WARN,
        True,
        "an exposed REST path has no trailing slash",
        "Exposed resource `path` must not have a trailing slash.",
        _rest_path_slash,
    ),
    _rule(
        "naftiko-rest-resource-path-no-query",
        WARN,
        True,
        "an exposed REST path has no query string",
        "Exposed resource `path` must not contain a query string. Use `inputParameters` with "
        "`in: query` instead.",
        _rest_path_query,
    ),
    _rule(
        "naftiko-address-not-example",
        WARN,
        True,
        "a server address is not example.com",
        "Server `address`, when present, should not be example.com.",
        _address_not_example,
    ),
    _rule(
        "naftiko-aggregate-function-description",
        WARN,
        True,
        "aggregate functions have a description",
        "Each aggregate function should have a `description` field.",
        _function_description,
    ),
    _rule(
        "naftiko-aggregate-semantics-consistency",
        WARN,
        True,
        "function semantics agree with tool hints and REST methods",
        "Aggregate function semantics must be consistent with MCP tool hints and REST operation "
        "methods.",
        _semantics_consistency,
    ),
    _rule(
        "naftiko-mcp-auth-stdio-conflict",
        WARN,
        True,
        "a stdio MCP server has no authentication",
        "MCP `authentication` should not be set when `transport` is `stdio`.",
        _stdio_auth,
    ),
    _rule(
        "naftiko-oauth2-https-authserver",
        ERR,
        True,
        "an OAuth2 authorization server uses https",
        "OAuth2 `authorizationServerUri` must use the `https://` scheme.",
        _oauth2_authserver,
    ),
    _rule(
        "naftiko-oauth2-resource-https",
        WARN,
        True,
        "an OAuth2 resource uses https",
        "OAuth2 `resource` should use the `https://` scheme for production.",
        _oauth2_resource,
    ),
    _rule(
        "naftiko-oauth2-scopes-defined",
        WARN,
        True,
        "OAuth2 authentication defines scopes",
        "OAuth2 authentication should define `scopes` for scope challenge support.",
        _oauth2_scopes,
    ),
    _rule(
        "naftiko-info-tags",
        INFO,
        False,
        "info has tags",
        "The `info.tags` array should be present and non-empty.",
        _info_tags,
    ),
    _rule(
        "naftiko-consumes-description",
        WARN,
        True,
        "consumes entries have a description",
        "Each `consumes` entry should have a `description` field.",
        _consumes_description,
    ),
    _rule(
        "naftiko-rest-resource-description",
        WARN,
        True,
        "exposed REST resources have a description",
        "Each exposed REST resource should have a `description` field.",
        _resource_description,
    ),
    _rule(
        "naftiko-rest-operation-description",
        INFO,
        False,
        "exposed REST operations have a description",
        "Exposed REST operations should have a `description` field.",
        _operation_description,
    ),
    _rule(
        "naftiko-steps-name-pattern",
        WARN,
        True,
        "step names are plain identifiers",
        "Orchestration step `name` should follow the pattern ^[A-Za-z0-9_-]+$.",
        _steps_name,
    ),
    _rule(
        "naftiko-no-script-tags-in-markdown",
        ERR,
        True,
        "descriptions hold no <script> tags",
        "Markdown fields must not contain <script> tags.",
        _markdown("naftiko-no-script-tags-in-markdown", r"<script"),
    ),
    _rule(
        "naftiko-no-eval-in-markdown",
        ERR,
        True,
        "descriptions hold no eval() calls",
        "Markdown fields must not contain eval() calls.",
        _markdown("naftiko-no-eval-in-markdown", r"eval\("),
    ),
    _rule(
        "naftiko-baseuri-not-example",
        WARN,
        False,
        "a consumed baseUri does not point to example.com",
        "The `consumes.baseUri` should not point to example.com.",
        _baseuri_example,
    ),
    _rule(
        "naftiko-control-port-singleton-and-unique",
        ERR,
        True,
        "one control adapter, on a port of its own",
        "Control port validation failed.",
        _control_ports,
    ),
    _rule(
        "naftiko-control-address-localhost-warning",
        WARN,
        True,
        "the control adapter listens on loopback",
        "Control adapter `address` should be `localhost` or `127.0.0.1` for security.",
        _control_address,
    ),
    _rule(
        "naftiko-script-defaults-required",
        ERR,
        True,
        "script steps have a location and a language",
        "Script steps need a location and a language, or defaults on the control adapter.",
        _script_defaults,
    ),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}
