"""The persona rules' part of `engine: spark`: the population thresholds the rules compare
against, summed in Spark, and every customer's persona and flags as column expressions, from
the same parsed conditions the local engine uses (rules.Condition). PySpark is imported here
only: it is an optional engine.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reporter.personas.exports import flag_column
from reporter.personas.rulebook import Rulebook, all_conditions
from reporter.personas.rules import OPERATORS, Condition, FrozenPopulation
from reporter.spark.segments import SEGMENT


def spark_population(customers: DataFrame, conditions: Sequence[Condition]) -> FrozenPopulation:
    """The means and exact percentiles (linear, as NumPy's) these conditions use: one small
    aggregation comes back."""
    means = sorted({c.metric for c in conditions if c.kind == "multiple" and c.metric in customers.columns})
    cuts = sorted({(c.metric, c.value) for c in conditions if c.kind == "percentile"})
    if not means and not cuts:
        return FrozenPopulation({}, {})
    row = customers.agg(*(F.avg(m).alias(f"mean_{m}") for m in means),
                        *(F.percentile(F.col(m), F.lit(p / 100)).alias(f"p_{i}")
                          for i, (m, p) in enumerate(cuts))).collect()[0]
    return FrozenPopulation({m: float(row[f"mean_{m}"]) for m in means},
                            {key: float(row[f"p_{i}"]) for i, key in enumerate(cuts)})


def spark_personas(rulebook: Rulebook, cluster_persona: dict[int, str], scored: DataFrame,
                   population: FrozenPopulation) -> DataFrame:
    """The scored customers with their persona (from their segment) and one 0/1 column per
    customer flag."""
    persona = F.lit(rulebook.fallback.name)
    for segment, name in sorted(cluster_persona.items(), reverse=True):
        persona = F.when(F.col(SEGMENT) == F.lit(segment), F.lit(name)).otherwise(persona)
    flags = [_flag(flag.conditions, flag.mode, population).cast("int").alias(flag_column(flag.name))
             for flag in rulebook.flags]
    return scored.select("*", persona.alias("persona"), *flags)


def _flag(conditions: Sequence[Condition], mode: str, population: FrozenPopulation) -> Column:
    results = [OPERATORS[c.op](F.col(c.metric), F.lit(c.threshold(population))) for c in conditions]
    if not results:
        return F.lit(False)
    return functools.reduce(operator.and_ if mode == "all" else operator.or_, results)


def population_for(rulebook: Rulebook, customers: DataFrame) -> FrozenPopulation:
    return spark_population(customers, all_conditions(rulebook))
