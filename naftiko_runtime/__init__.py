"""naftiko-runtime: validate Naftiko capability specs and serve them as REST and MCP."""

from __future__ import annotations

from naftiko_runtime.capability.load import LoadResult, load_paths
from naftiko_runtime.diagnostics import Diagnostic, Severity
from naftiko_runtime.errors import (
    BindingError,
    InvocationError,
    NaftikoError,
    SpecError,
    UpstreamError,
)
from naftiko_runtime.version import __version__

__all__ = [
    "BindingError",
    "Diagnostic",
    "InvocationError",
    "LoadResult",
    "NaftikoError",
    "Severity",
    "SpecError",
    "UpstreamError",
    "__version__",
    "load_paths",
]
