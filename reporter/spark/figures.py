"""The brief's customer figures (personas/figures.py) summed where the data is: counts and
spend per flag and persona, the income axis and correlation, and each call list's first rows.
A handful of rows comes back, never the customers.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from reporter.personas.exports import flag_column
from reporter.personas.figures import (
    CALL_LIST_COLUMNS,
    INCOME_LIMIT_QUANTILE,
    ChartSample,
    CustomerFigures,
    FlagCount,
    ListParams,
)
from reporter.personas.rulebook import Rulebook


def spark_figures(labelled: DataFrame, rulebook: Rulebook, sample: ChartSample,
                  new_flagged: dict[str, DataFrame], params: ListParams) -> CustomerFigures:
    """`labelled`: every customer with features, persona and flag columns; `new_flagged`: per
    flag, the IDs flagged since the baseline run (their call lists start with them)."""
    columns = {flag.name: flag_column(flag.name) for flag in rulebook.flags}
    totals = labelled.agg(
        F.count(F.lit(1)).alias("rows"), F.sum("total_spending").alias("spend"),
        F.percentile("income", F.lit(INCOME_LIMIT_QUANTILE)).alias("limit"),
        *(F.sum(c).alias(f"n_{c}") for c in columns.values()),
        *(F.sum(F.when(F.col(c) == 1, F.col("total_spending"))).alias(f"s_{c}") for c in columns.values()),
    ).first()
    limit = float(totals["limit"]) * 1.05
    correlation = labelled.where(F.col("income") <= F.lit(limit)).agg(
        F.corr("income", "total_spending")).first()[0]
    by_persona = (labelled.groupBy("persona").agg(*(F.sum(c).alias(c) for c in columns.values()))
                  .toPandas().set_index("persona"))
    order = [p.name for p in rulebook.personas]
    rows, spend = int(totals["rows"]), float(totals["spend"] or 0.0) or 1.0
    flags = tuple(FlagCount(
        name=flag.name, count=int(totals[f"n_{column}"] or 0),
        share=int(totals[f"n_{column}"] or 0) / rows if rows else 0.0,
        spend_share=float(totals[f"s_{column}"] or 0.0) / spend,
        by_persona=tuple((p, int(by_persona.at[p, column])) for p in order
                         if p in by_persona.index and by_persona.at[p, column] > 0),
        top=_call_list_top(labelled, column, flag.spec.rank_by, new_flagged.get(flag.name), params),
    ) for flag, column in zip(rulebook.flags, columns.values(), strict=True))
    return CustomerFigures(rows, flags, limit, float(correlation), sample)


def _call_list_top(labelled: DataFrame, column: str, rank_by: str, new: DataFrame | None,
                   params: ListParams):
    flagged = labelled.where(F.col(column) == 1)
    if new is None:
        flagged = flagged.withColumn("new", F.lit(False))
    else:
        flagged = (flagged.join(new.select("ID", F.lit(True).alias("new")), "ID", "left")
                   .fillna({"new": False}))
    shown = list(dict.fromkeys((*CALL_LIST_COLUMNS, *params.shown, rank_by)))
    top = (flagged.orderBy(F.col("new").desc(), F.col(rank_by).desc(), F.col("ID").asc())
           .limit(params.size).select(*shown).toPandas())
    return top.astype({"ID": "int64", "new": bool})
