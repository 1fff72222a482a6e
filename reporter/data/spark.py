"""The shared feature formulas (data/formulas.py) on Spark: the first piece of `engine: spark`.

`SparkColumns` gives the formulas Spark's column expressions, so a Spark DataFrame of cleaned
customers gets every feature the local engine computes, from the same definitions, without
collecting a row to the driver. PySpark is imported here only: it is an optional engine.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reporter.data.formulas import CAMPAIGN_FORMULAS, FORMULAS
from reporter.data.schema import CAMPAIGN_COLUMNS

CATEGORICAL = ("education", "living_with")


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


def spark_features(customers: DataFrame, as_of: date) -> DataFrame:
    """Every formula's feature per customer, as the local engine's build_features computes
    them (RFM scores, which need the model's cut-points, are not among them yet)."""
    formulas = dict(FORMULAS)
    if all(column in customers.columns for column in CAMPAIGN_COLUMNS):
        formulas.update(CAMPAIGN_FORMULAS)
    columns = SparkColumns()
    return customers.select(F.col("ID"), *(formula(columns, as_of).alias(name)
                                            for name, formula in formulas.items()),
                            *(F.col(name) for name in CATEGORICAL))


def spark_segments(scorer, features: DataFrame) -> DataFrame:
    """Each customer's segment by the saved model's numbers (docs/model-format.md) as column
    expressions: clip, standardise, one-hot, PCA projection, nearest centre; ties go to the
    first centre, as NumPy's argmin. k-means and Ward models (a mixture model is not yet)."""
    if scorer.algorithm == "gmm":
        raise NotImplementedError("Gaussian-mixture models are not scored on Spark yet")
    encoded = [(F.least(F.greatest(F.col(name).cast("double"), F.lit(float(low))), F.lit(float(high)))
                - F.lit(float(mean))) / F.lit(float(std))
               for name, low, high, mean, std in zip(scorer.numeric, scorer.clip_low, scorer.clip_high,
                                                     scorer.scale_mean, scorer.scale_std, strict=True)]
    encoded += [F.when(F.col(c.column).cast("string") == F.lit(category), F.lit(1.0)).otherwise(F.lit(0.0))
                for c in scorer.categorical for category in c.categories]
    centred = [value - F.lit(float(mean)) for value, mean in zip(encoded, scorer.pca_mean, strict=True)]
    points = [_dot(centred, component) for component in scorer.pca_components]
    distances = [_dot_squared(points, centre) for centre in scorer.centres]
    nearest = F.least(*distances) if len(distances) > 1 else distances[0]
    cluster = F.lit(0)
    for index in range(len(distances) - 1, -1, -1):  # the first of equal distances wins
        cluster = F.when(distances[index] == nearest, F.lit(index)).otherwise(cluster)
    segment = F.element_at(F.array(*(F.lit(int(s)) for s in scorer.segment_of_cluster)), cluster + 1)
    return features.select(F.col("ID"), segment.alias("segment"))


def _dot(values: list[Column], weights) -> Column:
    total = F.lit(0.0)
    for value, weight in zip(values, weights, strict=True):
        total = total + value * F.lit(float(weight))
    return total


def _dot_squared(points: list[Column], centre) -> Column:
    total = F.lit(0.0)
    for point, coordinate in zip(points, centre, strict=True):
        total = total + (point - F.lit(float(coordinate))) * (point - F.lit(float(coordinate)))
    return total
