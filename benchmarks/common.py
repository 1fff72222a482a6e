"""What every benchmark shares: where results go, the generated tables and a fresh project.
The suite imports the other benchmarks (for its report) and they import this, never the suite."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import yaml

from reporter.data import sample

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REAL_TABLE = ROOT.parent / "shared" / "data" / "smartcart_customers.csv"
GENERATE_CHUNK = 1_000_000
# --quick (what tests/test_benchmarks.py runs): the test suite's settings, 3 stability refits
# instead of 10 and no three-method comparison, so the harness is checked, not the default config
QUICK = {"stability": {"resamples": 3}, "comparison": {"enabled": False}}


def table(rows: int, work: Path) -> Path:
    """A generated table, written once and reused (in chunks of a million rows, so ten million
    rows never sit in memory twice)."""
    path = work / f"customers-{rows}.csv"
    if path.is_file():
        return path
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        for index, start in enumerate(range(0, rows, GENERATE_CHUNK)):
            chunk = sample.generate(min(GENERATE_CHUNK, rows - start), seed=index + 1)
            chunk["ID"] = np.arange(start, start + len(chunk)) + 1
            chunk = chunk.assign(Income=chunk["Income"].astype("Int64"))
            chunk.to_csv(handle, index=False, header=index == 0, lineterminator="\n")
    partial.replace(path)
    return path


def quickened(document: dict) -> dict:
    """A reporter.yaml document with the QUICK settings."""
    for section, values in QUICK.items():
        document[section] = {**document.get(section, {}), **values}
    return document


def project(folder: Path, data: Path, quick: bool = False) -> Path:
    """A fresh config and archive for one repeat: the default settings (or QUICK), no mail
    server."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "personas.yaml", folder / "config" / "personas.yaml")
    document = yaml.safe_load((ROOT / "config" / "reporter.yaml").read_text())
    document["source"]["path"] = str(data)
    document["output"] = {"dir": str(folder / "output")}
    # The scored and rules weeks brief the same file again on purpose: not a stale export.
    document["checks"]["unchanged_data"] = {"mode": "off"}
    if quick:
        quickened(document)
    (folder / "config" / "reporter.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return folder / "config" / "reporter.yaml"
