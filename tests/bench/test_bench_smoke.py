"""The benchmark keeps working: a couple of seconds per target with the Python fallbacks
(no wrk, no nginx), results written, every target answered without errors. No timing is
asserted: numbers on a shared machine are for the benchmark's own ratios, not for tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.haproxy import HAPROXY
from bench.run import main
from tests.fixtures.ports import bench_on_worker_ports

pytestmark = pytest.mark.e2e


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_bench_runs_end_to_end_with_python_fallbacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench_on_worker_ports(monkeypatch)
    code = main(
        [
            "--duration",
            "0.5",
            "--repeat",
            "1",
            "--concurrency",
            "4",
            "--python-load",
            "--python-upstream",
            "--out",
            str(tmp_path),
            "--mcp-concurrency",
            "2",
            "--mcp-session",
            "2",
            "--scale-sizes",
            "20",
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "latest.json").read_text())
    rows = {row["target"]: row for row in results["rows"]}
    assert set(rows) >= {
        "upstream (direct)",
        "peer: starlette+httpx",
        "peer: tuned aiohttp",
        "naftiko (mapping)",
        "naftiko ($. passthrough)",
        "naftiko (mapping, 2 workers)",
        "orchestration: naftiko (3 steps)",
        "orchestration: aiohttp sequential",
        "orchestration: aiohttp gather",
    }
    if HAPROXY is not None:  # the scale-out rows, behind the shipped haproxy.cfg
        assert {"haproxy + 1 instance", "haproxy + 2 instances", "haproxy + 4 instances"} <= set(
            rows
        )
        assert rows["haproxy + 2 instances"]["cpu"]["haproxy"] >= 0
    assert all(row["rps"] > 0 and row["errors"] == 0 for row in rows.values())
    assert results["facts"]["load"] == "python" and results["facts"]["upstream"] == "python"
    assert 0 < results["facts"]["cold_start_s"] and results["facts"]["validation_ms_per_12kb"] > 0
    goals = {g["goal"] for g in results["goals"]}
    assert "c=4: mapping >= 5x httpx peer" in goals
    assert "c=4: 3 steps >= 1.0x hand-written sequential" in goals
    mcp = {(r["target"], r["era"], r["driver"], r["concurrency"]): r for r in results["mcp"]}
    for era in ("2026-07-28", "legacy"):  # the official client in both eras, against FastMCP
        for target in ("naftiko", "fastmcp"):
            row = mcp[(target, era, "client", 2)]
            assert row["calls_per_s"] > 0 and row["errors"] == 0 and row["server_ms_per_call"] > 0
    (scale,) = results["scale"]
    assert scale["operations"] == 20 and scale["first_200_s"] > 0 and scale["rss_mb"] > 0
    assert scale["requests_during_reload"] > 0
    assert {"c=4: ASGI server: uvicorn (the default) vs granian (reported)"} <= goals
    assert "naftiko (mapping, granian)" in rows
    report = (tmp_path / "latest.md").read_text()
    assert report.startswith("| target | c | req/s |") and "| goal | measured | met |" in report
    assert "| goal | measured | met |" in capsys.readouterr().out
