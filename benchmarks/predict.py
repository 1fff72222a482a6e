"""The response propensity stage alone: fit and score time at 2,240 and 1,000,000 generated
customers (the suite's tables), and what it adds to a run besides the stage (the p_response
column of customers.csv, next_campaign.csv, the brief's view), against the suite's whole fit
and scored weeks of the same size (benchmarks/results/suite.json). One run each: the machine
is shared, so run it alone.

    python -m benchmarks.predict [--sizes 2240 1000000]

Writes benchmarks/results/predict.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.suite import RESULTS, _table
from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import load
from reporter.data.params import CleanParams


def _seconds(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def measure(rows: int, work: Path) -> dict:
    from reporter.personas.exports import next_campaign_list, next_campaign_size, write_csv
    from reporter.predict.fit import fit_propensity
    from reporter.predict.params import PropensityParams
    from reporter.predict.propensity import score_propensity

    raw = load(_table(rows, work))
    table = build_features(clean(raw, CleanParams(), raw.frame["Dt_Customer"].max().date()))
    fit_s, fitted = _seconds(lambda: fit_propensity(table, PropensityParams()))
    score_s, scored = _seconds(lambda: score_propensity(fitted.model, table))
    customers = table.frame[["ID", "recency"]].assign(p_response=scored.p_response.round(6))
    column_s, _ = _seconds(lambda: write_csv(customers[["p_response"]], io.BytesIO()))
    listed_s, _ = _seconds(lambda: write_csv(next_campaign_list(customers, next_campaign_size(rows)),
                                             io.BytesIO()))
    return {"rows": rows, "fit_seconds": round(fit_s, 3), "score_seconds": round(score_s, 3),
            "exports_seconds": round(column_s + listed_s, 3), "kind": fitted.model.kind,
            "auc": round(fitted.model.grades.auc, 4), "rows_fitted": fitted.model.rows_fitted}


def _share(result: dict, suite: dict) -> dict:
    """The stage's share of the suite's whole weeks of the same size, where it has them."""
    runs = {run["rows"]: run for run in suite.get("runs", [])}
    run = runs.get(result["rows"])
    if run is None:
        return result
    fit_added = result["fit_seconds"] + result["score_seconds"] + result["exports_seconds"]
    scored_added = result["score_seconds"] + result["exports_seconds"]
    return {**result, "fit_week_seconds": run["fit"]["wall_seconds"],
            "scored_week_seconds": run["scored"]["wall_seconds"],
            "fit_week_added": round(fit_added / run["fit"]["wall_seconds"], 3),
            "scored_week_added": round(scored_added / run["scored"]["wall_seconds"], 3)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.predict", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_240, 1_000_000])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reporter-bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    suite_path = args.results / "suite.json"
    suite = json.loads(suite_path.read_text()) if suite_path.is_file() else {}
    results = []
    for rows in args.sizes:
        result = _share(measure(rows, args.work), suite)
        print(json.dumps(result))
        results.append(result)
    document = {"load_before": list(os.getloadavg()), "results": results}
    (args.results / "predict.json").write_text(json.dumps(document, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
