"""Tracing on the OpenTelemetry SDK: a span per request (REST route, MCP tool), per upstream
call and per orchestration step, trace context taken from the client (`traceparent`, or MCP's
`_meta`) and sent to the upstream, exported over OTLP and kept in a ring buffer for the
control port's `/traces`.

Off unless a control adapter or an `OTEL_EXPORTER_OTLP_*` variable asks for it; then nothing
is wrapped at all, so a request pays nothing for it. Span attributes hold route templates,
tool and namespace names, methods and statuses: never a query string or a header value.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from naftiko_runtime.errors import UpstreamError
from naftiko_runtime.model import TracingSpec
from naftiko_runtime.observability import current
from naftiko_runtime.observability.current import ENDPOINT_VARIABLES
from naftiko_runtime.text.templating import Template
from naftiko_runtime.upstream.base import Upstream, UpstreamReply, UpstreamRequest
from naftiko_runtime.version import __version__


class TraceBuffer(SpanProcessor):
    """Finished traces as the reference's `/traces` shows them: a summary per trace, written
    when its root span ends (a root's parent is absent or remote), the newest `size` kept.
    Spans of traces whose root has not ended yet are bounded too."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.traces: deque[dict[str, Any]] = deque(maxlen=size)
        self._open: dict[int, list[dict[str, Any]]] = {}

    def on_end(self, span: ReadableSpan) -> None:
        context = span.get_span_context()
        if context is None:
            return
        start, end = span.start_time or 0, span.end_time or 0
        parent = span.parent
        status = "ERROR" if span.status.status_code is StatusCode.ERROR else "OK"
        entry: dict[str, Any] = {
            "spanId": f"{context.span_id:016x}",
            "name": span.name,
            "kind": span.kind.name,
            "durationMs": round((end - start) / 1e6, 3),
            "status": status,
        }
        if parent is not None and parent.is_valid:
            entry = {"spanId": entry["spanId"], "parentSpanId": f"{parent.span_id:016x}", **entry}
        spans = self._open.setdefault(context.trace_id, [])
        spans.append(entry)
        if parent is not None and parent.is_valid and not parent.is_remote:
            if len(self._open) > self.size * 10:  # roots that never end: forget the oldest
                self._open.pop(next(iter(self._open)))
            return
        del self._open[context.trace_id]
        self.traces.appendleft(
            {
                "traceId": f"{context.trace_id:032x}",
                "operation": span.name,
                "durationMs": entry["durationMs"],
                "status": status,
                "spanCount": len(spans),
                "timestamp": datetime.fromtimestamp(start / 1e9, UTC).isoformat(),
                "spans": spans,
            }
        )

    def listing(self, operation: str | None, status: str | None) -> dict[str, Any]:
        traces = [
            {k: v for k, v in t.items() if k != "spans"}
            for t in self.traces
            if (operation is None or operation in t["operation"])
            and (status is None or t["status"].lower() == status.lower())
        ]
        return {"traces": traces, "bufferSize": self.size, "bufferUsed": len(self.traces)}

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        for found in self.traces:
            if found["traceId"] == trace_id.lower():
                return {k: v for k, v in found.items() if k != "spanCount"}
        return None


class Tracing:
    """One process's tracer provider, propagator and (optional) span buffer."""

    def __init__(self, spec: TracingSpec, endpoint: str | None, export: bool) -> None:
        resource = Resource.create(
            {"service.name": "naftiko-runtime", "service.version": __version__}
        )
        sampler = ParentBased(TraceIdRatioBased(spec.sampling))
        self.provider = TracerProvider(resource=resource, sampler=sampler)
        if export:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
            self.provider.add_span_processor(
                BatchSpanProcessor(exporter, schedule_delay_millis=500)
            )
        self.buffer = TraceBuffer(spec.buffer_size) if spec.buffer_size else None
        if self.buffer is not None:
            self.provider.add_span_processor(self.buffer)
        self.tracer = self.provider.get_tracer("naftiko_runtime", __version__)
        self.propagator: TextMapPropagator = _propagator(spec.propagation)
        self.redact: Callable[[str], str] = lambda text: text  # the runtime's redactor

    def extract_headers(self, headers: Iterable[tuple[bytes, bytes]]) -> Context:
        carrier = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in headers
            if k in (b"traceparent", b"tracestate", b"b3") or k.startswith(b"x-b3-")
        }
        return self.propagator.extract(carrier) if carrier else Context()

    def extract_meta(self, meta: Mapping[str, Any] | None) -> Context:
        """MCP carries trace context in a request's `_meta` (`traceparent`, `tracestate`)."""
        if not meta:
            return Context()
        carrier = {str(k): str(v) for k, v in meta.items() if isinstance(v, str)}
        return self.propagator.extract(carrier)

    def inject(self, headers: list[tuple[str, str]]) -> None:
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier)
        headers.extend(carrier.items())

    @contextlib.contextmanager
    def server_span(
        self, name: str, context: Context, attributes: dict[str, Any]
    ) -> Iterator[trace.Span]:
        with self.tracer.start_as_current_span(
            name,
            context=context,
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,  # an exception's text may hold a value: never exported
        ) as span:
            yield span

    def shutdown(self) -> None:
        self.provider.shutdown()


