"""Segmentation's part of `engine: spark`: every customer scored by the saved model's numbers,
and the groups' profiles summed in Spark, so only aggregates reach the driver.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reporter.segmentation.profile import PROFILE_FEATURES, Aggregates, Profiles, profiles_from
from reporter.segmentation.scorer import Scorer

SEGMENT = "cluster"  # the column, named as customers.csv names it


def spark_segments(scorer: Scorer, features: DataFrame) -> DataFrame:
    """The features and each customer's segment by the saved model's numbers
    (docs/reference/model-format.md) as column expressions: clip, standardise, one-hot, PCA
    projection, nearest centre; ties go to the first centre, as NumPy's argmin.
    k-means and Ward models (a mixture model is not yet).

    Each step is a select of named columns that the next step reads: as one expression, every
    distance held every projection, every projection every feature, and the choice of the
    nearest centre every distance k times over, a plan of tens of thousands of nodes that
    Spark spent seconds analysing on any table. The same arithmetic in the same order."""
    if scorer.algorithm == "gmm":
        raise NotImplementedError("Gaussian-mixture models are not scored on Spark yet")
    encoded = [(F.least(F.greatest(F.col(name).cast("double"), F.lit(float(low))), F.lit(float(high)))
                - F.lit(float(mean))) / F.lit(float(std))
               for name, low, high, mean, std in zip(scorer.numeric, scorer.clip_low, scorer.clip_high,
                                                     scorer.scale_mean, scorer.scale_std, strict=True)]
    encoded += [F.when(F.col(c.column).cast("string") == F.lit(category), F.lit(1.0)).otherwise(F.lit(0.0))
                for c in scorer.categorical for category in c.categories]
    centred = [value - F.lit(float(mean)) for value, mean in zip(encoded, scorer.pca_mean, strict=True)]
    frame, centred = _step(features, "_centred", centred)
    frame, points = _step(frame, "_point", [_dot(centred, component) for component in scorer.pca_components])
    frame, distances = _step(frame, "_distance", [_dot_squared(points, centre) for centre in scorer.centres])
    least = F.least(*distances) if len(distances) > 1 else distances[0]
    frame, (nearest,) = _step(frame, "_nearest", [least])
    cluster = F.lit(0)
    for index in range(len(distances) - 1, -1, -1):  # the first of equal distances wins
        cluster = F.when(distances[index] == nearest, F.lit(index)).otherwise(cluster)
    segment = F.element_at(F.array(*(F.lit(int(s)) for s in scorer.segment_of_cluster)), cluster + 1)
    return frame.select(*(F.col(f"`{c}`") for c in features.columns), segment.alias(SEGMENT))


def _step(frame: DataFrame, prefix: str, values: list[Column]) -> tuple[DataFrame, list[Column]]:
    """The frame with `values` as columns named prefix_0, prefix_1, ..., and those columns."""
    names = [f"{prefix}_{i}" for i in range(len(values))]
    return (frame.select("*", *(v.alias(n) for v, n in zip(values, names, strict=True))),
            [F.col(n) for n in names])


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


def spark_profile(customers: DataFrame, key: str) -> Profiles:
    """The profile of each group of `key` (a segment, a persona), summed in Spark: one
    aggregation (a rollup: a row per group and the population's row) comes back, never a
    customer."""
    names = [name for name in PROFILE_FEATURES if name in customers.columns]
    fitted = F.col("in_fit")  # averages over these, sizes and spend over everyone (as profile.py)
    summed = (customers.rollup(F.col(key).cast("string").alias("key"))
              .agg(F.grouping_id().alias("_everyone"), F.count(F.lit(1)).alias("size"),
                   F.sum("total_spending").alias("spend"), F.count(F.when(fitted, 1)).alias("_fitted"),
                   *(F.avg(F.when(fitted, F.col(n))).alias(n) for n in names),
                   *(F.stddev_pop(F.when(fitted, F.col(n))).alias(f"std_{n}") for n in names))
              .toPandas())
    if (summed["_fitted"] == 0).any():
        _averages_of_everyone_where_none_fitted(summed, customers, key, names)
    everyone = summed["_everyone"] == 1
    population = summed[everyone].iloc[0]
    groups = summed[~everyone].set_index("key").sort_index()
    std = pd.Series({n: float(population[f"std_{n}"]) for n in names}).replace(0, np.nan)
    return profiles_from(Aggregates(
        rows=int(population["size"]), population_means=pd.Series({n: float(population[n]) for n in names}),
        population_std=std, means=groups[names], sizes=groups["size"], spend=groups["spend"],
        total_spend=float(population["spend"]) or 1.0))


def _averages_of_everyone_where_none_fitted(summed: pd.DataFrame, customers: DataFrame, key: str,
                                            names: list[str]) -> None:
    """Averages are over the customers fitted on, as the local engine's (segmentation/profile.py);
    a group (or a population) with none of them is described by its own customers. Rare, so
    summed only then, by the same rollup."""
    everyone = (customers.rollup(F.col(key).cast("string").alias("key"))
                .agg(F.grouping_id().alias("_everyone"), *(F.avg(n).alias(n) for n in names))
                .toPandas())
    averages = everyone.set_axis(_rollup_rows(everyone))[names]
    none = summed["_fitted"] == 0
    summed.loc[none, names] = averages.loc[_rollup_rows(summed[none])].to_numpy()


def _rollup_rows(frame: pd.DataFrame) -> pd.MultiIndex:
    """A rollup's rows by (population or not, group): the population's key is null."""
    return pd.MultiIndex.from_arrays([frame["_everyone"], frame["key"].where(frame["_everyone"] == 0, "")])
