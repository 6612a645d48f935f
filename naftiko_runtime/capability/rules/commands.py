"""The rows of what other commands report: `validate --policies` (the policies file, checked
in `policies/`), `check` (an upstream's OpenAPI against the consumed operations, `openapi/
drift.py`) and `check --exercise` (`openapi/exercise.py`). The checks live with those
commands; the rows are here so that one table holds every rule `--select` can name."""

from __future__ import annotations

from naftiko_runtime.capability.rules.rule import ERR, WARN, ours

RULES = (
    ours(
        "policy-target",
        ERR,
        "`--policies`: every namespace, operation, route and tool a policy names is served",
        "Fix the name (a suggestion is given) or drop the policy.",
    ),
    ours(
        "policy-value",
        ERR,
        "`--policies`: values agree with each other (backoff bounds, unique limit names)",
        "The message names the values in conflict.",
    ),
    ours(
        "policy-caller",
        ERR,
        "`--policies`: `per: jwt-subject` limits only routes and tools behind oauth2",
        "Limit per api-key or client-address where tokens are not checked.",
    ),
    ours(
        "drift-path",
        ERR,
        "`check`: a consumed operation's path is in the upstream's OpenAPI",
        "Fix the resource path (the hint names a near miss).",
    ),
    ours(
        "drift-method",
        ERR,
        "`check`: the upstream has the operation's method on that path",
        "Use the method the upstream declares.",
    ),
    ours(
        "drift-parameter-location",
        ERR,
        "`check`: each parameter is sent where the upstream reads it",
        "Change `in` to the upstream's location.",
    ),
    ours(
        "drift-parameter-unknown",
        WARN,
        "`check`: the upstream declares each parameter sent",
        "Check the name against the upstream's OpenAPI.",
    ),
    ours(
        "drift-parameter-type",
        ERR,
        "`check`: parameter types agree with the upstream's schema",
        "Use the upstream's type.",
    ),
    ours(
        "drift-parameter-required",
        ERR,
        "`check`: required flags agree with the upstream",
        "Use the upstream's required flag.",
    ),
    ours(
        "drift-parameter-missing",
        ERR,
        "`check`: every parameter the upstream requires is declared",
        "Declare it in inputParameters.",
    ),
    ours(
        "drift-body-required",
        ERR,
        "`check`: the request body is required exactly when the upstream requires it",
        "Use the upstream's required flag for the body.",
    ),
    ours(
        "drift-body-missing",
        ERR,
        "`check`: a body the upstream requires is sent",
        "Declare an `in: body` input or a `body`.",
    ),
    ours(
        "drift-body-unknown",
        WARN,
        "`check`: a body is sent only where the upstream takes one",
        "Check the operation against the upstream's OpenAPI.",
    ),
    ours(
        "drift-response-format",
        ERR,
        "`check`: `outputRawFormat` is among the upstream's success content types",
        "Set outputRawFormat to the upstream's format.",
    ),
    ours(
        "exercise-request",
        ERR,
        "`check --exercise`: each request the gateway sends fits the upstream's OpenAPI "
        "(path, query, headers, body, security)",
        "Fix what is sent there (a `with` value, a fixed value, the body, the authentication); "
        "the message quotes the upstream's schema.",
    ),
    ours(
        "exercise-null-output",
        ERR,
        "`check --exercise`: a declared output is filled where the upstream's example answer "
        "has the field",
        "Fix the JSONPath; the hint names the field the example has.",
    ),
    ours(
        "exercise-response",
        ERR,
        "`check --exercise`: answers fit the published `/openapi.json` and each tool's "
        "`outputSchema`",
        "Make the declared outputs and formats agree with what is answered.",
    ),
    ours(
        "exercise-status",
        ERR,
        "`check --exercise`: generated valid input gets a success from the upstream and the "
        "gateway",
        "The message quotes the error; check the operation against the upstream's OpenAPI.",
    ),
    ours(
        "exercise-skipped",
        WARN,
        "`check --exercise`: every operation and tool could be called (a value for each "
        "required input, an inbound credential, time left)",
        "Give the upstream's parameter an example, or more time with --exercise-budget.",
    ),
)
