"""What the predictive stages cost a week: the response propensity (`predict`), alive
probability and value (`lifetime`) and the grading of earlier briefs (`grading`), as shares of
the whole fit week and scored week, measured in the same runs (each run's own stage timers
against its own wall time), on a table drawn from known BG/NBD and Gamma-Gamma parameters so
that every predictive stage really runs. Issue 34 asks for at most 20% at 1,000,000 customers.

    python -m benchmarks.predictive [--rows 1000000] [--repeats 3]

Fresh processes and a fresh archive per repeat; medians with the fastest and slowest.
Writes benchmarks/results/predictive.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, project
from benchmarks.lifetime import lifetime_table

PREDICTIVE = ("predict", "lifetime", "grading")


def week_pair(data: Path, folder: Path) -> dict[str, dict]:
    """A fit week, then a scored week, of a fresh archive: wall time and stage timers."""
    config = project(folder, data)
    found = {}
    for week in ("fit", "scored"):
        out = folder / f"{week}.json"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "benchmarks.child", "--config", str(config), "--data",
                        str(data), "--out", str(out)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        stages = json.loads(out.read_text())["stages"]
        found[week] = {"wall_seconds": time.perf_counter() - start,
                       **{name: stages.get(name, 0.0) for name in PREDICTIVE}}
    return found


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.predictive",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reporter-bench")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    data = lifetime_table(args.rows, args.work)
    load_before = list(os.getloadavg())
    runs = [week_pair(data, args.work / f"predictive-{i}") for i in range(args.repeats)]
    document = {"rows": args.rows, "repeats": args.repeats, "load_before": load_before}
    for week in ("fit", "scored"):
        weeks = [run[week] for run in runs]
        document[week] = {
            "wall_seconds": summary([w["wall_seconds"] for w in weeks]),
            **{name: summary([w[name] for w in weeks]) for name in PREDICTIVE},
            "predictive_share": summary([sum(w[n] for n in PREDICTIVE) / w["wall_seconds"] for w in weeks]),
        }
    document["load_after"] = list(os.getloadavg())
    print(json.dumps(document, indent=1))
    (RESULTS / "predictive.json").write_text(json.dumps(document, indent=1) + "\n")
    return document


if __name__ == "__main__":
    main()
