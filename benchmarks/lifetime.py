"""The lifetime stage (alive probability and 12-month value) alone, and the whole fit and
scored weeks with and without it, at 2,240 and 1,000,000 customers drawn from known BG/NBD and
Gamma-Gamma parameters (`reporter sample --lifetime`), so the model fits and every customer is
scored. "Without" runs the same weeks with another checkout (`--without`, e.g. an extracted
main). One run each: the machine is shared, so run it alone.

    python -m benchmarks.lifetime [--sizes 2240 1000000] [--weeks] [--without /tmp/main]

Writes benchmarks/results/lifetime.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, ROOT, project
from reporter.data import sample
from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import load
from reporter.data.params import CleanParams

TRUTH = "0.8,8,0.8,2.5,6,4,15"


def lifetime_table(rows: int, work: Path) -> Path:
    path = work / f"customers-lifetime-{rows}.csv"
    if not path.is_file():
        truth = sample.LifetimeTruth.parse(TRUTH)
        sample.write(sample.with_lifetime(sample.generate(rows, 3), truth, 5), path)
    return path


def _seconds(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def stage(rows: int, data: Path) -> dict:
    from types import SimpleNamespace

    from reporter.brief.lifetime import lifetime_view
    from reporter.personas.exports import LIFETIME_COLUMNS, write_csv
    from reporter.personas.rulebook import PersonaAssignment
    from reporter.predict.lifetime import add_scores, score_week
    from reporter.predict.lifetime_fit import fit_lifetime
    from reporter.predict.params import LifetimeParams

    raw = load(data)
    table = build_features(clean(raw, CleanParams(), raw.frame["Dt_Customer"].max().date()))
    fit_s, fitted = _seconds(lambda: fit_lifetime(table, LifetimeParams()))
    score_s, scored = _seconds(lambda: score_week(fitted.model, table.frame))
    add_s, _ = _seconds(lambda: add_scores(table.frame, scored))
    columns = table.frame[list(LIFETIME_COLUMNS)].round(LIFETIME_COLUMNS)
    export_s, _ = _seconds(lambda: write_csv(columns, io.BytesIO()))
    personas = np.array(["A", "B", "C", "D"], dtype=object)[np.arange(len(table.frame)) % 4]
    assignment = PersonaAssignment({}, personas, {}, ("A", "B", "C", "D"), ())
    rulebook = SimpleNamespace(personas=tuple(SimpleNamespace(name=n, color="#000000") for n in "ABCD"))
    view_s, _ = _seconds(lambda: lifetime_view(scored, table, assignment, rulebook))
    m = fitted.model
    return {"rows": rows, "fit_seconds": round(fit_s, 3), "score_seconds": round(score_s, 3),
            "columns_exports_view_seconds": round(add_s + export_s + view_s, 3),
            "rows_fitted": m.rows_fitted, "truth": TRUTH,
            "fitted": {k: round(getattr(m, k), 4) for k in ("r", "alpha", "a", "b", "p", "q", "v")}}


def weeks(rows: int, data: Path, work: Path, checkout: Path) -> dict:
    """A fit week then a scored week of a fresh archive, with `checkout`'s code."""
    config = project(work / f"weeks-{checkout.name}-{rows}", data)
    shutil.copy(checkout / "config" / "personas.yaml", config.parent / "personas.yaml")  # its own rules
    found = {}
    for week in ("fit", "scored"):
        out = config.parent.parent / "child.json"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "benchmarks.child", "--config", str(config), "--data",
                        str(data), "--out", str(out)], check=True, cwd=checkout, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(checkout)})
        result = json.loads(out.read_text())
        found[week] = {"wall_seconds": round(time.perf_counter() - start, 3),
                       "lifetime_stage": result["stages"].get("lifetime"),
                       "model_action": result["model_action"]}
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lifetime",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_240, 1_000_000])
    parser.add_argument("--weeks", action="store_true", help="also the whole fit and scored weeks")
    parser.add_argument("--without", type=Path, help="a checkout without the lifetime stage")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reporter-bench")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    document = {"load_before": list(os.getloadavg()), "results": []}
    for rows in args.sizes:
        data = lifetime_table(rows, args.work)
        result = stage(rows, data)
        if args.weeks:
            result["with"] = weeks(rows, data, args.work, ROOT)
            if args.without is not None:
                result["without"] = weeks(rows, data, args.work, args.without)
        print(json.dumps(result))
        document["results"].append(result)
    document["load_after"] = list(os.getloadavg())
    (RESULTS / "lifetime.json").write_text(json.dumps(document, indent=1) + "\n")
    return document


if __name__ == "__main__":
    main()
