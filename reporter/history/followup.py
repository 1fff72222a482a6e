"""Follow-up: what customers did between two exports of the same source."""

from __future__ import annotations

import pandas as pd


def bought_again(earlier: pd.DataFrame, later: pd.DataFrame, days_between: int) -> pd.Series:
    """True for each customer in both tables who bought between them: their later recency is
    below their earlier recency plus the days between the exports (the count was reset by a
    purchase). Indexed by customer ID, over the customers in both tables; `earlier` and `later`
    need the columns ID and Recency (or recency, as the features and exports name it)."""
    before, after = _recency(earlier), _recency(later)
    both = before.index.intersection(after.index)
    result = after.loc[both] < before.loc[both] + days_between
    result.index.name = "ID"
    return result.rename("bought_again")


def _recency(table: pd.DataFrame) -> pd.Series:
    column = "Recency" if "Recency" in table else "recency"
    return pd.Series(table[column].to_numpy(), index=pd.Index(table["ID"].to_numpy(), name="ID"))
