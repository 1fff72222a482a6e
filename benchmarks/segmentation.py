"""Time the segmentation stage (k search, final fit) and the assessment (stability, model
comparison) on a generated table, as medians over repeats.

    python -m benchmarks.segmentation --rows 200000 --repeats 3

Prints a Markdown table and writes JSON to benchmarks/results/. Timings are wall-clock
seconds in this process; peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

from reporter import sample
from reporter.assess import assess
from reporter.clean import clean
from reporter.config import ReporterConfig, SourceConfig
from reporter.features import build_features
from reporter.load import load
from reporter.segment import segment

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = ReporterConfig(source=SourceConfig(path="unused"))
    with tempfile.TemporaryDirectory() as folder:
        path = sample.write(sample.generate(args.rows, seed=1), Path(folder) / "customers.csv")
        raw = load(path)
    table = build_features(clean(raw, settings.clean, raw.frame["Dt_Customer"].max().date()))
    runs = [_one_run(table, settings) for _ in range(args.repeats)]
    report = {
        "rows": args.rows,
        "repeats": args.repeats,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "median_seconds": {stage: statistics.median(r[stage] for r in runs) for stage in runs[0]
                           if stage != "k"},
        "k": runs[0]["k"],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"segmentation-{args.rows}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"| rows | segment (s) | assess (s) | k | peak RSS (MiB) |\n|---|---|---|---|---|\n"
          f"| {args.rows:,} | {report['median_seconds']['segment']:.1f} | "
          f"{report['median_seconds']['assess']:.1f} | {report['k']} | {report['peak_rss_mib']} |")


def _one_run(table, settings: ReporterConfig) -> dict[str, float]:
    start = time.perf_counter()
    result = segment(table, settings.segmentation, settings.comparison)
    middle = time.perf_counter()
    assess(result, settings)
    end = time.perf_counter()
    return {"segment": middle - start, "assess": end - middle, "k": result.k}


if __name__ == "__main__":
    main()
