"""Whether a served process traces, and its tracing when it does: decided once, at the first
compile (a reload keeps the process's tracing), and only then is the OpenTelemetry SDK
imported."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from naftiko_runtime.extras import install_hint, missing_extra
from naftiko_runtime.model import Capability, TracingSpec
from naftiko_runtime.observability.current import ENDPOINT_VARIABLES
from naftiko_runtime.serving.options import ServeOptions

log = logging.getLogger("naftiko_runtime")

NOT_BUILT: Any = object()
"""`compile_runtime`'s tracing when none is given: build the process's own (a reload passes
the one the first compile built, or None when it is off)."""


def tracing_on(has_control: bool, options: ServeOptions, environ: Mapping[str, str]) -> bool:
    """Tracing runs with a control plane (its /traces) or the OTel variables, unless
    `--trace-sampling 0` (nothing wrapped, nothing paid)."""
    if options.trace_sampling == 0:
        return False
    return has_control or any(environ.get(name) for name in ENDPOINT_VARIABLES)


def process_tracing(
    controls: Sequence[tuple[Capability, Any]],
    options: ServeOptions,
    environ: Mapping[str, str],
    variables: Mapping[str, Mapping[str, str]],
) -> Any:
    """The process's tracing (None when off): the spec's control adapter says, else
    `--control` (its /traces), else the OTel variables. The SDK is imported only then."""
    spec = controls[0][1].tracing if controls else None
    has_control = bool(controls)
    if not controls and options.control_port is not None:
        spec, has_control = TracingSpec(), True
    if not tracing_on(has_control, options, environ):
        return None
    if missing_extra("tracing") is not None:
        # tracing the spec configures is refused by `extra-missing`; this is the default one
        log.warning(
            "tracing is off: OpenTelemetry is not installed (%s); health, status and "
            "metrics are served",
            install_hint("otel"),
        )
        return None
    if options.trace_sampling is not None:  # `--trace-sampling`: the flag wins over the spec
        spec = replace(spec or TracingSpec(), sampling=options.trace_sampling)
    from naftiko_runtime.observability.tracing import activate, build_tracing

    scope = variables[controls[0][0].file] if controls else {}
    tracing = build_tracing(spec, has_control, environ, scope)
    activate(tracing)
    return tracing
