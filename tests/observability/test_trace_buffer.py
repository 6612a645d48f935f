"""The `/traces` ring buffer on its own, following the reference's TraceRingBufferTest
(newest first, the oldest evicted when full, found by id) and TracesResourceTest (status
filter, span details, nothing for an unknown id)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import StatusCode

from naftiko_runtime.observability.tracing import TraceBuffer


def traced(buffer: TraceBuffer) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(buffer)
    return provider


def test_newest_first_and_the_oldest_evicted_when_full() -> None:
    buffer = TraceBuffer(10)
    tracer = traced(buffer).get_tracer("test")
    for n in range(12):
        with tracer.start_as_current_span(f"rest.request {n}"):
            pass
    listing = buffer.listing(None, None)
    assert (listing["bufferSize"], listing["bufferUsed"]) == (10, 10)
    names = [t["operation"] for t in listing["traces"]]
    assert names == [f"rest.request {n}" for n in range(11, 1, -1)]


def test_a_trace_holds_its_spans_and_is_found_by_id() -> None:
    buffer = TraceBuffer(10)
    tracer = traced(buffer).get_tracer("test")
    with tracer.start_as_current_span("rest.request") as root:
        with tracer.start_as_current_span("http.client.GET") as child:
            child.set_status(StatusCode.ERROR)
    trace_id = f"{root.get_span_context().trace_id:032x}"
    (summary,) = buffer.listing(None, None)["traces"]
    assert summary["traceId"] == trace_id and summary["spanCount"] == 2
    assert summary["status"] == "OK"  # the root's status (UNSET reads as OK)
    detail = buffer.trace(trace_id.upper())
    assert detail is not None
    client = next(s for s in detail["spans"] if s["name"] == "http.client.GET")
    assert client["status"] == "ERROR" and client["kind"] == "INTERNAL"
    assert client["parentSpanId"] == f"{root.get_span_context().span_id:016x}"
    assert buffer.trace("0" * 32) is None


def test_filters_by_operation_and_status() -> None:
    buffer = TraceBuffer(10)
    tracer = traced(buffer).get_tracer("test")
    with tracer.start_as_current_span("rest.request"):
        pass
    with tracer.start_as_current_span("mcp.tool") as failed:
        failed.set_status(StatusCode.ERROR)
    assert [t["operation"] for t in buffer.listing("mcp", None)["traces"]] == ["mcp.tool"]
    assert [t["operation"] for t in buffer.listing(None, "error")["traces"]] == ["mcp.tool"]
