"""Clean on Spark: the local engine's repairs and exclusions (data/clean.py), as column
expressions, with the same notes word for word. Only counts come back to the driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from reporter.data.clean import (
    EDUCATION_LEVELS,
    LIVING_WITH,
    OTHER,
    DataNote,
    DataNotes,
    checked_fill,
    column_notes,
    duplicates_note,
    exact_duplicates_note,
    exclusion_notes,
    fill_source,
    income_note,
    refused_duplicates,
    unrecognised_note,
)
from reporter.data.params import CleanParams
from reporter.spark.session import materialised
from reporter.spark.source import SparkCustomers


@dataclass(frozen=True)
class SparkCleaned:
    """Clean customers in Spark (computed once: see session.materialised), with the brief's data
    notes."""

    frame: DataFrame
    as_of: date
    notes: DataNotes
    income_fill: float


def spark_clean(raw: SparkCustomers, settings: CleanParams, as_of: date,
                income_fill: float | None = None) -> SparkCleaned:
    """Repairs and exclusions, as `clean` makes them; `income_fill` is a saved model's. What the
    notes count (the median, missing incomes, unrecognised words, who is left out of fitting)
    comes back in one aggregation, not one small job each."""
    notes = list(column_notes(raw.on_driver(pd.DataFrame())))
    frame = _people(raw, settings.duplicates, notes)
    counted = _counted(frame, settings, as_of, median=income_fill is None)
    fill = checked_fill(counted["median"]) if income_fill is None else income_fill
    if counted["missing"]:
        notes.append(income_note(counted["missing"], fill_source(fill, income_fill is not None,
                                                                 settings.currency)))
    frame = _impute_income(frame, fill)
    frame = _harmonise(frame, notes, counted)
    frame = materialised(_mark_fit_exclusions(frame, settings, as_of))
    ages = counted["ages"]
    incomes = counted["high_incomes"] + (counted["missing_of_age"] if fill > settings.max_income else 0)
    notes += exclusion_notes(settings, as_of, ages, incomes)
    summary = DataNotes(rows_read=raw.rows_read, rows_kept=counted["rows"],
                        rows_in_fit=counted["rows"] - ages - incomes, notes=tuple(notes))
    return SparkCleaned(frame, as_of, summary, float(fill))


def _counted(people: DataFrame, settings: CleanParams, as_of: date, median: bool) -> dict:
    """Every count the notes need, and the median income when no saved fill is given. Who
    has an income above the limit is counted before the fill: of those of plausible age, the
    known incomes above it, and the missing ones too when the fill itself is above it."""
    of_age = ~F.coalesce(_bad_age(settings, as_of), F.lit(False))
    unknown = [(column, _mapped(column, mapping).isNull())
               for column, mapping in (("Education", EDUCATION_LEVELS), ("Marital_Status", LIVING_WITH))]
    above = F.col("Income") > F.lit(float(settings.max_income))
    row = people.agg(
        F.count(F.lit(1)).alias("rows"), F.count(F.when(F.col("Income").isNull(), 1)).alias("missing"),
        *([F.percentile("Income", F.lit(0.5)).alias("median")] if median else []),
        *(F.sort_array(F.collect_set(F.when(is_unknown, F.col(column)))).alias(column)
          for column, is_unknown in unknown),
        *(F.count(F.when(is_unknown, 1)).alias(f"n_{column}") for column, is_unknown in unknown),
        F.count(F.when(~of_age, 1)).alias("ages"),
        F.count(F.when(of_age & above, 1)).alias("high_incomes"),
        F.count(F.when(of_age & F.col("Income").isNull(), 1)).alias("missing_of_age")).first()
    return {"median": None, **row.asDict()}


def _people(raw: SparkCustomers, mode: str, notes: list[DataNote]) -> DataFrame:
    """Exact duplicate rows removed, and rows identical in every column but ID taken as one
    person: kept under the smallest ID with the others in other_ids (merge), all kept and named
    (keep), or the run stopped (refuse). One grouping by every column but ID finds both (an
    exact duplicate repeats its ID within its group): one shuffle, not two."""
    columns = [c for c in raw.frame.columns if c != "ID"]
    groups = materialised(raw.frame.groupBy(*columns).agg(F.array_sort(F.collect_list("ID")).alias("_all"))
                          .select("*", F.array_distinct("_all").alias("_ids")))
    counted = groups.agg(
        F.sum(F.size("_all") - F.size("_ids")).alias("exact"), F.sum(F.size("_ids") - 1).alias("repeats"),
        F.min(F.when(F.size("_ids") > 1, F.struct(F.element_at("_ids", 2), F.element_at("_ids", 1))))
        .alias("first")).first()
    if counted["exact"]:
        notes.append(exact_duplicates_note(int(counted["exact"])))
    repeats = int(counted["repeats"] or 0)
    if repeats and mode == "refuse":
        raise refused_duplicates(raw.origin, repeats, counted["first"][0], counted["first"][1])
    if repeats:
        sizes = groups.where(F.size("_ids") > 1).groupBy(F.size("_ids").alias("size")).count().collect()
        notes.append(duplicates_note(repeats, {r["size"]: r["count"] for r in sizes}, mode))
    if mode == "merge":
        people = groups.select("*", F.element_at("_ids", 1).alias("ID"), F.slice("_ids", 2, 1 << 30)
                               .alias("_others"))
    else:
        people = groups.select("*", F.explode("_ids").alias("ID"))
        people = people.select("*", F.filter("_ids", lambda i: i != F.col("ID")).alias("_others"))
    others = F.array_join(F.transform("_others", lambda i: i.cast("string")), " ")
    return people.select(*raw.frame.columns, others.alias("other_ids"))


def _impute_income(frame: DataFrame, fill: float) -> DataFrame:
    return frame.select(*(c for c in frame.columns if c != "Income"),
                        F.coalesce(F.col("Income"), F.lit(float(fill))).alias("Income"),
                        F.col("Income").isNull().alias("income_imputed"))


def _harmonise(frame: DataFrame, notes: list[DataNote], counted: dict) -> DataFrame:
    for column in ("Education", "Marital_Status"):
        if counted[f"n_{column}"]:
            notes.append(unrecognised_note(column, counted[f"n_{column}"], list(counted[column])))
    education = _mapped("Education", EDUCATION_LEVELS)
    living = _mapped("Marital_Status", LIVING_WITH)
    return frame.select("*", F.coalesce(education, F.lit(OTHER)).alias("education"),
                        F.coalesce(living, F.lit(OTHER)).alias("living_with"))


def _mapped(column: str, mapping: dict[str, str]):
    key = F.lower(F.trim(F.col(column)))
    value = F.lit(None).cast("string")
    for word, meaning in mapping.items():
        value = F.when(key == F.lit(word), F.lit(meaning)).otherwise(value)
    return value


def _bad_age(settings: CleanParams, as_of: date):
    age = F.lit(as_of.year) - F.col("Year_Birth")
    return (age < settings.min_age) | (age > settings.max_age)


def _mark_fit_exclusions(frame: DataFrame, settings: CleanParams, as_of: date) -> DataFrame:
    high_income = F.col("Income") > F.lit(float(settings.max_income))
    reason = F.when(_bad_age(settings, as_of), "age").when(high_income, "income").otherwise("")
    return frame.select("*", (reason == "").alias("in_fit"), reason.alias("fit_excluded"))
