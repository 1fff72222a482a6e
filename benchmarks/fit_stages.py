"""The fit week's segment and assess stages, this tree against another, alternating in one run.

    python -m benchmarks.fit_stages --rows 50000 --vs /tmp/fit-main [--repeats 3]

`--vs` is an extracted older tree (`git archive f410d1c | tar -x -C /tmp/fit-main`). Each
measurement is a fresh process that builds the features of a generated table (`reporter
sample --seed 50`) and times `segment` and `assess` (wall and CPU of the process, all
threads); it prints medians with the fastest and slowest, and whether k, the segment sizes,
the silhouette and the stability came out equal.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import ROOT

MEASURE = """
import json, os, sys, time
from pathlib import Path
import numpy as np
from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import load
from reporter.data.params import CleanParams
from reporter.segmentation.assess import assess
from reporter.segmentation.params import ComparisonParams, SegmentParams, StabilityParams
from reporter.segmentation.segment import segment
raw = load(Path(sys.argv[1]))
table = build_features(clean(raw, CleanParams(), raw.frame["Dt_Customer"].max().date()))
wall, cpu = time.perf_counter(), time.process_time()
result = segment(table, SegmentParams(), ComparisonParams())
segment_wall, segment_cpu = time.perf_counter() - wall, time.process_time() - cpu
wall, cpu = time.perf_counter(), time.process_time()
checked = assess(result, SegmentParams(), StabilityParams(), ComparisonParams())
print(json.dumps({"segment_wall": segment_wall, "segment_cpu": segment_cpu,
                  "assess_wall": time.perf_counter() - wall, "assess_cpu": time.process_time() - cpu,
                  "k": result.k, "sizes": np.bincount(result.labels).tolist(),
                  "silhouette": round(result.silhouette.mean, 6),
                  "stability": round(checked.stability.mean_ari, 6),
                  "load": os.getloadavg()[0]}))
"""
TIMES = ("segment_wall", "segment_cpu", "assess_wall", "assess_cpu")
RESULTS = ("k", "sizes", "silhouette", "stability")


def measure(tree: Path, data: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", MEASURE, str(data)], env=env, cwd=tree,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fit_stages",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vs", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reporter-bench")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / f"fit-stages-{args.rows}.csv"
    if not data.is_file():
        subprocess.run([sys.executable, "-m", "reporter", "sample", "--rows", str(args.rows),
                        "--seed", "50", "--out", str(data)], cwd=ROOT, check=True)
    trees = {"before": args.vs, "after": ROOT}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for repeat in range(args.repeats):
        order = list(trees.items()) if repeat % 2 == 0 else list(trees.items())[::-1]
        for name, tree in order:
            runs[name].append(measure(tree, data))
    report = {"rows": args.rows, "stages": {}, "equal": all(
        [r[key] for r in runs["before"]] == [r[key] for r in runs["after"]] for key in RESULTS)}
    for name, measured in runs.items():
        report["stages"][name] = {key: _median(sorted(r[key] for r in measured)) for key in TIMES}
        report["stages"][name]["load"] = [round(r["load"], 1) for r in measured]
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return report


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({values[0]:.2f}–{values[-1]:.2f})"


if __name__ == "__main__":
    main()
