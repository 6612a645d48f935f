"""Validation cost: warm milliseconds per spec and CLI cold start, for the bundled capabilities.

    .venv/bin/python -m bench.validation [--repeat N] [PATH ...]

Warm: the whole pipeline (load, schema, rules, model) repeated in one process after a first
run. Cold: `naftiko-runtime validate` as a new process, best and median of several runs.
A peer in the same run, `yaml.safe_load` + the official-shaped Draft 2020-12 validation of our
own schema, shows what the pipeline adds over parsing and schema checks alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from naftiko_runtime.spec.load import expand_paths, load_paths
from naftiko_runtime.spec.schema import load_schema

ROOT = Path(__file__).resolve().parent.parent


def _best_median(samples: list[float]) -> tuple[float, float]:
    return min(samples), statistics.median(samples)


def warm(paths: list[Path], repeat: int) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    validator = Draft202012Validator(load_schema())
    for path in paths:
        load_paths([path])  # warm caches (schema, imports of modules)
        ours = []
        peer = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = load_paths([path])
            ours.append((time.perf_counter() - start) * 1000)
            assert result.ok, result.errors[:1]
            start = time.perf_counter()
            data = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
            list(validator.iter_errors(data))
            peer.append((time.perf_counter() - start) * 1000)
        best, median = _best_median(ours)
        peer_best, peer_median = _best_median(peer)
        rows.append(
            {
                "spec": path.name,
                "kb": round(path.stat().st_size / 1024, 1),
                "ms_best": round(best, 2),
                "ms_median": round(median, 2),
                "ms_per_12kb": round(median * 12 * 1024 / path.stat().st_size, 2),
                "peer_ms_median": round(peer_median, 2),
                "ratio_to_peer": round(median / peer_median, 2),
            }
        )
        del peer_best
    return rows


def cold(paths: list[Path], runs: int) -> dict[str, float]:
    command = [sys.executable, "-m", "naftiko_runtime", "validate", *map(str, paths)]
    bare = [sys.executable, "-c", "pass"]
    ours, interpreter = [], []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        ours.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        subprocess.run(bare, check=True, capture_output=True)
        interpreter.append((time.perf_counter() - start) * 1000)
    best, median = _best_median(ours)
    return {
        "cli_ms_best": round(best, 1),
        "cli_ms_median": round(median, 1),
        "python_startup_ms_median": round(statistics.median(interpreter), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(ROOT / "capabilities")])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--cold-runs", type=int, default=7)
    args = parser.parse_args()
    paths = expand_paths(args.paths)
    rows = warm(paths, args.repeat)
    print(
        f"{'spec':<22}{'KB':>6}{'ms best':>9}{'ms med':>8}{'ms/12KB':>9}{'peer ms':>9}{'x peer':>8}"
    )
    for row in rows:
        print(
            f"{row['spec']:<22}{row['kb']:>6}{row['ms_best']:>9}{row['ms_median']:>8}"
            f"{row['ms_per_12kb']:>9}{row['peer_ms_median']:>9}{row['ratio_to_peer']:>8}"
        )
    startup = cold(paths, args.cold_runs)
    print(
        f"CLI cold start (validate {len(paths)} files): best {startup['cli_ms_best']} ms, "
        f"median {startup['cli_ms_median']} ms; "
        f"bare python {startup['python_startup_ms_median']} ms"
    )
    print(json.dumps({"warm": rows, "cold": startup}))


if __name__ == "__main__":
    main()
