"""Every rule `validate` knows: id, severity, on by default or not, a summary and a help
text. SARIF's rule metadata, the docs' rule table (docs/reference/rules.md), `naftiko-runtime
rules` and the `--select`/`--ignore`/`--all-rules` switches all read this one table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from naftiko_runtime.capability.ikanos_rules import IKANOS_RULES
from naftiko_runtime.capability.official import OFFICIAL_RULES
from naftiko_runtime.capability.source import SourceDocument
from naftiko_runtime.diagnostics import Diagnostic, Severity

ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    default_on: bool
    summary: str
    help: str
    official: bool = False

    @property
    def ignorable(self) -> bool:
        """A structural error cannot be ignored: the spec could not be served past it."""
        return self.official or self.severity is not Severity.ERROR


_OURS: tuple[tuple[str, Severity, str, str], ...] = (
    ("yaml-syntax", ERR, "the file is well-formed YAML", "Fix the YAML syntax at the mark."),
    (
        "yaml-duplicate-key",
        ERR,
        "no key appears twice in a mapping",
        "PyYAML keeps the last of duplicate keys silently; remove one.",
    ),
    ("yaml-key-type", ERR, "mapping keys are strings", "Quote the key."),
    ("yaml-merge-key", ERR, "no YAML merge keys (`<<`)", "Write the merged keys out."),
    (
        "yaml-recursive-alias",
        ERR,
        "aliases do not expand without bound",
        "Alias bombs are refused; write the values out.",
    ),
    (
        "yaml-too-large",
        ERR,
        "the file is at most 32 MiB; aliases expand to at most 4x the nodes it holds",
        "Split the capability.",
    ),
    (
        "yaml-too-deep",
        ERR,
        "a document nests at most 100 levels",
        "Flatten the structure; no capability needs that depth.",
    ),
    ("yaml-encoding", ERR, "the file is UTF-8", "Re-encode the file as UTF-8."),
    (
        "version",
        ERR,
        "`naftiko` names a supported spec version",
        "Use 1.0.0-alpha2 or 1.0.0-alpha3.",
    ),
    ("schema-required", ERR, "required properties are present", "Add the property named."),
    ("schema-type", ERR, "values have the schema's type", "Change the value's type."),
    (
        "schema-unknown-property",
        ERR,
        "no property the schema does not define",
        "Remove or rename it (a suggestion is given when one is close).",
    ),
    ("schema-enum", ERR, "values are one of the allowed ones", "Use one of the values listed."),
    ("schema-pattern", ERR, "strings match the schema's pattern", "Change the value to match."),
    ("schema-range", ERR, "numbers are within range", "Use a value in the range given."),
    ("schema-length", ERR, "strings and lists have an allowed length", "Shorten or lengthen it."),
    ("schema-min-items", ERR, "lists have enough items", "Add items."),
    (
        "schema-one-of",
        ERR,
        "a value matches exactly one alternative",
        "The branch you meant is picked by `type` and the keys present; fix that branch.",
    ),
    ("schema-any-of", ERR, "a value matches an alternative", "Fix the value."),
    (
        "schema-not",
        ERR,
        "a value does not take a forbidden form",
        "Remove the forbidden combination.",
    ),
    ("schema-property-name", ERR, "property names match the schema", "Rename the property."),
    (
        "param-location",
        ERR,
        "`in:` names a known location",
        "Use query, header, path, cookie or body.",
    ),
    (
        "call-target",
        ERR,
        "`call` and `ref` name something that exists",
        "Use `namespace.operation` (or `aggregate.function`); a suggestion is given.",
    ),
    (
        "with-key",
        ERR,
        "every `with` key is a parameter of the called operation",
        "Rename the key or declare the parameter.",
    ),
    (
        "path-param",
        ERR,
        "every `{param}` of an exposed path is bound to an input",
        "Declare the input or bind it in `with`.",
    ),
    (
        "path-input",
        ERR,
        "every `in: path` input names a `{param}` of its path (exposed and consumed)",
        "Rename the input to the placeholder (a suggestion is given), or declare it `in: query`.",
    ),
    ("required-param", ERR, "required consumed parameters are supplied", "Supply them in `with`."),
    ("binding", ERR, "every `{{VAR}}` resolves to a key of `binds`", "Add the key to `binds`."),
    (
        "namespace-unique",
        ERR,
        "namespaces are unique (exposed ones across files)",
        "Rename one of them.",
    ),
    ("route-conflict", ERR, "port + method + path is unique across files", "Change one route."),
    ("tool-conflict", ERR, "MCP tool names are unique per server across files", "Rename a tool."),
    ("port-conflict", ERR, "one port serves one kind of adapter", "Move one adapter."),
    (
        "jsonpath",
        ERR,
        "every JSONPath compiles",
        "Fix the expression (`$.` is the whole document).",
    ),
    ("template-syntax", ERR, "every `{{template}}` compiles", "Fix the tag."),
    (
        "template-variable",
        ERR,
        "every `{{name}}` resolves to an input, a `with` key, a bound variable or a step",
        "Fix the name (a suggestion is given), declare the input, or bind the variable.",
    ),
    ("import", ERR, "imports resolve", "Fix the location or the imported namespace."),
    ("duplicate-name", ERR, "operation names are unique in a namespace", "Rename one."),
    (
        "base-uri",
        WARN,
        "a baseUri's `{placeholders}` are filled",
        "Serve with --upstream NAMESPACE=URL, or bind the values.",
    ),
    ("step-name", ERR, "step names are unique within a graph", "Rename the step."),
    (
        "step-reference",
        ERR,
        "steps read only earlier steps of their graph (no cycles)",
        "Move the step, or read a step that runs before it.",
    ),
    (
        "lookup-field",
        ERR,
        "a lookup over a lookup reads fields it returns",
        "Add the field to the earlier lookup's outputParameters.",
    ),
    (
        "step-field",
        ERR,
        "`$.step.field` and `{{step.field}}` read fields the step returns, where declared",
        "Read a field the lookup's or consumed operation's outputParameters declare.",
    ),
    (
        "lookup-index",
        ERR,
        "a lookup's `index` can hold an array (warning where only likely)",
        "Index a step whose output is the array itself; a script step can unwrap an envelope.",
    ),
    (
        "script-language",
        ERR,
        "script steps use javascript or python (and a language `allowedLanguages` lists)",
        "Groovy needs a JVM this runtime does not have; rewrite the script.",
    ),
    (
        "script-file",
        ERR,
        "script locations are folders; script files and dependencies are readable in them",
        "Create the file, or fix `location`, `file` or `dependencies`.",
    ),
    ("aggregate-duplicate", ERR, "each aggregate function ref is defined once", "Rename one."),
    (
        "base-uri-slash",
        ERR,
        "a baseUri does not end with '/'",
        "Remove the slash; the reference engine refuses to load it.",
    ),
    (
        "forward-target",
        ERR,
        "`forward.targetNamespace` is a consumed namespace",
        "Name a namespace of `consumes`.",
    ),
    (
        "apikey-placement",
        WARN,
        "apikey authentication says where the key goes",
        "Add `placement: header` or `placement: query`.",
    ),
    ("output-depth", ERR, "mapped outputs nest at most 32 levels", "Flatten the output."),
    (
        "output-schema",
        ERR,
        "avro and protobuf name a schema that loads; an html `outputSchema` is a CSS selector",
        "Point `outputSchema` at the .avsc or .proto file beside the spec.",
    ),
    (
        "extra-missing",
        ERR,
        "what the spec uses is installed: script languages, output formats, digest auth, "
        "forwarded bodies and configured tracing need their extra",
        "Install the extra the message names (`pip install 'naftiko-runtime[all]'` brings "
        "every one).",
    ),
    (
        "compile",
        ERR,
        "`validate --compile`: every operation and tool compiles for serving (what needs "
        "no network or secret is checked without it)",
        "The message says what cannot be built; fix it there.",
    ),
    (
        "ignore-comment",
        WARN,
        "`# naftiko-runtime: ignore RULE reason` names a rule and a reason",
        "Give a known rule id (or prefix) and a reason after it.",
    ),
    (
        "ikanos-legacy-list",
        WARN,
        "an Ikanos named collection is a map keyed by name, not the legacy list",
        "The Ikanos engine still reads a list of entries with `name`; its schema does not. "
        "Write `key: {...}` (`naftiko-runtime migrate --to ikanos` does).",
    ),
    (
        "import-dialect",
        WARN,
        "an import names a file of the same dialect",
        "This runtime reads both; neither reference engine reads the other's files.",
    ),
    (
        "ikanos-unserved",
        ERR,
        "every Ikanos construct is one this runtime serves (imported exposes, aggregates, "
        "binds; tunnels); beta5 fields read but not acted on yet are warnings",
        "Inline the imported section, or serve it with the Ikanos engine.",
    ),
    (
        "migrate",
        WARN,
        "`migrate`: a point that cannot be carried to the other dialect as it is",
        "The message says what was invented, dropped or kept; edit the output there.",
    ),
    (
        "portability",
        ERR,
        "`--strict`: dialect the reference engine would reject",
        "Write the portable form, or drop --strict.",
    ),
    (
        "policy-target",
        ERR,
        "`--policies`: every namespace, operation, route and tool a policy names is served",
        "Fix the name (a suggestion is given) or drop the policy.",
    ),
    (
        "policy-value",
        ERR,
        "`--policies`: values agree with each other (backoff bounds, unique limit names)",
        "The message names the values in conflict.",
    ),
    (
        "policy-caller",
        ERR,
        "`--policies`: `per: jwt-subject` limits only routes and tools behind oauth2",
        "Limit per api-key or client-address where tokens are not checked.",
    ),
    (
        "drift-path",
        ERR,
        "`check`: a consumed operation's path is in the upstream's OpenAPI",
        "Fix the resource path (the hint names a near miss).",
    ),
    (
        "drift-method",
        ERR,
        "`check`: the upstream has the operation's method on that path",
        "Use the method the upstream declares.",
    ),
    (
        "drift-parameter-location",
        ERR,
        "`check`: each parameter is sent where the upstream reads it",
        "Change `in` to the upstream's location.",
    ),
    (
        "drift-parameter-unknown",
        WARN,
        "`check`: the upstream declares each parameter sent",
        "Check the name against the upstream's OpenAPI.",
    ),
    (
        "drift-parameter-type",
        ERR,
        "`check`: parameter types agree with the upstream's schema",
        "Use the upstream's type.",
    ),
    (
        "drift-parameter-required",
        ERR,
        "`check`: required flags agree with the upstream",
        "Use the upstream's required flag.",
    ),
    (
        "drift-parameter-missing",
        ERR,
        "`check`: every parameter the upstream requires is declared",
        "Declare it in inputParameters.",
    ),
    (
        "drift-body-required",
        ERR,
        "`check`: the request body is required exactly when the upstream requires it",
        "Use the upstream's required flag for the body.",
    ),
    (
        "drift-body-missing",
        ERR,
        "`check`: a body the upstream requires is sent",
        "Declare an `in: body` input or a `body`.",
    ),
    (
        "drift-body-unknown",
        WARN,
        "`check`: a body is sent only where the upstream takes one",
        "Check the operation against the upstream's OpenAPI.",
    ),
    (
        "drift-response-format",
        ERR,
        "`check`: `outputRawFormat` is among the upstream's success content types",
        "Set outputRawFormat to the upstream's format.",
    ),
    (
        "exercise-request",
        ERR,
        "`check --exercise`: each request the gateway sends fits the upstream's OpenAPI "
        "(path, query, headers, body, security)",
        "Fix what is sent there (a `with` value, a fixed value, the body, the authentication); "
        "the message quotes the upstream's schema.",
    ),
    (
        "exercise-null-output",
        ERR,
        "`check --exercise`: a declared output is filled where the upstream's example answer "
        "has the field",
        "Fix the JSONPath; the hint names the field the example has.",
    ),
    (
        "exercise-response",
        ERR,
        "`check --exercise`: answers fit the published `/openapi.json` and each tool's "
        "`outputSchema`",
        "Make the declared outputs and formats agree with what is answered.",
    ),
    (
        "exercise-status",
        ERR,
        "`check --exercise`: generated valid input gets a success from the upstream and the "
        "gateway",
        "The message quotes the error; check the operation against the upstream's OpenAPI.",
    ),
    (
        "exercise-skipped",
        WARN,
        "`check --exercise`: every operation and tool could be called (a value for each "
        "required input, an inbound credential, time left)",
        "Give the upstream's parameter an example, or more time with --exercise-budget.",
    ),
)

RULES: dict[str, Rule] = {
    rule_id: Rule(rule_id, severity, True, summary, help)
    for rule_id, severity, summary, help in _OURS
}
for official in (*OFFICIAL_RULES, *IKANOS_RULES):
    RULES[official.id] = Rule(
        official.id,
        official.severity,
        official.recommended,
        official.summary,
        official.message,
        official=True,
    )


def rule(rule_id: str) -> Rule | None:
    return RULES.get(rule_id)


def _matches(rule_id: str, patterns: Iterable[str]) -> bool:
    return any(rule_id == p or rule_id.startswith(p.rstrip("*")) for p in patterns)


@dataclass(frozen=True)
class Selection:
    """Which rules report: the default set, `--all-rules`, `--select` and `--ignore`."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    all_rules: bool = False

    def enabled(self, rule_id: str) -> bool:
        known = RULES.get(rule_id)
        if self.ignore and _matches(rule_id, self.ignore) and (known is None or known.ignorable):
            return False
        if self.select:
            return _matches(rule_id, self.select) or (known is not None and not known.ignorable)
        return known is None or known.default_on or self.all_rules

    def runs_official(self, rule_id: str) -> bool:
        return self.enabled(rule_id)


