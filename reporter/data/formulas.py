"""Each feature's formula, once, for every engine.

A formula is written against `Columns`: the few operations both engines have (arithmetic,
clipping, a choice, days between dates), so pandas (`PandasColumns`, the local engine) and
Spark (an engine module's own `Columns`) compute every feature from the same definition and
cannot drift apart. Formulas take the cleaned customers' columns (the export's names plus
`education` and `living_with`) and the data's reference date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

import numpy as np
import pandas as pd

from reporter.data.schema import CAMPAIGN_COLUMNS, CHANNEL_COLUMNS, SPEND_COLUMNS

CATEGORY_FEATURES = ("wines", "fruits", "meat", "fish", "sweets", "gold")
CHANNEL_FEATURES = ("web_purchases", "catalog_purchases", "store_purchases")
CAMPAIGN_FEATURES = tuple(f"accepted_cmp{n}" for n in range(1, 6))
# What managers mean by "Wine Lovers" or "Online Shoppers": a part of the customer's own whole.
CATEGORY_SHARES = ("wine_share", "fruit_share", "meat_share", "fish_share", "sweets_share",
                   "gold_share")
CHANNEL_SHARES = ("web_share", "catalog_share", "store_share")
SHARE_OF = {**dict(zip(CATEGORY_FEATURES, CATEGORY_SHARES, strict=True)),
            **dict(zip(CHANNEL_FEATURES, CHANNEL_SHARES, strict=True))}
TINY = 1e-9  # a whole of 0 has parts of 0: 0 / TINY is 0, and any real whole is above it


class Columns(Protocol):
    """What a formula may do with an engine's columns (a pandas Series, a Spark Column)."""

    def col(self, name: str) -> Any: ...
    def number(self, value: Any) -> Any: ...  # as a 64-bit float
    def at_least(self, value: Any, low: float) -> Any: ...
    def between(self, value: Any, low: float, high: float) -> Any: ...
    def choose(self, condition: Any, yes: float, no: float) -> Any: ...
    def days_since(self, name: str, as_of: date) -> Any: ...


def _total(columns: Columns, names: tuple[str, ...]) -> Any:
    total = columns.col(names[0])
    for name in names[1:]:
        total = total + columns.col(name)
    return total


Formula = Callable[[Columns, date], Any]


def _part_of(part: str, whole: tuple[str, ...]) -> Formula:
    """A column over the sum of `whole` (which includes it): 0 when the whole is 0."""
    return lambda c, _: c.number(c.col(part)) / c.at_least(c.number(_total(c, whole)), TINY)


def _as_number(column: str) -> Formula:
    """A column of the export as it is, as a float."""
    return lambda c, _: c.number(c.col(column))


FORMULAS: dict[str, Formula] = {
    "income": _as_number("Income"),
    "total_spending": lambda c, _: c.number(_total(c, SPEND_COLUMNS)),
    "total_purchases": lambda c, _: c.number(_total(c, CHANNEL_COLUMNS)),
    "recency": _as_number("Recency"),
    "age": lambda c, as_of: c.number(float(as_of.year) - c.col("Year_Birth")),
    "tenure_days": lambda c, as_of: c.number(c.days_since("Dt_Customer", as_of)),
    "children": lambda c, _: c.number(c.col("Kidhome") + c.col("Teenhome")),
    "family_size": lambda c, _: c.number(c.col("Kidhome") + c.col("Teenhome")
                                         + c.choose(c.col("living_with") == "Partner", 2, 1)),
    "spend_per_purchase": lambda c, _: c.number(_total(c, SPEND_COLUMNS))
    / c.at_least(c.number(_total(c, CHANNEL_COLUMNS)), 1),
    "deal_share": lambda c, _: c.between(c.number(c.col("NumDealsPurchases"))
                                         / c.at_least(c.number(_total(c, CHANNEL_COLUMNS)), 1), 0, 1),
    "web_visits": _as_number("NumWebVisitsMonth"),
    "web_visits_per_purchase": lambda c, _: c.number(c.col("NumWebVisitsMonth"))
    / c.at_least(c.number(c.col("NumWebPurchases")), 1),
    **{name: _as_number(column) for name, column in zip(CATEGORY_FEATURES, SPEND_COLUMNS, strict=True)},
    **{name: _as_number(column) for name, column in zip(CHANNEL_FEATURES, CHANNEL_COLUMNS, strict=True)},
    **{name: _part_of(column, SPEND_COLUMNS) for name, column in zip(CATEGORY_SHARES, SPEND_COLUMNS,
                                                                      strict=True)},
    **{name: _part_of(column, CHANNEL_COLUMNS) for name, column in zip(CHANNEL_SHARES, CHANNEL_COLUMNS,
                                                                        strict=True)},
    "complained": _as_number("Complain"),
    "responded": _as_number("Response"),
}
# only when the export has the five earlier campaigns
CAMPAIGN_FORMULAS: dict[str, Formula] = {
    **{name: _as_number(column) for name, column in zip(CAMPAIGN_FEATURES, CAMPAIGN_COLUMNS, strict=True)},
    "accepted_campaigns": lambda c, _: c.number(_total(c, CAMPAIGN_COLUMNS)),
}


class PandasColumns:
    """The local engine: a cleaned customers frame's Series."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def col(self, name: str) -> pd.Series:
        return self.frame[name]

    def number(self, value: pd.Series) -> pd.Series:
        return value.astype("float64")

    def at_least(self, value: pd.Series, low: float) -> pd.Series:
        return value.clip(lower=low)

    def between(self, value: pd.Series, low: float, high: float) -> pd.Series:
        return value.clip(low, high)

    def choose(self, condition: pd.Series, yes: float, no: float) -> pd.Series:
        return pd.Series(np.where(condition, yes, no), index=condition.index)

    def days_since(self, name: str, as_of: date) -> pd.Series:
        return (pd.Timestamp(as_of) - self.frame[name]).dt.days


class ArrayColumns:
    """The array path (`reporter serve`, small `reporter assign` batches): plain NumPy columns
    by name, the same operations as PandasColumns on the same float64 values."""

    def __init__(self, columns):
        self.columns = columns

    def col(self, name: str) -> np.ndarray:
        return self.columns[name]

    def number(self, value) -> np.ndarray:
        return np.asarray(value, dtype="float64")

    def at_least(self, value, low: float) -> np.ndarray:
        return np.maximum(value, low)

    def between(self, value, low: float, high: float) -> np.ndarray:
        return np.minimum(np.maximum(value, low), high)  # np.clip, without its wrapper's cost

    def choose(self, condition, yes: float, no: float) -> np.ndarray:
        return np.where(condition, yes, no)

    def days_since(self, name: str, as_of: date) -> np.ndarray:
        days = np.datetime64(as_of, "D") - np.asarray(self.columns[name]).astype("datetime64[D]")
        return days.astype("int64")
