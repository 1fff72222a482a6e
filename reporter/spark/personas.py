"""The persona rules' part of `engine: spark`: the population thresholds the rules compare
against, summed in Spark, and every customer's persona and flags as column expressions, from
the same parsed conditions the local engine uses (rules.Condition).
"""

from __future__ import annotations

import functools
import operator
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reporter.personas.exports import flag_column
from reporter.personas.rulebook import Rulebook, RuleChange, find_renames
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


@dataclass(frozen=True)
class SavedRules:
    """The saved model's naming: its rules, the persona of each segment, its thresholds."""

    rulebook: Rulebook
    cluster_persona: dict[int, str]
    population: FrozenPopulation


def spark_rule_change(saved: SavedRules, rulebook: Rulebook, scored: DataFrame, labelled: DataFrame,
                      since_run: str) -> RuleChange:
    """rulebook.rule_change summed in Spark: the same customers in the same segments under the
    saved model's rules and under this week's (`labelled`, as spark_personas named them)."""
    then = spark_personas(saved.rulebook, saved.cluster_persona, scored, saved.population)
    old, new = [f.name for f in saved.rulebook.flags], [f.name for f in rulebook.flags]
    paired = then.select("ID", F.col("persona").alias("_was"),
                         *(F.col(flag_column(n)).alias(f"_was_{flag_column(n)}") for n in old)).join(
        labelled.select("ID", "persona", *(flag_column(n) for n in new)), "ID")
    cells = [row.asDict() for row in paired.groupBy("_was", "persona").agg(
        F.count(F.lit(1)).alias("count"), *(F.sum(f"_was_{flag_column(n)}").alias(f"was {n}") for n in old),
        *(F.sum(flag_column(n)).alias(f"now {n}") for n in new)).collect()]  # one small job: all below
    flags = tuple((name, _total(cells, f"was {name}") if name in old else 0,
                   _total(cells, f"now {name}") if name in new else 0)
                  for name in dict.fromkeys([*old, *new]))
    moves = [(r["_was"], r["persona"], int(r["count"])) for r in cells if r["_was"] != r["persona"]]
    ordered = tuple(sorted(moves, key=lambda move: (-move[2], move[0], move[1])))
    sizes = _sizes(cells)
    named = {name for name, _, after in sizes if after}
    absent = tuple(p.name for p in rulebook.personas if p.name not in named)
    named_before = {name for name, before, _ in sizes if before}
    absent_before = tuple(p.name for p in saved.rulebook.personas if p.name not in named_before)
    return RuleChange(since_run, ordered, flags, find_renames(ordered, sizes, absent, absent_before), sizes,
                      absent, absent_before)


def _total(cells: list[dict], column: str) -> int:
    return sum(int(cell[column] or 0) for cell in cells)


def _sizes(cells: list[dict]) -> tuple[tuple[str, int, int], ...]:
    """Customers per persona under the saved rules (_was) and under this week's (persona)."""
    then, now = Counter(), Counter()
    for cell in cells:
        then[cell["_was"]] += int(cell["count"])
        now[cell["persona"]] += int(cell["count"])
    return tuple((name, then.get(name, 0), now.get(name, 0)) for name in sorted({*then, *now}))
