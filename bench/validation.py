"""Validation cost: warm milliseconds per spec and CLI cold start, for the bundled capabilities.

    .venv/bin/python -m bench.validation [--repeat N] [PATH ...]

Warm: the whole pipeline (load, schema, rules, model) repeated in one process after a first
run. Cold: `naftiko-runtime validate` as a new process, best and median of several runs.
A peer in the same run, `yaml.safe_load` + the official-shaped Draft 2020-12 validation of our
own schema, shows what the pipeline adds over parsing and schema checks alone. Warm runs use
every rule (`--all-rules`, the official lint rules included).

`--spectral FILE` (default: the corpus's 127 KB letta-agents.yaml, when Spectral is in
./node_modules) also times both linters as whole processes on the same file, with the official
ruleset: wall time and peak RSS of `naftiko-runtime validate --all-rules` against
`spectral lint` (ruleset and functions copied from ../shared/reference).
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

from naftiko_runtime.capability.load import expand_paths, load_paths
from naftiko_runtime.capability.rules import Selection
from naftiko_runtime.capability.schema import load_schema

ROOT = Path(__file__).resolve().parent.parent
EVERY_RULE = Selection(all_rules=True)
SHARED = ROOT.parent / "shared"
SPECTRAL = ROOT / "node_modules" / ".bin" / "spectral"
AGENTS = SHARED / "corpus" / "letta" / "capabilities" / "letta-agents.yaml"

ROOT = Path(__file__).resolve().parent.parent


def _best_median(samples: list[float]) -> tuple[float, float]:
    return min(samples), statistics.median(samples)


def warm(paths: list[Path], repeat: int) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    validator = Draft202012Validator(load_schema())
    for path in paths:
        load_paths([path], selection=EVERY_RULE)  # warm caches (schema, imports of modules)
        ours = []
        peer = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = load_paths([path], selection=EVERY_RULE)
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


def _process(command: list[str]) -> tuple[float, float]:
    """Wall milliseconds and peak RSS (MB) of one child process."""
    import os

    start = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, _, usage = os.wait4(child.pid, 0)
    return (time.perf_counter() - start) * 1000, usage.ru_maxrss / 1024


def against_spectral(path: Path, runs: int) -> dict[str, float] | None:
    import shutil
    import tempfile

    if not SPECTRAL.exists() or not path.exists():
        return None
    with tempfile.TemporaryDirectory() as folder:
        ruleset = Path(folder)
        (ruleset / "functions").mkdir()
        shutil.copy(SHARED / "reference" / "naftiko-rules-1.0.0-alpha2.yml", ruleset / "r.yml")
        for function in (SHARED / "reference" / "rules-functions").glob("*.js"):
            shutil.copy(function, ruleset / "functions" / function.name)
        (ruleset / "all.yml").write_text("extends:\n  - [./r.yml, all]\n")
        ours_cmd = [sys.executable, "-m", "naftiko_runtime", "validate", "--all-rules", str(path)]
        theirs_cmd = [str(SPECTRAL), "lint", "--ruleset", str(ruleset / "all.yml"), str(path)]
        ours = [_process(ours_cmd) for _ in range(runs)]
        theirs = [_process(theirs_cmd) for _ in range(runs)]
    ours_ms = statistics.median(t for t, _ in ours)
    theirs_ms = statistics.median(t for t, _ in theirs)
    return {
        "file_kb": round(path.stat().st_size / 1024, 1),
        "ours_ms": round(ours_ms, 1),
        "ours_rss_mb": round(max(m for _, m in ours), 1),
        "spectral_ms": round(theirs_ms, 1),
        "spectral_rss_mb": round(max(m for _, m in theirs), 1),
        "speedup": round(theirs_ms / ours_ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(ROOT / "capabilities")])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--spectral", default=str(AGENTS), metavar="FILE")
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
    versus = against_spectral(Path(args.spectral), max(3, args.cold_runs // 2))
    if versus is not None:
        print(
            f"whole process on {Path(args.spectral).name} ({versus['file_kb']} KB), every rule: "
            f"naftiko-runtime {versus['ours_ms']} ms / {versus['ours_rss_mb']} MB, Spectral "
            f"{versus['spectral_ms']} ms / {versus['spectral_rss_mb']} MB: "
            f"{versus['speedup']}x faster"
        )
    print(json.dumps({"warm": rows, "cold": startup, "spectral": versus}))


if __name__ == "__main__":
    main()
