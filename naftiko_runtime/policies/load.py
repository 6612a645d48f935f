"""The policy file read and checked: its shape by JSON Schema, then every name it uses
against the capabilities served, each problem located (file:line:col) like a spec's."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from naftiko_runtime.capability.source import DataPath, SourceDocument, display_path, load_source
from naftiko_runtime.diagnostics import Diagnostic
from naftiko_runtime.policies.model import (
    BreakerPolicy,
    OperationPolicy,
    PolicySet,
    RateLimitRule,
    RetryPolicy,
    TimeoutPolicy,
    UpstreamPolicy,
)
from naftiko_runtime.policies.schema import SCHEMA

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

    from naftiko_runtime.model import Capability


@functools.cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(SCHEMA)


def load_policies(
    path: Path, capabilities: Sequence[Capability]
) -> tuple[PolicySet | None, list[Diagnostic], SourceDocument | None]:
    """(the policies, every problem found, the document for showing lines); the policies
    only when there is no error."""
    doc, problems = load_source(path, display_path(path))
    if doc is None:
        return None, problems, None
    if problems:
        return None, problems, doc
    problems = _schema_problems(doc)
    if problems:
        return None, problems, doc
    data = doc.data
    problems = _Checker(doc, capabilities).check(data)
    if any(p.is_error for p in problems):
        return None, problems, doc
    return _build(doc.display, data), problems, doc


def _schema_problems(doc: SourceDocument) -> list[Diagnostic]:
    from naftiko_runtime.capability.schema import _describe, _narrow

    found: list[Diagnostic] = []
    for error in _validator().iter_errors(doc.data):
        for leaf in _narrow(error):
            found.extend(_describe(doc, leaf))
    unique = {(d.line, d.column, d.pointer, d.message): d for d in found}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def _suggest(name: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {close[0]!r}?" if close else None


class _Checker:
    """What the schema cannot say: names that must exist in the capabilities served, and
    values that only make sense together."""

    def __init__(self, doc: SourceDocument, capabilities: Sequence[Capability]) -> None:
        self.doc = doc
        self.problems: list[Diagnostic] = []
        self.operations: dict[str, set[str]] = {}
        for capability in capabilities:
            for op in capability.operations:
                self.operations.setdefault(op.namespace, set()).add(op.name)
            for adapter in capability.rest:
                for route in adapter.forwards:
                    self.operations.setdefault(route.namespace, set())
        self.routes: dict[str, bool] = {}  # "METHOD path" → behind oauth2
        self.tools: dict[str, bool] = {}
        for capability in capabilities:
            for rest in capability.rest:
                oauth = rest.auth is not None and rest.auth.type == "oauth2"
                for exposed in rest.operations:
                    self.routes[f"{exposed.method} {exposed.path}"] = oauth
            for mcp in capability.mcp:
                oauth = mcp.auth is not None and mcp.auth.type == "oauth2"
                for tool in mcp.tools:
                    self.tools[tool.name] = oauth

    def problem(self, path: DataPath, rule: str, message: str, **kwargs: Any) -> None:
        self.problems.append(self.doc.diag(path, rule, message, **kwargs))

    def check(self, data: dict[str, Any]) -> list[Diagnostic]:
        for namespace, policy in (data.get("upstreams") or {}).items():
            self._upstream(namespace, policy)
        names: dict[str, int] = {}
        for index, rule in enumerate(data.get("rateLimits") or []):
            self._rate_limit(index, rule, names)
        return sorted(self.problems, key=Diagnostic.sort_key)

    def _upstream(self, namespace: str, policy: dict[str, Any]) -> None:
        where: DataPath = ("upstreams", namespace)
        if namespace not in self.operations:
            self.problem(
                where,
                "policy-target",
                f"no capability consumes a namespace {namespace!r}",
                key=True,
                hint=_suggest(namespace, self.operations),
            )
            return
        self._retry(policy.get("retry"), (*where, "retry"))
        for name, operation in (policy.get("operations") or {}).items():
            known = self.operations[namespace]
            if name not in known:
                self.problem(
                    (*where, "operations", name),
                    "policy-target",
                    f"namespace {namespace!r} has no operation {name!r}",
                    key=True,
                    hint=_suggest(name, known),
                )
            self._retry(operation.get("retry"), (*where, "operations", name, "retry"))

    def _retry(self, retry: dict[str, Any] | None, where: DataPath) -> None:
        backoff = (retry or {}).get("backoff") or {}
        initial, ceiling = backoff.get("initial"), backoff.get("max")
        if initial is not None and ceiling is not None and initial > ceiling:
            self.problem(
                (*where, "backoff", "initial"),
                "policy-value",
                f"backoff.initial ({initial:g} s) is above backoff.max ({ceiling:g} s)",
            )

    def _rate_limit(self, index: int, rule: dict[str, Any], names: dict[str, int]) -> None:
        where: DataPath = ("rateLimits", index)
        name = rule["name"]
        if name in names:
            self.problem(
                (*where, "name"),
                "policy-value",
                f"rate limit {name!r} is defined twice (first as rateLimits[{names[name]}])",
            )
        names.setdefault(name, index)
        if rule.get("burst", rule["limit"]) < 1:  # pragma: no cover - the schema says so
            return
        oauth: list[bool] = []
        for i, route in enumerate(rule.get("routes") or []):
            method, _, path = route.partition(" ")
            if route not in self.routes:
                self.problem(
                    (*where, "routes", i),
                    "policy-target",
                    f"no REST operation {method} {path} is exposed",
                    hint=_suggest(route, self.routes),
                )
            else:
                oauth.append(self.routes[route])
        for i, tool in enumerate(rule.get("tools") or []):
            if tool not in self.tools:
                self.problem(
                    (*where, "tools", i),
                    "policy-target",
                    f"no MCP tool {tool!r} is exposed",
                    hint=_suggest(tool, self.tools),
                )
            else:
                oauth.append(self.tools[tool])
        if rule.get("per") == "jwt-subject" and not all(oauth):
            self.problem(
                (*where, "per"),
                "policy-caller",
                "per: jwt-subject needs every route and tool it limits behind oauth2 "
                "authentication: elsewhere a token's subject is unchecked, and anyone could "
                "spend another caller's quota",
                hint="limit per api-key or client-address there",
            )
        if "header" in rule and rule.get("per") != "api-key":
            self.problem(
                (*where, "header"),
                "policy-value",
                "`header` names where an API key is read: it needs per: api-key",
                key=True,
            )


# ---------------------------------------------------------------------------- building
def _timeouts(data: dict[str, Any] | None) -> TimeoutPolicy:
    data = data or {}
    return TimeoutPolicy(
        data.get("connect"), data.get("firstByte"), data.get("total"), data.get("streamIdle")
    )


def _retry(data: dict[str, Any] | None, base: RetryPolicy | None) -> RetryPolicy | None:
    if data is None:
        return base
    start = base or RetryPolicy()
    backoff = data.get("backoff") or {}
    budget = data.get("budget") or {}
    on = data.get("on")
    return RetryPolicy(
        attempts=data.get("attempts", start.attempts),
        initial=backoff.get("initial", start.initial),
        max_delay=backoff.get("max", start.max_delay),
        statuses=frozenset(x for x in on if isinstance(x, int)) if on else start.statuses,
        errors=frozenset(x for x in on if isinstance(x, str)) if on else start.errors,
        retry_after_max=data.get("retryAfterMax", start.retry_after_max),
        budget_ratio=budget.get("ratio", start.budget_ratio),
        budget_min=budget.get("minRetries", start.budget_min),
        budget_window=budget.get("window", start.budget_window),
    )


def _breaker(data: dict[str, Any] | None) -> BreakerPolicy | None:
    if data is None:
        return None
    start = BreakerPolicy()
    return BreakerPolicy(
        failure_ratio=data.get("failureRatio", start.failure_ratio),
        minimum_calls=data.get("minimumCalls", start.minimum_calls),
        window=data.get("window", start.window),
        open_for=data.get("openFor", start.open_for),
        half_open_calls=data.get("halfOpenCalls", start.half_open_calls),
    )


def _build(file: str, data: dict[str, Any]) -> PolicySet:
    upstreams = {}
    for namespace, policy in (data.get("upstreams") or {}).items():
        retry = _retry(policy.get("retry"), None)
        operations = {
            f"{namespace}.{name}": OperationPolicy(
                _timeouts(op.get("timeouts")), _retry(op.get("retry"), retry)
            )
            for name, op in (policy.get("operations") or {}).items()
        }
        upstreams[namespace] = UpstreamPolicy(
            namespace,
            _timeouts(policy.get("timeouts")),
            retry,
            _breaker(policy.get("circuitBreaker")),
            operations,
        )
    rules = []
    for rule in data.get("rateLimits") or []:
        routes = tuple((m, p) for m, _, p in (r.partition(" ") for r in rule.get("routes") or ()))
        rules.append(
            RateLimitRule(
                rule["name"],
                rule["limit"],
                float(rule["window"]),
                rule.get("burst", rule["limit"]),
                rule.get("per", "client-address"),
                rule.get("header", "X-API-Key").lower(),
                routes,
                tuple(rule.get("tools") or ()),
            )
        )
    return PolicySet(file, upstreams, tuple(rules))
