"""The optional parts of an install, and what needs each.

A plain `pip install naftiko-runtime` serves REST and MCP over JSON, YAML and CSV with the
default HTTP client. The rest is in extras (`pip install 'naftiko-runtime[formats]'`), so
that a user who serves JSON does not carry V8, lxml or protoc. Whether an extra is there is
asked without importing it (`importlib.util.find_spec`): `validate` stays as fast as before.
"""

from __future__ import annotations

import importlib.util
from functools import cache

# extra -> what it brings, for messages and the docs
EXTRAS: dict[str, str] = {
    "scripting": "script steps (JavaScript via mini-racer, Python via RestrictedPython)",
    "formats": "the xml, html, markdown, avro and protobuf output formats",
    "otel": "OpenTelemetry tracing and the OTLP exporter",
    "clients": "the aiohttp and pyreqwest upstream clients (digest auth, forwarded bodies)",
}

# feature -> (extra, the modules it imports)
FEATURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "javascript": ("scripting", ("py_mini_racer",)),
    "python": ("scripting", ("RestrictedPython",)),
    "xml": ("formats", ("lxml",)),
    "html": ("formats", ("lxml", "cssselect")),
    "markdown": ("formats", ("markdown_it",)),
    "avro": ("formats", ("fastavro",)),
    "protobuf": ("formats", ("google.protobuf",)),
    "proto-source": ("formats", ("grpc_tools",)),  # a .proto compiled with protoc
    "tracing": ("otel", ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")),
    "b3": ("otel", ("opentelemetry.propagators.b3",)),
    "aiohttp": ("clients", ("aiohttp",)),
    "pyreqwest": ("clients", ("pyreqwest",)),
}


@cache
def installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing or broken
        return False


def missing_extra(feature: str) -> str | None:
    """The extra to install for `feature`, or None when everything it needs is there."""
    extra, modules = FEATURES[feature]
    return None if all(installed(m) for m in modules) else extra


def install_hint(extra: str) -> str:
    return f"pip install 'naftiko-runtime[{extra}]'"


class ExtraMissing(ImportError):
    """A feature was asked for whose extra is not installed; the message says which."""

    def __init__(self, what: str, extra: str) -> None:
        self.extra = extra
        super().__init__(f"{what} needs the '{extra}' extra: {install_hint(extra)}")


def require(feature: str, what: str) -> None:
    """Raise ExtraMissing naming the extra when `feature` cannot run here."""
    extra = missing_extra(feature)
    if extra is not None:
        raise ExtraMissing(what, extra)
