"""Read where the data is, for `engine: spark`: Parquet or CSV files (a file, the newest file of
a glob, a folder with hive partitions, or a cluster filesystem such as s3a:// or hdfs://), or a
table of the Spark catalogue.

The checks are the local engine's own (`load.typed_customers`), run on every batch of rows where
the rows are: the same required columns, types, plausibility and messages; a batch names its
rows by customer ID, as a row number means nothing in a table spread over a cluster. What comes
back to the driver is one line per problem and a few counts, never the customers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reporter.data.load import (
    IdRows,
    Origin,
    RawCustomers,
    find_latest,
    match_columns,
    missing_columns_problem,
    typed_customers,
)
from reporter.data.schema import CAMPAIGN_COLUMNS, COLUMNS, DATE_COLUMN, INTEGER_COLUMNS, TEXT_COLUMNS
from reporter.errors import DataError
from reporter.spark.session import materialised

HEAD_ROWS = 10_000  # read on the driver first: the date layout, and the first problems at once
PROBLEM = "_problem"  # the column a batch's problems travel in
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class SparkSourceParams:
    """A path or URI (file, glob, folder) or a Spark table; the export's names -> the source's."""

    location: str = ""
    table: str = ""
    date_format: str | None = None
    columns: tuple[tuple[str, str], ...] = ()
    as_of_column: str = ""


@dataclass(frozen=True)
class SparkCustomers:
    """The customer table typed and checked in Spark (computed once: it is read again by every
    later stage), and what the run record says about it."""

    frame: DataFrame
    origin: Origin
    sha256: str  # of the rows in any order (Spark's row hashes summed), not of the files
    modified: datetime
    rows_read: int
    extra_columns: tuple[str, ...]
    renamed_columns: tuple[tuple[str, str], ...]
    date_format: str
    newest: datetime | None = None  # the newest join date, counted with the rows

    def on_driver(self, frame: pd.DataFrame) -> RawCustomers:
        """Rows brought to the driver (the fitting sample) under this source's name."""
        return RawCustomers(frame=frame, origin=self.origin, sha256=self.sha256, modified=self.modified,
                            rows_read=self.rows_read, extra_columns=self.extra_columns,
                            renamed_columns=self.renamed_columns, date_format=self.date_format)


def read_spark_customers(spark: SparkSession, source: SparkSourceParams) -> SparkCustomers:
    """The customers where source says they are, typed and checked by the local engine's
    rules; every problem of every batch is collected and reported together."""
    frame, origin, modified = _read(spark, source)
    frame, origin = _selected(frame, source, origin)
    renamed, missing = match_columns(frame.columns)
    if missing:
        raise DataError.collected(origin, [missing_columns_problem(missing)], "fix the export and run again")
    frame = frame.select(*(F.col(f"`{c}`").alias(dict(renamed).get(c, c)) for c in frame.columns))
    known = [c for c in (*COLUMNS, *CAMPAIGN_COLUMNS) if c in frame.columns]
    extra = tuple(c for c in frame.columns if c not in known)
    first = _spark_call(lambda: frame.select(*known).limit(HEAD_ROWS).toPandas(), origin)
    head = typed_customers(first, origin, "", modified, source.date_format, [],
                           rows=IdRows(ids=tuple(str(i) for i in first["ID"])))  # problems at once
    date_format = _layout(head.date_format, source.date_format)
    typed = _spark_call(lambda: materialised(_typed(frame.select(*known), known, date_format, modified)),
                        origin)
    counted = typed.agg(F.count(F.lit(1)).alias("rows"), F.count(PROBLEM).alias("problems"),
                        _content_hash(known).alias("hash"), F.max(DATE_COLUMN).alias("newest")).first()
    problems = _problems(typed) if counted["problems"] else []
    problems += _conflicting_ids(typed) if not problems else []
    if problems:
        raise DataError.collected(origin, problems, "fix the export and run again")
    if not counted["rows"]:
        raise DataError(f"{origin}: has a header but no customer rows; check the export")
    content = hashlib.sha256(f"{counted['rows']}:{counted['hash']}".encode()).hexdigest()
    return SparkCustomers(typed.drop(PROBLEM), origin, content, modified, int(counted["rows"]), extra,
                          renamed, head.date_format, counted["newest"])


def _read(spark: SparkSession, source: SparkSourceParams) -> tuple[DataFrame, Origin, datetime]:
    if source.table:
        origin = Origin(f"spark table {source.table}", f"table {source.table}",
                        f"spark table {source.table}", kind="spark table")
        return _spark_call(lambda: spark.table(source.table), origin), origin, datetime.now()
    location = source.location
    if "://" in location and not location.startswith("file://"):  # a cluster filesystem
        origin = Origin(location, location.rstrip("/").rsplit("/", 1)[-1], location, kind="folder")
        kind = "csv" if location.lower().endswith((".csv", ".csv.gz")) else "parquet"  # a lake: Parquet
        frame = _spark_call(lambda: _files(spark, location, kind), origin)
        return frame, origin, datetime.now()
    path = Path(location.removeprefix("file://"))
    if path.is_dir():
        origin = Origin(str(path.resolve()), path.name + "/", str(path.resolve()), kind="folder")
        kind = "parquet" if any(path.rglob("*.parquet")) else "csv"
        return _spark_call(lambda: _files(spark, str(path), kind), origin), origin, _newest(path)
    file = find_latest(path)
    origin = Origin.of_file(file)
    modified = datetime.fromtimestamp(file.stat().st_mtime)
    return _spark_call(lambda: _files(spark, str(file), _format_of(str(file))), origin), origin, modified


