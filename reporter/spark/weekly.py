"""Week over week on Spark: the comparison of history/weekly.py with the previous run's
customers.csv read by Spark. Counts come back, and the rows of the customers who changed (new,
gone, slipped, newly flagged): lists sized by what changed this week, not by the table.
"""

from __future__ import annotations

from collections import Counter

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from reporter.history.weekly import GONE, NEW, WeekOverWeek, slipped
from reporter.personas.exports import STAMP_COLUMNS, flag_column
from reporter.spark.session import materialised


def read_previous(spark: SparkSession, path: str) -> DataFrame:
    """A previous run's customers.csv, as Spark reads it."""
    frame = spark.read.csv(path, header=True, inferSchema=True)
    return frame.drop(*(c for c in STAMP_COLUMNS if c in frame.columns))


def spark_compare(before: DataFrame, now: DataFrame, previous: tuple[str, str], order: list[str],
                  flags: list[str], valuable: tuple[str, ...], slipped_to: tuple[str, ...],
                  renames: dict[str, str] | None = None,
                  successors: dict[str, str] | None = None) -> WeekOverWeek:
    """Both in the customers.csv layout; the same figures as history.weekly.compare (renamed
    personas of the previous run, and those renamed with their rule changed, under their new
    names)."""
    followed = {**(renames or {}), **(successors or {})}
    if followed:
        before = before.replace(followed, subset=["persona"])
    merged = (now.where(F.col("other_ids").isNotNull() & (F.col("other_ids") != ""))
              .select(F.explode(F.split("other_ids", " ")).alias("ID"))
              .select(F.col("ID").cast("long").alias("ID")))
    before = before.join(merged, "ID", "left_anti").transform(materialised)
    joined = before.select("ID", F.col("persona").alias("was")).join(
        now.select("ID", F.col("persona").alias("is_now")), "ID", "full")
    cells = (joined.groupBy(F.coalesce("was", F.lit(NEW)).alias("was"),
                            F.coalesce("is_now", F.lit(GONE)).alias("is_now")).count().collect())
    counts = {(r["was"], r["is_now"]): int(r["count"]) for r in cells}
    seen = {name for pair in counts for name in pair} - {*order, NEW, GONE}
    names = [*order, *sorted(seen)]
    matrix = {row: {col: counts.get((row, col), 0) for col in [*names, GONE]} for row in [*names, NEW]}
    return WeekOverWeek(
        previous_run_id=previous[0], previous_as_of=previous[1],
        personas=_persona_changes(counts, names), order=tuple(names), matrix=matrix,
        new_customers=sum(n for (was, _), n in counts.items() if was == NEW),
        gone_customers=sum(n for (_, is_now), n in counts.items() if is_now == GONE),
        slipped=_slipped(before, now, flags, valuable, slipped_to),
        new=now.join(before.select("ID"), "ID", "left_anti").orderBy("ID").toPandas(),
        gone=before.join(now.select("ID"), "ID", "left_anti").orderBy("ID").toPandas(),
        newly_flagged={name: _newly_flagged(before, now, name) for name in flags},
        renamed={new: old for old, new in (renames or {}).items()},
        successors={new: old for old, new in (successors or {}).items()},
    )


def _persona_changes(counts: dict[tuple[str, str], int], names: list[str]):
    """Customers per persona then and now, from the cells of the full join: every customer of
    either week is in one cell (a new one's `was` is NEW, a gone one's `is_now` GONE)."""
    then, current = Counter(), Counter()
    for (was, is_now), count in counts.items():
        if was != NEW:
            then[was] += count
        if is_now != GONE:
            current[is_now] += count
    then_total, now_total = max(sum(then.values()), 1), max(sum(current.values()), 1)
    return tuple((name, then.get(name, 0), then.get(name, 0) / then_total, current.get(name, 0),
                  current.get(name, 0) / now_total) for name in names)


def _newly_flagged(before: DataFrame, now: DataFrame, flag: str):
    column = flag_column(flag)
    flagged = now.where(F.col(column) == 1)
    if column in before.columns:
        flagged = flagged.join(before.where(F.col(column) == 1).select("ID"), "ID", "left_anti")
    return flagged.orderBy("ID").toPandas()


def _slipped(before: DataFrame, now: DataFrame, flags: list[str], valuable: tuple[str, ...],
             slipped_to: tuple[str, ...]):
    """Only the customers who could have slipped come back (valuable then, in a slipped-to
    persona or carrying a slipped-to flag now); weekly.slipped decides among them."""
    targets = [flag_column(f) for f in flags if f in slipped_to]
    now_hit = F.col("persona").isin(list(slipped_to))
    for column in targets:
        now_hit = now_hit | (F.col(column) == 1)
    then = before.where(F.col("persona").isin(list(valuable)))
    candidates = now.where(now_hit).select("ID").join(then.select("ID"), "ID")
    return slipped(then.join(candidates, "ID").toPandas(), now.join(candidates, "ID").toPandas(),
                   flags, valuable, slipped_to)
