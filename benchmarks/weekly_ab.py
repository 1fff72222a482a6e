"""Same-run A/B of whole weeks: this checkout against another (an extracted older main), a fit
week then a scored week of a fresh archive per repeat, the two checkouts alternating, each run
in a fresh process under /usr/bin/time (wall, CPU of the process, peak RSS) with the load
average beside it.

    git -C . archive f410d1c | tar -x -C /tmp/main-f410d1c
    python -m benchmarks.weekly_ab --vs /tmp/main-f410d1c --rows 1000000 --repeats 3 [--data CSV]

Prints medians with the fastest and slowest, per checkout and week, and the stages of the
weekly path (load ... exports); writes benchmarks/results/weekly_ab.json.
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

from benchmarks.common import RESULTS, ROOT, project, table

STAGES = ("load", "clean", "features", "segment", "assess", "profile", "personas", "predict",
          "history", "html", "pdf", "exports", "archive")


def week_pair(checkout: Path, data: Path, folder: Path) -> dict[str, dict]:
    """A fit week, then a scored week, of a fresh archive, run by `checkout`'s code."""
    config = project(folder, data)
    found = {}
    for week in ("fit", "scored"):
        out, timed = folder / f"{week}.json", folder / f"{week}.time"
        load = os.getloadavg()[0]
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-o", str(timed), "-f", "%e %U %S %M", sys.executable,
                        "-m", "benchmarks.child", "--config", str(config), "--data", str(data),
                        "--out", str(out)], check=True, cwd=checkout, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(checkout)})
        wall = time.perf_counter() - start
        _, user, system, peak_kib = timed.read_text().split()[-4:]
        stages = json.loads(out.read_text())["stages"]
        found[week] = {"wall_seconds": wall, "cpu_seconds": float(user) + float(system),
                       "peak_mib": int(peak_kib) / 1024, "load_average": load,
                       **{name: stages.get(name, 0.0) for name in STAGES}}
    return found


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.weekly_ab",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--vs", type=Path, required=True, help="the other checkout")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, help="the table (default: a generated one)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reporter-bench")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    data = args.data or table(args.rows, args.work)
    checkouts = {"this": ROOT, "vs": args.vs.resolve()}
    runs: dict[str, list[dict]] = {name: [] for name in checkouts}
    for repeat in range(args.repeats):
        for name, checkout in checkouts.items():
            runs[name].append(week_pair(checkout, data, args.work / f"weekly-ab-{name}-{repeat}"))
    document = {"rows": args.rows, "repeats": args.repeats, "vs": str(args.vs)}
    for name, pairs in runs.items():
        document[name] = {week: {key: summary([pair[week][key] for pair in pairs])
                                 for key in pairs[0][week]} for week in ("fit", "scored")}
    print(json.dumps(document, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "weekly_ab.json").write_text(json.dumps(document, indent=1) + "\n")
    return document


if __name__ == "__main__":
    main()