def _files(spark: SparkSession, where: str, kind: str) -> DataFrame:
    if kind == "parquet":
        return spark.read.parquet(where)
    return spark.read.csv(where, header=True, inferSchema=False, encoding="utf-8",
                          sep=_separator(where), ignoreLeadingWhiteSpace=True,
                          ignoreTrailingWhiteSpace=True)


def _format_of(where: str) -> str:
    return "parquet" if where.rstrip("/").lower().endswith((".parquet", ".pq")) else "csv"


def _separator(where: str) -> str:
    """The local engine's choice of comma, tab or semicolon, from the first line of a local file."""
    path = Path(where)
    if not path.is_file():
        return ","
    with path.open(encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return max(",\t;", key=header.count)


def _newest(folder: Path) -> datetime:
    times = [p.stat().st_mtime for p in folder.rglob("*") if p.is_file()]
    return datetime.fromtimestamp(max(times)) if times else datetime.now()


def _spark_call(read, origin: Origin):
    """Spark's own errors (no such path, not Parquet, a corrupt file) in one line that says
    what to check; an error in reporter's own code on a worker stays a bug."""
    from pyspark.errors import PySparkException, PythonException

    try:
        return read()
    except PythonException:
        raise
    except PySparkException as exc:
        reason = getattr(exc, "getCondition", lambda: None)() or type(exc).__name__
        raise DataError(f"{origin}: Spark could not read it ({reason}); check source.path "
                        "(or source.table) and that every file is Parquet or CSV") from None


def _selected(frame: DataFrame, source: SparkSourceParams, origin: Origin) -> tuple[DataFrame, Origin]:
    """source.columns renamed to the export's names; with source.as_of_column, only the rows
    of its newest value (the origin then names that snapshot)."""
    present = set(frame.columns)
    for export, own in source.columns:
        if own not in present:
            raise DataError(f"{origin}: source.columns maps {export} to {own}, which it does not "
                            f"have; its columns are {', '.join(sorted(present))}")
    renames = {own: export for export, own in source.columns}
    frame = frame.select(*(F.col(f"`{c}`").alias(renames.get(c, c)) for c in frame.columns))
    if not source.as_of_column:
        return frame, origin
    if source.as_of_column not in frame.columns:
        raise DataError(f"{origin}: source.as_of_column {source.as_of_column} is not a column; "
                        f"its columns are {', '.join(sorted(frame.columns))}")
    newest = _spark_call(lambda: frame.agg(F.max(source.as_of_column)).first()[0], origin)
    chosen = frame.where(F.col(source.as_of_column) == F.lit(newest)).drop(source.as_of_column)
    return chosen, replace(origin, snapshot=str(newest))


def _layout(found: str, configured: str | None) -> str | None:
    """The date layout every batch uses: the one found in the first rows, so a batch whose
    dates all fit two layouts reads them as the rest of the table does."""
    if configured or not found.startswith("%"):
        return configured
    return found


SCHEMA = T.StructType([
    *(T.StructField(c, T.LongType()) for c in (*INTEGER_COLUMNS, *CAMPAIGN_COLUMNS)),
    T.StructField("Income", T.DoubleType()),
    *(T.StructField(c, T.StringType()) for c in TEXT_COLUMNS),
    T.StructField(DATE_COLUMN, T.TimestampNTZType()),
    T.StructField(PROBLEM, T.StringType()),
])


def _typed(frame: DataFrame, known: list[str], date_format: str | None, modified: datetime) -> DataFrame:
    """Every batch through the local engine's checks and types; a batch with problems sends
    them instead of rows."""
    schema = T.StructType([f for f in SCHEMA.fields if f.name in known or f.name == PROBLEM])
    def batches(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for part in parts:
            if part.empty:
                continue
            yield _typed_batch(part.reset_index(drop=True), date_format, modified, schema)

    return frame.mapInPandas(batches, schema)


def _typed_batch(part: pd.DataFrame, date_format: str | None, modified: datetime,
                 schema: T.StructType) -> pd.DataFrame:
    origin = Origin("", "", "")
    ids = tuple(str(i) for i in part["ID"])
    try:
        typed = typed_customers(part, origin, "", modified, date_format, [], rows=IdRows(ids=ids)).frame
    except DataError as exc:
        problems = [p.here() for p in exc.found]
        return pd.DataFrame({PROBLEM: problems}).reindex(columns=schema.fieldNames())
    return typed.assign(**{PROBLEM: None})[schema.fieldNames()]


def _content_hash(known: list[str]):
    """The same rows give the same hash in any order and on any number of machines."""
    return F.sum(F.xxhash64(*known).cast("decimal(38,0)")).cast("string")


def _problems(typed: DataFrame) -> list[str]:
    found = typed.where(F.col(PROBLEM).isNotNull()).select(PROBLEM).limit(MAX_PROBLEMS).collect()
    return list(dict.fromkeys(row[PROBLEM] for row in found))


def _conflicting_ids(typed: DataFrame) -> list[str]:
    """Rows sharing an ID with different values, as the local check words it."""
    distinct = typed.drop(PROBLEM).distinct()
    shared = distinct.groupBy("ID").count().where(F.col("count") > 1)
    rows = shared.agg(F.sum("count").alias("rows"), F.slice(F.sort_array(F.collect_list("ID")), 1, 6)
                      .alias("ids")).first()
    if not rows["rows"]:
        return []
    return [f"column ID: {int(rows['rows'])} rows share an ID with different values "
            f"(IDs {', '.join(str(i) for i in rows['ids'])}); keep one row per customer"]
