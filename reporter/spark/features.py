"""Features on Spark: the shared feature formulas (data/formulas.py) as column expressions.

`SparkColumns` gives the formulas Spark's column expressions, so a Spark DataFrame of cleaned
customers gets every feature the local engine computes, from the same definitions, without
collecting a row to the driver.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reporter.data.features import RfmCuts
from reporter.data.formulas import CAMPAIGN_FORMULAS, FORMULAS
from reporter.data.schema import CAMPAIGN_COLUMNS

CATEGORICAL = ("education", "living_with")
CARRIED = ("in_fit", "other_ids")  # from clean, for fitting and the exports


class SparkColumns:
    """Spark's side of `formulas.Columns`: expressions, evaluated where the data is."""

    def col(self, name: str) -> Column:
        return F.col(name)

    def number(self, value: Any) -> Column:
        return value.cast("double") if isinstance(value, Column) else F.lit(float(value))

    def at_least(self, value: Column, low: float) -> Column:
        return F.greatest(value, F.lit(float(low)))

    def between(self, value: Column, low: float, high: float) -> Column:
        return F.least(F.greatest(value, F.lit(float(low))), F.lit(float(high)))

    def choose(self, condition: Column, yes: float, no: float) -> Column:
        return F.when(condition, F.lit(yes)).otherwise(F.lit(no))

    def days_since(self, name: str, as_of: date) -> Column:
        return F.datediff(F.lit(as_of), F.to_date(F.col(name)))


def spark_features(customers: DataFrame, as_of: date, rfm: RfmCuts) -> DataFrame:
    """Every feature per customer, as the local engine's build_features computes it, with the
    RFM scores by the model's cut-points."""
    formulas = dict(FORMULAS)
    if all(column in customers.columns for column in CAMPAIGN_COLUMNS):
        formulas.update(CAMPAIGN_FORMULAS)
    columns = SparkColumns()
    features = customers.select(F.col("ID"), *(formula(columns, as_of).alias(name)
                                                for name, formula in formulas.items()),
                                *(F.col(n) for n in (*CATEGORICAL, *CARRIED) if n in customers.columns))
    return features.select("*", (F.lit(6.0) - _score("recency", rfm.recency)).alias("r_score"),
                           _score("total_purchases", rfm.frequency).alias("f_score"),
                           _score("total_spending", rfm.monetary).alias("m_score"))


def _score(name: str, cuts: tuple[float, ...]) -> Column:
    """1 + how many cut-points are at or below the value (NumPy's searchsorted, side right)."""
    total = F.lit(1.0)
    for cut in cuts:
        total = total + F.when(F.col(name) >= F.lit(float(cut)), F.lit(1.0)).otherwise(F.lit(0.0))
    return total

