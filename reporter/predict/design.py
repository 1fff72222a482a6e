"""The design matrix: the customer features a propensity model reads, plus a few derived
ones (logs, shares, rates per day of tenure) and one-hot categories.

Every derived column is a named formula of the feature table's columns, so a saved model
lists names, never code, and docs/reference/model-format.md gives each formula.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reporter.data.features import CAMPAIGN_FEATURES

BASE_INPUTS = ("income", "total_spending", "total_purchases", "recency", "age", "tenure_days",
               "children", "family_size", "spend_per_purchase", "deal_share", "web_visits",
               "web_visits_per_purchase", "wines", "fruits", "meat", "fish", "sweets", "gold",
               "web_purchases", "catalog_purchases", "store_purchases", "complained")
CAMPAIGN_INPUTS = (*CAMPAIGN_FEATURES, "accepted_campaigns")  # when the export has them
CATEGORY_INPUTS = ("education", "living_with")


def _num(values) -> np.ndarray:
    """A column as float64: a pandas Series or, in the drivers' shuffles, a NumPy array."""
    return np.asarray(values, dtype=float)


def _ratio(top: str, bottom: str, floor: float = 1.0) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda f: _num(f[top]) / np.maximum(_num(f[bottom]), floor)


def _log(name: str) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda f: np.log1p(np.maximum(_num(f[name]), 0.0))


def _per_tenure_day(name: str) -> Callable[[pd.DataFrame], np.ndarray]:
    """A two-year count per day of tenure (30 days added, so new customers stay finite)."""
    return lambda f: _num(f[name]) / (np.maximum(_num(f["tenure_days"]), 0) + 30)


DERIVED: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    **{f"log_{name}": _log(name) for name in ("income", "total_spending", "wines", "fruits",
                                               "meat", "fish", "sweets", "gold", "spend_per_purchase")},
    "deals": lambda f: _num(f["deal_share"]) * np.maximum(_num(f["total_purchases"]), 1),
    "catalog_share": _ratio("catalog_purchases", "total_purchases"),
    "web_share": _ratio("web_purchases", "total_purchases"),
    "store_share": _ratio("store_purchases", "total_purchases"),
    "spend_per_income": _ratio("total_spending", "income", 1000.0),
    "wine_share": _ratio("wines", "total_spending"),
    "meat_share": _ratio("meat", "total_spending"),
    "gold_share": _ratio("gold", "total_spending"),
    "recency_x_tenure": lambda f: _num(f["recency"]) / 100 * _num(f["tenure_days"]) / 700,
    "has_children": lambda f: (_num(f["children"]) > 0).astype(float),
    "tenure_per_purchase": _ratio("tenure_days", "total_purchases"),
    "purchases_per_tenure": _per_tenure_day("total_purchases"),
    "log_spend_per_tenure": lambda f: np.log1p(np.maximum(_per_tenure_day("total_spending")(f), 0)),
}


@dataclass(frozen=True)
class Category:
    column: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Design:
    """Which columns a model reads, in order: numeric, derived, then one-hot categories."""

    numeric: tuple[str, ...]
    derived: tuple[str, ...]
    categorical: tuple[Category, ...]

    @property
    def names(self) -> tuple[str, ...]:
        onehot = tuple(f"{c.column}={v}" for c in self.categorical for v in c.categories)
        return (*self.numeric, *self.derived, *onehot)

    def inputs(self) -> tuple[str, ...]:
        """The feature table's columns this design reads."""
        return (*self.numeric, *(c.column for c in self.categorical))


def choose_design(frame: pd.DataFrame) -> Design:
    """Every base input, the campaign history when the table has it, and the categories seen."""
    numeric = BASE_INPUTS + (CAMPAIGN_INPUTS if all(c in frame for c in CAMPAIGN_INPUTS) else ())
    categorical = tuple(Category(c, tuple(sorted(str(v) for v in frame[c].dropna().unique())))
                        for c in CATEGORY_INPUTS)
    return Design(numeric, tuple(DERIVED), categorical)


def design_matrix(frame: pd.DataFrame | Mapping[str, np.ndarray], design: Design) -> np.ndarray:
    """The customers of `frame` (a table, or columns by name) as float64 columns in
    `design.names` order."""
    columns = [_num(frame[name]) for name in design.numeric]
    columns += [DERIVED[name](frame) for name in design.derived]
    for category in design.categorical:
        values = np.asarray(frame[category.column]).astype(str)
        columns += [(values == v).astype(float) for v in category.categories]
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))
