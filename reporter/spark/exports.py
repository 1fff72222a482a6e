"""Exports written by Spark: the archive's CSV files in the local engine's layout (customers.csv,
segments.csv, persona_<name>.csv, <flag>.csv, next_campaign.csv), each written by Spark's
executors and then moved into place as one file, and customers.parquet as a Parquet dataset
partitioned by persona. The rows never pass through the driver. The run folder must be on a
filesystem the executors share (any local[*] master; a cluster needs a shared mount:
docs/operations/spark.md).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reporter.csvcells import FORMULA_STARTS, QUOTE
from reporter.personas.exports import (
    EXPORT_METRICS,
    NEXT_CAMPAIGN_FILE,
    flag_column,
    flag_file,
    next_campaign_size,
    persona_file,
)
from reporter.personas.rulebook import Rulebook
from reporter.predict.columns import present
from reporter.spark.predict import EXPORT_DIGITS, rounded
from reporter.spark.segments import SEGMENT
from reporter.spark.session import materialised

SCRATCH = ".spark-parts"  # inside the hidden run folder; removed once the files are in place


def customer_layout(labelled: DataFrame, rulebook: Rulebook) -> DataFrame:
    """customers.csv's columns and order, as exports.customer_table makes them."""
    flags = [F.col(flag_column(f.name)) for f in rulebook.flags]
    metrics = [F.round(F.col(m).cast("double"), 4).alias(m) for m in EXPORT_METRICS]
    answered = ([F.col("responded").cast("tinyint").alias("responded")]  # a later run grades with it
                if "responded" in labelled.columns else [])
    predictions = [rounded(p.name) for p in present(labelled.columns)]
    return labelled.select("ID", "other_ids", "persona", SEGMENT, *flags, *metrics, *answered,
                           *predictions)


def write_spark_exports(labelled: DataFrame, rulebook: Rulebook, path_for: Callable[[str], Path],
                        stamp: tuple[tuple[str, str], ...], parquet: bool) -> list[str]:
    """Every customer file of the run; returns their names, as write_exports does."""
    customers = materialised(customer_layout(labelled, rulebook).orderBy("ID"))  # sorted once, for both
    segments = customers.select("ID", SEGMENT, "persona", *(flag_column(f.name) for f in rulebook.flags))
    _one_csv(segments, path_for("segments.csv"), stamp)
    _one_csv(customers, path_for("customers.csv"), stamp)
    written = ["customers.csv"]
    written += _persona_files(customers, path_for, stamp)
    if parquet:
        target = path_for("customers.parquet")
        customers.select("*", *_stamp(stamp)).write.partitionBy("persona").parquet(str(target))
        written.append("customers.parquet")
    for flag in rulebook.flags:
        column = flag_column(flag.name)
        ranked = (labelled.where(F.col(column) == 1)
                  .orderBy(F.col(flag.spec.rank_by).desc(), F.col("ID").asc()))
        _one_csv(customer_layout(ranked, rulebook), path_for(flag_file(flag.name)), stamp)
        written.append(flag_file(flag.name))
    if "p_response" in customers.columns:  # by customers.csv's rounded p_response, ties by ID
        likeliest = customers.orderBy(F.col("p_response").desc(), F.col("ID").asc())
        _one_csv(likeliest.limit(next_campaign_size(customers.count())), path_for(NEXT_CAMPAIGN_FILE),
                 stamp)
        written.append(NEXT_CAMPAIGN_FILE)
    return written


def _persona_files(customers: DataFrame, path_for, stamp) -> list[str]:
    """One file per persona: Spark writes each persona's rows in one task, in ID order."""
    scratch = path_for(SCRATCH)
    (customers.select("*", F.col("persona").alias("_persona")).repartition("_persona")
     .sortWithinPartitions("_persona", "ID").select("*", *_stamp(stamp))
     .transform(lambda frame: _as_text(frame, keep=("_persona",))).write.partitionBy("_persona")
     .csv(str(scratch), header=True, quote='"', escape='"', emptyValue=""))
    written = []
    for part_dir in sorted(scratch.glob("_persona=*")):
        persona = _unescape(part_dir.name.removeprefix("_persona="))
        name = persona_file(persona)
        _move_single(part_dir, path_for(name))
        written.append(name)
    shutil.rmtree(scratch)
    return sorted(written)


def _one_csv(frame: DataFrame, target: Path, stamp) -> None:
    """Spark writes the rows into scratch in one task, in their order (coalescing keeps the
    partitions' order); the one part becomes target."""
    scratch = target.parent / f"{SCRATCH}-{target.name}"
    (frame.select("*", *_stamp(stamp)).transform(_as_text).coalesce(1).write
     .csv(str(scratch), header=True, quote='"', escape='"', emptyValue=""))
    _move_single(scratch, target)
    shutil.rmtree(scratch)


def _move_single(folder: Path, target: Path) -> None:
    parts = sorted(folder.glob("part-*.csv"))
    if len(parts) != 1:
        raise RuntimeError(f"{folder}: Spark wrote {len(parts)} parts where one was asked for")
    target.parent.mkdir(parents=True, exist_ok=True)
    parts[0].replace(target)


def _stamp(stamp) -> list[Column]:
    return [F.lit(value).alias(name) for name, value in stamp]


def _as_text(frame: DataFrame, keep: tuple[str, ...] = ()) -> DataFrame:
    """Numbers in their shortest exact form (58138, not 58138.0), and text a spreadsheet would
    run as a formula neutralised (csvcells), as the local writer puts them; `keep` are columns
    that only name the partitions."""
    return frame.select(*(_cell(field, keep).alias(field.name) for field in frame.schema.fields))


def _cell(field, keep: tuple[str, ...]) -> Column:
    value = F.col(f"`{field.name}`")
    kind = field.dataType.typeName()
    if kind in ("double", "float"):
        return _number_text(value, EXPORT_DIGITS if present([field.name]) else 4)
    if kind == "string" and field.name not in keep:
        return _neutralised(value)
    return value


def _neutralised(value: Column) -> Column:
    risky = F.substring(value, 1, 1).isin(*FORMULA_STARTS)
    return F.when(risky, F.concat(F.lit(QUOTE), value)).otherwise(value)


def _number_text(value: Column, digits: int = 4) -> Column:
    fixed = F.format_string(f"%.{digits}f", value)
    return F.when(value.isNull(), F.lit(None)).otherwise(F.regexp_replace(fixed, r"\.?0+$", ""))


def _unescape(name: str) -> str:
    """Spark escapes some characters of a partition value in its folder name (%20 and so on)."""
    return unquote(name)
