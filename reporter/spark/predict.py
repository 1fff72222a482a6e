"""Predictions on Spark: every customer's p_response by the saved model's plain numbers,
computed on the executors by the one scorer (predict/saved.py `score_frame`) in a pandas UDF,
so Spark answers what the local engine answers. Only the columns the model reads cross to
Python, through Arrow, a batch at a time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType

from reporter.predict.design import DERIVED, Design
from reporter.predict.saved import SavedPropensity, score_frame

EXPORT_DIGITS = 6  # customers.csv rounds a prediction to this many decimals (personas/exports.py)


def spark_propensity(customers: DataFrame, model: SavedPropensity | None) -> DataFrame:
    """The customers and their p_response (no column when there is no model to score with)."""
    if model is None:
        return customers

    @F.pandas_udf(DoubleType())
    def p_response(frame: pd.DataFrame) -> pd.Series:
        return pd.Series(score_frame(model, frame), index=frame.index)

    reads = columns_read(model.design)
    return customers.select("*", p_response(F.struct(*(F.col(c) for c in reads))).alias("p_response"))


def columns_read(design: Design) -> list[str]:
    """The feature table columns a design reads: its features, those its derived formulas read
    (each formula run once on a frame that notes what is asked of it) and its categories."""
    asked: list[str] = []

    class Noting(dict):
        def __missing__(self, name: str) -> np.ndarray:
            asked.append(name)
            return np.ones(1)

    for name in design.derived:
        DERIVED[name](Noting())
    wanted = [*design.numeric, *asked, *(c.column for c in design.categorical)]
    return list(dict.fromkeys(wanted))


def rounded(name: str) -> Column:
    """A prediction as customers.csv holds it: NumPy's round (x * 10^6, to even, / 10^6), so
    Spark's file and the local one agree to the last digit."""
    scale = F.lit(float(10 ** EXPORT_DIGITS))
    return (F.rint(F.col(name) * scale) / scale).alias(name)
