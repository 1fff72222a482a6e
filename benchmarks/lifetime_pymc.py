"""pymc-marketing's BetaGeoModel and GammaGammaModel (MAP) next to reporter's own maximum
likelihood fit (reporter/predict/lifetime_fit.py): import time, fit time and the parameters,
on the real table and on a table simulated from known parameters. pymc-marketing is not a
dependency of reporter; run this with a Python that has both, for example

    python3 -m venv /tmp/pm && /tmp/pm/bin/pip install pymc-marketing==0.19.0 pandas
    PYTHONPATH=. /tmp/pm/bin/python -m benchmarks.lifetime_pymc [--rows 20000]

Without pymc-marketing it prints one line saying what to install. Writes
benchmarks/results/lifetime_pymc.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results"
REAL_TABLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "smartcart_customers.csv"
CHANNELS = ["NumWebPurchases", "NumCatalogPurchases", "NumStorePurchases"]
SPEND = ["MntWines", "MntFruits", "MntMeatProducts", "MntFishProducts", "MntSweetProducts",
         "MntGoldProds"]
TRUTH = "0.8,8,0.8,2.5,6,4,15"


def _frame(table: pd.DataFrame) -> pd.DataFrame:
    """The feature columns the lifetime history reads, from an export's raw columns."""
    joined = pd.to_datetime(table["Dt_Customer"], format="%d-%m-%Y")
    return pd.DataFrame({"total_purchases": table[CHANNELS].sum(axis=1).astype(float),
                         "total_spending": table[SPEND].sum(axis=1).astype(float),
                         "recency": table["Recency"].astype(float),
                         "tenure_days": (joined.max() - joined).dt.days.astype(float)})


def _ours(frame: pd.DataFrame) -> dict:
    from reporter.predict.lifetime import PARAMETERS, history
    from reporter.predict.lifetime_fit import fit_history, unbounded_fit

    h = history(frame)
    start = time.perf_counter()
    model, note = fit_history(h, 1)
    seconds = time.perf_counter() - start
    found = {k: getattr(model, k) for k in PARAMETERS} if model else unbounded_fit(h)
    return {"seconds": round(seconds, 3), "refused": note, "parameters": found}


def _pymc(frame: pd.DataFrame) -> dict:
    from reporter.predict.lifetime import history

    start = time.perf_counter()
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel
    imported = time.perf_counter() - start
    h = history(frame)
    data = pd.DataFrame({"customer_id": np.arange(len(h.x)), "frequency": h.x, "recency": h.t_x,
                         "T": h.T})
    start = time.perf_counter()
    bg = BetaGeoModel(data=data)
    bg.fit(method="map")
    bg_seconds = time.perf_counter() - start
    repeat = h.x > 0
    money = pd.DataFrame({"customer_id": np.arange(int(repeat.sum())), "frequency": h.purchases[repeat],
                          "monetary_value": h.spend[repeat]})
    start = time.perf_counter()
    gg = GammaGammaModel(data=money)
    gg.fit(method="map")
    gg_seconds = time.perf_counter() - start
    posterior = {**_map(bg, ("r", "alpha", "a", "b")), **_map(gg, ("p", "q", "v"))}
    return {"import_seconds": round(imported, 2), "bgnbd_fit_seconds": round(bg_seconds, 2),
            "gamma_gamma_fit_seconds": round(gg_seconds, 2), "parameters": posterior}


def _map(model, names: tuple[str, ...]) -> dict:
    found = model.fit_result
    posterior = getattr(found, "posterior", found)  # MAP: the point itself
    values = {name: float(np.asarray(posterior[name]).ravel()[0]) for name in names if name in posterior}
    return {name: value if np.isfinite(value) else None for name, value in values.items()}  # null: diverged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="customers of the simulated table")
    args = parser.parse_args()
    if importlib.util.find_spec("pymc_marketing") is None:
        print("pymc-marketing is not installed here: pip install pymc-marketing==0.19.0 in a venv "
              "of its own and run this with that Python (see this file's docstring)")
        return 0
    from reporter.data import sample

    truth = sample.LifetimeTruth.parse(TRUTH)
    tables = {"real table (2,240)": pd.read_csv(REAL_TABLE),
              f"simulated ({args.rows:,}, truth {TRUTH})":
                  sample.with_lifetime(sample.generate(args.rows, 3), truth, 5)}
    results = {}
    for name, table in tables.items():
        frame = _frame(table)
        results[name] = {"reporter": _ours(frame), "pymc_marketing": _pymc(frame)}
        print(name, json.dumps(results[name], indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lifetime_pymc.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