def _propagator(name: str) -> TextMapPropagator:
    if name == "b3":
        from opentelemetry.propagators.b3 import B3MultiFormat

        return B3MultiFormat()
    return TraceContextTextMapPropagator()


def build_tracing(
    spec: TracingSpec | None,
    has_control: bool,
    environ: Mapping[str, str],
    variables: Mapping[str, str],
) -> Tracing | None:
    """Tracing as configured: by the spec's control adapter (`spec`, None when its
    observability is disabled), else by the standard OTel variables; None when off."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    from_env = any(environ.get(name) for name in ENDPOINT_VARIABLES)
    if has_control and spec is None:
        return None  # the spec turned observability off
    if spec is None:
        if not from_env:
            return None
        spec = TracingSpec(buffer_size=None)
    endpoint = Template(spec.otlp_endpoint).render(variables) if spec.otlp_endpoint else None
    if not endpoint and from_env:  # as the OTel variables define them (never os.environ)
        traces = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        endpoint = traces or environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
    if not endpoint and not spec.buffer_size:
        return None
    return Tracing(spec, endpoint or None, export=bool(endpoint))


def activate(tracing: Tracing | None) -> None:
    """Make `tracing` the one the engine's steps use."""
    current.ACTIVE = tracing


class TracedUpstream:
    """An Upstream whose every call is a client span, with the trace context sent along."""

    def __init__(self, inner: Upstream, namespace: str, tracing: Tracing) -> None:
        self.inner = inner
        self.namespace = namespace
        self.tracing = tracing

    async def send(self, request: UpstreamRequest) -> UpstreamReply:
        attributes = {
            "http.request.method": request.method,
            # never the query (it may hold a key); the path redacted (it may hold a token)
            "url.full": self.tracing.redact(request.url.split("?", 1)[0]),
            "naftiko.namespace": self.namespace,
            "naftiko.operation.id": request.operation,
        }
        tracer = self.tracing.tracer
        with tracer.start_as_current_span(
            f"http.client.{request.method}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
        ) as span:
            self.tracing.inject(request.headers)
            try:
                reply = await self.inner.send(request)
            except UpstreamError as exc:
                span.set_attribute("error.type", f"upstream_{exc.kind}")
                span.set_status(StatusCode.ERROR, exc.kind)
                raise
            span.set_attribute("http.response.status_code", reply.status)
            if reply.status >= 500:
                span.set_status(StatusCode.ERROR)
            return reply

    async def close(self) -> None:
        await self.inner.close()
