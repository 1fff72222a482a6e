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
from types import SimpleNamespace

import numpy as np

from benchmarks.common import REAL_TABLE, RESULTS
from benchmarks.common import table as common_table
from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import load
from reporter.data.params import CleanParams


def _seconds(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def measure(rows: int, work: Path) -> dict:
    from reporter.brief.propensity import propensity_view
    from reporter.personas.exports import next_campaign_list, next_campaign_size, write_csv
    from reporter.personas.rulebook import PersonaAssignment
    from reporter.predict.fit import fit_propensity
    from reporter.predict.params import PropensityParams
    from reporter.predict.propensity import score_propensity

    raw = load(common_table(rows, work))
    table = build_features(clean(raw, CleanParams(), raw.frame["Dt_Customer"].max().date()))
    fit_s, fitted = _seconds(lambda: fit_propensity(table, PropensityParams()))
    score_s, scored = _seconds(lambda: score_propensity(fitted.model, table))
    customers = table.frame[["ID", "recency"]].assign(p_response=scored.p_response.round(6))
    column_s, _ = _seconds(lambda: write_csv(customers[["p_response"]], io.BytesIO()))
    listed_s, _ = _seconds(lambda: write_csv(next_campaign_list(customers, next_campaign_size(rows)),
                                             io.BytesIO()))
    personas = np.array(["A", "B", "C", "D", "E"], dtype=object)[np.arange(len(table.frame)) % 5]
    assignment = PersonaAssignment({}, personas, {}, ("A", "B", "C", "D", "E"), ())
    view_s, _ = _seconds(lambda: propensity_view(scored, table, assignment, SimpleNamespace(personas=()), 10))
    return {"rows": rows, "fit_seconds": round(fit_s, 3), "score_seconds": round(score_s, 3),
            "exports_seconds": round(column_s + listed_s, 3), "brief_view_seconds": round(view_s, 3),
            "kind": fitted.model.kind,
            "auc": round(fitted.model.grades.auc, 4), "rows_fitted": fitted.model.rows_fitted}


def real_table_grades() -> dict | None:
    """Out-of-sample ROC AUC on the real table (5-fold, customers each fold model never saw)."""
    from reporter.predict.fit import fit_propensity
    from reporter.predict.params import PropensityParams

    if not REAL_TABLE.is_file():
        return None
    raw = load(REAL_TABLE)
    table = build_features(clean(raw, CleanParams(), raw.frame["Dt_Customer"].max().date()))
    grades = fit_propensity(table, PropensityParams()).model.grades
    return {"customers": len(table.frame), "auc": round(grades.auc, 4),
            "auc_spread": round(grades.auc_spread, 4), "auc_folds": [round(a, 4) for a in grades.auc_folds],
            "brier": round(grades.brier, 4), "compared": [list(c) for c in grades.compared]}


def markdown(document: dict) -> str:
    """The BENCHMARKS.md section of predict.json."""
    lines = ["## The response propensity stage", "",
             f"`python -m benchmarks.predict`, one run each (load average {document['load_before'][0]:.1f} "
             f"before, {document['load_after'][0]:.1f} after, on the shared 2 cores; the whole weeks are "
             "the suite's above, measured on a quieter machine, so the shares are upper bounds). A fit "
             "scores every customer too; besides the stage, a run writes the p_response column and "
             "next_campaign.csv and builds the brief's view.", "",
             "| rows | fit (s) | score (s) | exports + view (s) | fit week added | scored week added "
             "| model | fitted on |",
             "|---|---|---|---|---|---|---|---|"]
    for r in document["results"]:
        added = ((f"{r['fit_week_added']:.0%} of {r['fit_week_seconds']:.1f} s",
                  f"{r['scored_week_added']:.0%} of {r['scored_week_seconds']:.1f} s")
                 if "fit_week_added" in r else ("–", "–"))
        lines.append(f"| {r['rows']:,} | {r['fit_seconds']:.2f} | {r['score_seconds']:.2f} | "
                     f"{r['exports_seconds'] + r['brief_view_seconds']:.2f} | {added[0]} | {added[1]} | "
                     f"{r['kind']} | {r['rows_fitted']:,} |")
    real = document.get("real_table")
    if real:
        lines += ["", f"Real table ({real['customers']:,} customers, no campaign history): out-of-sample "
                      f"ROC AUC **{real['auc']:.3f} ± {real['auc_spread']:.3f}** (5-fold stratified "
                      f"cross-validation, folds {', '.join(f'{a:.3f}' for a in real['auc_folds'])}), "
                      f"Brier score {real['brier']:.3f}; compared: "
                      + "; ".join(f"{k} {m:.3f} ± {sd:.3f}" for k, m, sd in real["compared"]) + "."]
    return "\n".join(lines) + "\n"


def _share(result: dict, suite: dict) -> dict:
    """The stage's share of the suite's whole weeks of the same size, where it has them."""
    runs = {run["rows"]: run for run in suite.get("runs", [])}
    run = runs.get(result["rows"])
    if run is None:
        return result
    besides = result["exports_seconds"] + result["brief_view_seconds"]
    fit_added = result["fit_seconds"] + besides  # a fit scores every customer already
    scored_added = result["score_seconds"] + besides
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
    results, load_before = [], list(os.getloadavg())
    for rows in args.sizes:
        result = _share(measure(rows, args.work), suite)
        print(json.dumps(result))
        results.append(result)
    document = {"load_before": load_before, "load_after": list(os.getloadavg()), "results": results,
                "real_table": real_table_grades()}
    (args.results / "predict.json").write_text(json.dumps(document, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
