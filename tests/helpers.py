"""Build stage inputs from generated tables without going through files twice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from reporter.data import sample
from reporter.data.clean import Customers, clean
from reporter.data.features import FeatureTable, build_features
from reporter.data.load import load
from reporter.data.params import CleanParams


def customers_from_sample(tmp_path: Path, rows: int = 400, seed: int = 3,
                          as_of: date | None = None) -> Customers:
    path = sample.write(sample.generate(rows, seed=seed), tmp_path / f"s{rows}-{seed}.csv")
    raw = load(path)
    reference = as_of or raw.frame["Dt_Customer"].max().date()
    return clean(raw, CleanParams(), reference)


def features_from_sample(tmp_path: Path, rows: int = 400, seed: int = 3) -> FeatureTable:
    return build_features(customers_from_sample(tmp_path, rows, seed))