DEFAULT = Selection()
_IGNORE = re.compile(r"#\s*naftiko-runtime:\s*ignore\s+(?P<rules>[A-Za-z0-9*,_-]+)(?P<reason>.*)$")


def ignore_comments(doc: SourceDocument) -> tuple[set[str], list[Diagnostic]]:
    """Rules a file switches off for itself, and problems with the comments that do it."""
    ignored: set[str] = set()
    problems: list[Diagnostic] = []
    for number, line in enumerate(doc.lines, start=1):
        match = _IGNORE.search(line)
        if match is None:
            continue
        column = match.start() + 1
        reason = match.group("reason").strip(" -:—")
        for rule_id in match.group("rules").split(","):
            known = [r for r in RULES.values() if _matches(r.id, [rule_id])]
            if not known:
                problems.append(_comment_problem(doc, number, column, f"unknown rule {rule_id!r}"))
            elif not reason:
                problems.append(
                    _comment_problem(doc, number, column, f"ignoring {rule_id} needs a reason")
                )
            elif not all(r.ignorable for r in known):
                problems.append(
                    _comment_problem(
                        doc,
                        number,
                        column,
                        f"{rule_id} is a structural error and cannot be ignored",
                    )
                )
            else:
                ignored.add(rule_id)
    return ignored, problems


def _comment_problem(doc: SourceDocument, line: int, column: int, message: str) -> Diagnostic:
    return Diagnostic(
        doc.display, line, column, "", "ignore-comment", message, severity=Severity.WARNING
    )


def apply_selection(
    diagnostics: Sequence[Diagnostic],
    selection: Selection,
    ignored_by_file: dict[str, set[str]],
) -> list[Diagnostic]:
    kept = []
    for d in diagnostics:
        if not selection.enabled(d.rule):
            continue
        ignored = ignored_by_file.get(d.file)
        known = RULES.get(d.rule)
        if ignored and _matches(d.rule, ignored) and (known is None or known.ignorable):
            continue
        kept.append(d)
    return kept


def markdown_table() -> str:
    """The docs' rule table (a test keeps docs/reference/rules.md in step with this)."""
    lines = ["| rule | severity | default | checks |", "|---|---|---|---|"]
    for entry in RULES.values():
        default = "on" if entry.default_on else "off (`--all-rules`)"
        origin = " (official)" if entry.official else ""
        lines.append(
            f"| `{entry.id}` | {entry.severity.value} | {default} | {entry.summary}{origin} |"
        )
    return "\n".join(lines) + "\n"
