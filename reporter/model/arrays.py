"""The array path: new customers scored straight from the saved model's plain numbers with
NumPy alone, for `reporter serve` and `reporter assign` batches of up to FAST_MAX customers.

On a handful of customers the table path (clean, build_features, rules over a DataFrame) is
all fixed cost per pandas operation; here the same steps run on columns by name: the exact
duplicates once, the same person's other IDs, the income fill, the categories harmonised, the
features by the formulas every engine shares (data/formulas.py, ArrayColumns), the RFM
cut-points, the saved lifetime model (p_alive and clv, which rules may use), the Scorer, the
rules against the run's population and each saved predictor (model/predictions.py). The
answer is customers.csv's columns, as score_new's table path gives them
(tests/test_fast_path.py holds the two equal); the checks a customer passes before either path
are load's (the API falls back to them for anything they might refuse).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from reporter.data.clean import EDUCATION_LEVELS, LIVING_WITH, OTHER
from reporter.data.features import CATEGORICAL, FeatureTable
from reporter.data.formulas import CAMPAIGN_FORMULAS, FORMULAS, ArrayColumns
from reporter.data.schema import CAMPAIGN_COLUMNS
from reporter.model.artefact import SavedModel
from reporter.model.predictions import predictions
from reporter.personas.exports import customer_columns
from reporter.personas.rulebook import Rulebook, label_customers
from reporter.predict.lifetime import add_scores, score_week

FAST_MAX = 10_000  # customers scored on the array path; a larger batch takes the table path

Columns = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class ArrayModel:
    """A saved model made ready for the array path once (the rules compiled), not per request."""

    model: SavedModel
    rulebook: Rulebook


def prepare(model: SavedModel) -> ArrayModel:
    return ArrayModel(model, model.rulebook())


def score_arrays(ready: ArrayModel, columns: Columns, as_of: date) -> dict[str, np.ndarray]:
    """customers.csv's columns for typed customers (columns as load types them), in ID order,
    exact duplicates once, as score_new's table path gives them."""
    model = ready.model
    cleaned = _cleaned(_distinct(columns), model.income_fill)
    features = feature_columns(cleaned, as_of, model)
    add_scores(features, score_week(model.lifetime, features))  # rules may use p_alive, clv
    labels = model.scorer.segments(features)
    table = FeatureTable(features, as_of, model.rfm)  # columns by name stand in for the frame
    assignment = label_customers(ready.rulebook, model.cluster_persona, table, labels, model.population)
    return customer_columns(features, labels, assignment, predictions(model, features))


def _rows(columns: Columns) -> list[tuple]:
    """Each customer's values as one comparable tuple (a missing income as None, so two
    missing incomes are equal, as pandas compares rows)."""
    values = []
    for column in columns.values():
        listed = column.tolist()
        if column.dtype.kind == "f":
            listed = [None if math.isnan(v) else v for v in listed]
        values.append(listed)
    return list(zip(*values, strict=True))


def _distinct(columns: Columns) -> dict[str, np.ndarray]:
    """In ID order (stable, as load orders them), rows identical in every column once."""
    order = np.argsort(np.asarray(columns["ID"]), kind="stable")
    ordered = {name: np.asarray(values)[order] for name, values in columns.items()}
    if len(np.unique(ordered["ID"])) == len(order):
        return ordered  # rows identical in every column share their ID
    seen: set[tuple] = set()
    keep = np.ones(len(order), dtype=bool)
    for index, row in enumerate(_rows(ordered)):
        keep[index] = row not in seen
        seen.add(row)
    return ordered if keep.all() else {name: values[keep] for name, values in ordered.items()}


def _cleaned(columns: dict[str, np.ndarray], income_fill: float) -> dict[str, np.ndarray]:
    """clean's repairs for scoring (duplicates kept, every ID answered): the same person's
    other IDs, the saved income fill, the harmonised categories."""
    income = np.asarray(columns["Income"], dtype="float64")
    return {**columns, "other_ids": _other_ids(columns),
            "Income": np.where(np.isnan(income), income_fill, income),
            "education": _mapped(columns["Education"], EDUCATION_LEVELS),
            "living_with": _mapped(columns["Marital_Status"], LIVING_WITH)}


def _other_ids(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Rows identical in every column but ID are one person: each names the others' IDs (in
    ID order), as clean's `_same_person` does."""
    found = np.full(len(columns["ID"]), "", dtype=object)
    alike = _sharing_a_probe(columns)  # rows alike in every column are alike in these first
    if not alike.any():
        return found
    ids = columns["ID"][alike].tolist()
    rows = _rows({name: values[alike] for name, values in columns.items() if name != "ID"})
    groups: dict[tuple, list[int]] = {}
    for customer_id, row in zip(ids, rows, strict=True):
        groups.setdefault(row, []).append(customer_id)
    if len(groups) < len(ids):
        where = np.flatnonzero(alike).tolist()
        for index, customer_id, row in zip(where, ids, rows, strict=True):
            if len(groups[row]) > 1:
                found[index] = " ".join(str(i) for i in groups[row] if i != customer_id)
    return found


PROBE = ("Year_Birth", "Recency", "MntWines", "MntMeatProducts", "NumWebVisitsMonth")


def _sharing_a_probe(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Which rows share their PROBE values (whole numbers, never missing) with another row:
    only those can be identical to another in every column but ID."""
    probe = [np.asarray(columns[name]).tolist() for name in PROBE if name in columns]
    if not probe:
        return np.ones(len(columns["ID"]), dtype=bool)
    keys = list(zip(*probe, strict=True))
    counts = Counter(keys)
    return np.fromiter((counts[key] > 1 for key in keys), dtype=bool, count=len(keys))


def _mapped(values: np.ndarray, mapping: dict[str, str]) -> np.ndarray:
    """clean's harmonised category (Other for a value it does not know), looked up once per
    distinct value."""
    distinct, position = np.unique(np.asarray(values).astype(str), return_inverse=True)
    found = [mapping.get(value.strip().lower(), OTHER) for value in distinct.tolist()]
    return np.array(found, dtype=object)[position.reshape(-1)]


def feature_columns(cleaned: Columns, as_of: date, model: SavedModel) -> dict[str, np.ndarray]:
    """build_features on columns: the registry's formulas, the categories, the saved RFM cuts."""
    formulas = dict(FORMULAS)
    if all(column in cleaned for column in CAMPAIGN_COLUMNS):
        formulas.update(CAMPAIGN_FORMULAS)
    source = ArrayColumns(cleaned)
    features = {"ID": np.asarray(cleaned["ID"])}
    for name, formula in formulas.items():
        features[name] = np.asarray(formula(source, as_of), dtype="float64")
    for name in CATEGORICAL:
        features[name] = cleaned[name]
    features["other_ids"] = cleaned["other_ids"]
    features.update(model.rfm.scores(features))
    return features
