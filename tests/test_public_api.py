"""The public API is a decision: this test fails when `__all__` drifts."""

from __future__ import annotations

import naftiko_runtime


def test_exported_names() -> None:
    assert sorted(naftiko_runtime.__all__) == [
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
    for name in naftiko_runtime.__all__:
        assert hasattr(naftiko_runtime, name)


def test_load_paths_builds_the_model_of_the_bundled_capabilities() -> None:
    from tests.conftest import CAPABILITIES

    result = naftiko_runtime.load_paths([CAPABILITIES])
    assert result.ok
    assert sorted(c.label or "" for c in result.capabilities) == [
        "Letta API — Jobs",
        "Letta API — Runs",
    ]
    assert [len(c.rest[0].operations) for c in result.capabilities] == [5, 10]
    assert [len(c.mcp[0].tools) for c in result.capabilities] == [5, 10]


def test_invalid_specs_raise_spec_error_with_every_diagnostic(tmp_path: object) -> None:
    from pathlib import Path

    import pytest

    from tests.capability.test_validate_rules import BASE

    path = Path(str(tmp_path)) / "bad.yaml"
    path.write_text(BASE.replace("port: 8080", "port: x").replace('"jobs-api.get_job"', '"x.y"'))
    result = naftiko_runtime.load_paths([path])
    with pytest.raises(naftiko_runtime.SpecError) as caught:
        result.raise_for_errors()
    assert len(caught.value.diagnostics) == 3 and "(and 2 more)" in str(caught.value)
