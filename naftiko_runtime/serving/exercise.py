"""`naftiko-runtime check --exercise`: serve each capability in this process against mocks of
its upstreams' OpenAPI documents, call every exposed REST operation and MCP tool once with
inputs made from the upstream's schemas and examples, and report what went wrong at the
capability's own lines:

- `exercise-request`: a request the gateway sent that the upstream's document refuses
  (path, query, headers, cookies, body, security), checked with `openapi-core`;
- `exercise-null-output`: a declared output left null although the upstream's example
  answer has the field it was meant to read (a misspelt or misplaced JSONPath);
- `exercise-response`: an answer that does not fit the gateway's own published
  `/openapi.json` (`openapi-core`) or the tool's `outputSchema` (`jsonschema`);
- `exercise-status`: an error for generated valid input, from the upstream or the gateway;
- `exercise-skipped` (warning): what could not be called (no valid value for a required
  input, an inbound authentication it cannot present, the time budget spent).

Nothing listens but the recording proxy and the Prism mocks, all on loopback, all closed or
stopped before `exercise` returns; no request leaves the machine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from naftiko_runtime.capability.source import SourceDocument
from naftiko_runtime.diagnostics import Diagnostic, Severity
from naftiko_runtime.model import AnyInvocation, Capability, Input
from naftiko_runtime.openapi.documents import OpenApiDocument
from naftiko_runtime.openapi.documents import Operation as UpstreamOperation
from naftiko_runtime.openapi.drift import _find
from naftiko_runtime.openapi.findings import (
    ConsumedIndex,
    Finding,
    WireRequest,
    call_at,
    null_findings,
    request_finding,
    response_findings,
    skipped,
    status_findings,
)
from naftiko_runtime.openapi.mock import (
    PRISM_START_SECONDS,
    Exchange,
    Prism,
    Upstreams,
    find_prism,
    plain_parameters,
    self_contained,
)
from naftiko_runtime.openapi.targets import (
    NONE,
    Target,
    Upstream,
    as_declared,
    calls,
    core_view,
    fed,
    namespace_of,
    namespaces,
    targets,
    upstream_parameter,
    value_for,
)

DEFAULT_BUDGET = 60.0  # seconds for the whole exercise, mocks' start included
DEFAULT_CALL_TIMEOUT = 10.0  # seconds one call may take
PLACEHOLDER = "naftiko-exercise"  # every bound variable's value: no real secret is read


class ExerciseError(Exception):
    """A usage problem (Prism asked for but not found); the CLI exits 2 with it."""


@dataclass(frozen=True)
class ExerciseOptions:
    budget: float = DEFAULT_BUDGET
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    mock: str = "auto"  # auto: Prism where installed, else the built-in mock
    prism: str | None = None  # Prism's executable (default: found as `find_prism` says)


class _Placeholders(Mapping[str, str]):
    """An environment in which every variable is bound, to a value that is no secret."""

    def __getitem__(self, key: str) -> str:
        return PLACEHOLDER

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def exercise(
    documents: Sequence[SourceDocument],
    capabilities: Sequence[Capability],
    specs: Sequence[OpenApiDocument],
    options: ExerciseOptions,
    environ: Mapping[str, str],
) -> list[Diagnostic]:
    """Every finding of the exercise, sorted as `validate` sorts (raises ExerciseError)."""
    by_file = {c.file: c for c in capabilities}
    pairs = [(d, by_file[d.display]) for d in documents if d.display in by_file]
    prism = None
    if options.mock != "builtin":
        prism = find_prism(options.prism, environ)
        if prism is None and (options.mock == "prism" or options.prism):
            raise ExerciseError(
                "Prism not found (give --prism PATH, set NAFTIKO_PRISM, or install "
                "@stoplight/prism-cli; --mock builtin needs none)"
            )
    logger = logging.getLogger("naftiko_runtime")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # what goes wrong is reported as diagnostics
    try:
        with warnings.catch_warnings():  # openapi-core warns of schemes it does not check
            warnings.filterwarnings("ignore", category=UserWarning, module=r"openapi_core\.")
            found = asyncio.run(_Run(pairs, specs, options, prism).run())
    finally:
        logger.setLevel(level)
    return sorted(set(found), key=Diagnostic.sort_key)


class _Run:
    def __init__(
        self,
        pairs: Sequence[tuple[SourceDocument, Capability]],
        specs: Sequence[OpenApiDocument],
        options: ExerciseOptions,
        prism: str | None,
    ) -> None:
        self.pairs = pairs
        self.specs = specs
        self.options = options
        self.prism = prism
        self.deadline = time.monotonic() + options.budget
        self.found: list[Diagnostic] = []
        self.skipped: list[tuple[SourceDocument, Target]] = []
        self.validators: dict[int, Any] = {}
        self.proxy: Upstreams | None = None

    def left(self) -> float:
        return self.deadline - time.monotonic()

    async def run(self) -> list[Diagnostic]:
        plans = [(doc, cap, namespaces(doc, self.specs)) for doc, cap in self.pairs]
        needed = sorted({u.index for _, _, plan in plans for u in plan.values()})
        mocks: list[str | None] = [None] * len(self.specs)
        prisms: list[tuple[int, Prism]] = []
        folder = tempfile.TemporaryDirectory(prefix="naftiko-exercise-")
        try:
            if self.prism is not None:
                prisms = [(i, Prism(self.prism, self._served(i, folder.name))) for i in needed]
                for _, mock in prisms:
                    mock.start()
                for i, mock in prisms:
                    mocks[i] = await self._ready(self.specs[i].path.name, mock)
            self.proxy = Upstreams(self.specs, mocks, self.options.call_timeout)
            await self.proxy.start()
            for document, capability, plan in plans:
                await self._capability(document, capability, plan)
        finally:
            if self.proxy is not None:
                await self.proxy.close()
            for _, mock in prisms:
                mock.stop()
            folder.cleanup()
        self._report_skipped()
        return self.found

    def _served(self, index: int, folder: str) -> Path:
        """The file Prism mocks: the document, or a copy with optional parameters read
        plainly (`plain_parameters`) where that changes it and it refers to no other file."""
        spec = self.specs[index]
        plain = plain_parameters(spec.data)
        if plain == spec.data or not self_contained(spec.data):
            return spec.path
        copy = Path(folder) / f"upstream-{index}.json"
        copy.write_text(json.dumps(plain), encoding="utf-8")
        return copy

    async def _ready(self, name: str, mock: Prism) -> str | None:
        """Prism's URL; None (the built-in mock answers) when it cannot start, unless
        `--mock prism` asked for it."""
        deadline = time.monotonic() + min(PRISM_START_SECONDS, max(self.left(), 0.0))
        try:
            return await mock.ready(deadline)
        except OSError as exc:
            if self.options.mock == "prism":
                raise ExerciseError(f"Prism could not serve {name}: {exc}") from None
            return None

    async def _capability(
        self, document: SourceDocument, capability: Capability, plan: dict[str, Upstream]
    ) -> None:
        from naftiko_runtime.errors import BindingError, StartupError
        from naftiko_runtime.serving.assemble import compile_runtime
        from naftiko_runtime.serving.options import ServeOptions
        from naftiko_runtime.upstream.base import Timeouts

        assert self.proxy is not None
        timeout = self.options.call_timeout
        options = ServeOptions(
            upstreams={ns: f"{self.proxy.base}/d{u.index}{u.prefix}" for ns, u in plan.items()},
            timeouts=Timeouts(connect=min(5.0, timeout), total=timeout, pool=timeout),
        )
        try:
            runtime = compile_runtime([capability], _Placeholders(), options, tracing=None)
        except (BindingError, StartupError, ValueError) as exc:
            self.found.append(
                document.diag(
                    ("capability",),
                    "exercise-skipped",
                    f"not exercised: it does not compile for serving ({exc})",
                    severity=Severity.WARNING,
                    hint="`validate --compile` says more.",
                )
            )
            return
        consumed = ConsumedIndex(document)
        try:
            for target in targets(document, capability, runtime):
                if target.skip is not None:
                    self._add(document, [skipped(target, target.skip)])
                elif self.left() <= 0:
                    self.skipped.append((document, target))
                else:
                    self._add(document, await self._call(document, consumed, plan, target))
        finally:
            await runtime.upstream.close()

    def _add(self, document: SourceDocument, findings: Sequence[Finding]) -> None:
        for f in findings:
            self.found.append(
                document.diag(f.at, f.rule, f.message, hint=f.hint, severity=f.severity)
            )

    def _report_skipped(self) -> None:
        if not self.skipped:
            return
        document, first = self.skipped[0]
        more = len(self.skipped) - 1
        self.found.append(
            document.diag(
                first.at,
                "exercise-skipped",
                f"{first.label} was not exercised"
                + (f", nor {more} more operation(s) and tool(s)" if more else "")
                + f": the time budget of {self.options.budget:g} s ran out",
                severity=Severity.WARNING,
                hint="Give more time with --exercise-budget SECONDS.",
            )
        )

    async def _call(
        self,
        document: SourceDocument,
        consumed: ConsumedIndex,
        plan: dict[str, Upstream],
        target: Target,
    ) -> list[Finding]:
        """Call once; then hold each request it caused against the upstream's document, and
        the answer against what the gateway publishes and what the example holds."""
        assert self.proxy is not None
        values, problem = self._values(target, plan)
        if problem is not None:
            return [skipped(target, problem)]
        before = len(self.proxy.exchanges)
        timeout = min(self.options.call_timeout, self.left())
        try:
            answer = await asyncio.wait_for(target.send(values), timeout)
        except TimeoutError:
            if self.left() <= 0:
                self.skipped.append((document, target))
                return []
            return [
                Finding(
                    call_at(target),
                    "exercise-status",
                    f"{target.label}: no answer within {timeout:g} s",
                    "Check the upstream's speed, or raise --exercise-call-timeout.",
                )
            ]
        exchanges = self.proxy.exchanges[before:]
        findings = []
        invalid = False
        for exchange in exchanges:
            for finding in self._request_findings(document, consumed, plan, target, exchange):
                invalid = True
                findings.append(finding)
        if any(e.unanswerable for e in exchanges):
            return findings  # the document has no success to answer with: nothing to judge
        findings += status_findings(target, answer, exchanges, invalid)
        if not invalid and not any(e.status >= 400 or e.failure for e in exchanges):
            findings += response_findings(target, answer)  # else the cause is reported
        if answer.status < 400 and answer.error is None and exchanges:
            findings += null_findings(target, consumed, answer, exchanges)
        return findings

    # ------------------------------------------------------------------ inputs
    def _values(
        self, target: Target, plan: dict[str, Upstream]
    ) -> tuple[dict[str, Any], str | None]:
        """A value for every input that has one; a required input without any is why the
        target cannot be called."""
        values: dict[str, Any] = {}
        for item in target.inputs:
            upstream = self._upstream_schema(item, target.invocation, plan)
            value = value_for(item, upstream)
            if value is NONE:
                if item.required:
                    where = "the upstream's schema" if upstream else "its type"
                    return {}, (
                        f"no value for the required input `{item.name}` fits {where}; give "
                        "the upstream's parameter an example"
                    )
                continue
            values[item.name] = as_declared(value, item.type)
        return values, None

    def _upstream_schema(
        self, item: Input, invocation: AnyInvocation, plan: dict[str, Upstream]
    ) -> tuple[str, Any, OpenApiDocument] | None:
        """What the upstream says of the parameter this input feeds: ("param", parameter),
        ("media", media type) for a whole body, ("schema", schema) for a body member."""
        for operation, arguments in calls(invocation):
            key = fed(item.name, arguments, operation)
            upstream = plan.get(operation.namespace)
            if key is None or upstream is None:
                continue
            spec = self.specs[upstream.index]
            full = upstream.prefix + operation.path
            _, hit = _find(full, operation.method.upper(), [spec])
            if not isinstance(hit, UpstreamOperation):
                continue
            found = upstream_parameter(spec, hit, operation, key)
            if found is not None:
                return (*found, spec)
        return None

    # ------------------------------------------------------------------ requests
    def _validator(self, index: int) -> Any:
        """openapi-core's view of document `index` (None for Swagger 2.0, which it does
        not read)."""
        if index not in self.validators:
            spec = self.specs[index]
            self.validators[index] = None
            if spec.version != "2.0":
                self.validators[index] = core_view(plain_parameters(spec.data), spec.uri)
        return self.validators[index]

    def _request_findings(
        self,
        document: SourceDocument,
        consumed: ConsumedIndex,
        plan: dict[str, Upstream],
        target: Target,
        exchange: Exchange,
    ) -> list[Finding]:
        validator = self._validator(exchange.document)
        if validator is None:
            return []
        spec = self.specs[exchange.document]
        servers = spec.servers()
        origin = urlparse(servers[0]) if servers else None
        host = (
            f"{origin.scheme}://{origin.netloc}" if origin and origin.netloc else "http://localhost"
        )
        request = WireRequest(
            host, exchange.path, exchange.method, exchange.query, exchange.headers, exchange.body
        )
        try:
            errors = list(validator.iter_request_errors(request))
        except Exception as exc:  # noqa: BLE001 - a document openapi-core cannot follow
            return [skipped(target, f"its requests cannot be checked ({type(exc).__name__})")]
        sent = f"{exchange.method} {exchange.path}"
        namespace = namespace_of(plan, exchange.document, exchange.path)
        return [
            request_finding(document, consumed, target, error, sent, namespace) for error in errors
        ]
