"""Sources: this week's customers from wherever they live.

A file or glob is read by `load` (the newest file). A folder of Parquet or CSV files (hive
partitions allowed) is read through DuckDB, and a database table or query through its own
driver: one SELECT renames the source's columns to the export's (source.columns, else names
that differ only by case or underscores), keeps only the newest snapshot (source.as_of_column)
and streams the rows into Arrow in chunks. Every source then goes through load's checks and
types, so a database gives the same customers, and the same messages, as its CSV export.
"""

from __future__ import annotations

import hashlib
import io
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from reporter.data import folders
from reporter.data.load import (
    BEYOND_LOCAL,
    MAX_ROWS,
    RESULT_ROWS,
    Origin,
    RawCustomers,
    column_key,
    find_latest,
    load,
    typed_customers,
)
from reporter.data.params import SourceParams
from reporter.data.schema import CAMPAIGN_COLUMNS, COLUMNS, DATE_COLUMN, INTEGER_COLUMNS
from reporter.database import (
    Address,
    DatabaseFault,
    connect,
    interrupt_after,
    parse_address,
    quote,
    read_only_select,
)
from reporter.errors import DataError, ReporterError

CHUNK_ROWS = 100_000
SNAPSHOT = "source_as_of"  # the as_of_column, read under this name beside the export's columns
NUMBER_COLUMNS = (*INTEGER_COLUMNS, "Income", *CAMPAIGN_COLUMNS)
POSTGRES_TYPES = {  # type OIDs PostgreSQL reports, as Arrow reads them from COPY's CSV
    16: pa.bool_(), 20: pa.int64(), 21: pa.int64(), 23: pa.int64(), 700: pa.float64(),
    701: pa.float64(), 1700: pa.float64(), 1082: pa.date32(), 1114: pa.timestamp("us"),
}


def read_customers(source: SourceParams) -> RawCustomers:
    """The customers where source says they are, typed and checked."""
    if source.url:
        return _from_database(source)
    if source.path is not None and source.path.is_dir():
        return _from_folder(source)
    return load(find_latest(source.path), source.date_format)


def database_origin(url: str, table: str, query: str, base_dir: Path | None) -> Origin:
    """How a database source is named before it is read; a query that is not one read-only
    SELECT is refused here, before any connection."""
    return _database(url, table, query, base_dir)[0]


def _database(url: str, table: str, query: str,
              base_dir: Path | None) -> tuple[Origin, Address, str]:
    """The source's name, its address and what to select from (the table, or the checked
    query as a sub-select), each worked out once."""
    try:
        address = parse_address(url, base_dir)
        query = read_only_select(query) if query else ""
    except ReporterError as exc:
        raise DataError(str(exc)) from None
    query_sha256 = hashlib.sha256(query.encode()).hexdigest() if query else ""
    label = f"table {table}" if table else f"query {query_sha256[:8]}"
    origin = Origin(address.shown, label, f"{address.shown} {label}", kind="database",
                    query_sha256=query_sha256)
    # the newline ends a query's final -- comment before the bracket closes it
    return origin, address, quote(table) if table else f"({query}\n)"


def _from_database(source: SourceParams) -> RawCustomers:
    origin, address, base = _database(source.url, source.table, source.query, source.base_dir)
    try:
        with connect(address, source.password, source.timeout_seconds, read_only=True,
                     password_env=source.password_env) as connection:
            table = _read(connection, address, base, source, origin)
    except DatabaseFault as exc:
        raise DataError(str(exc)) from None
    return _customers(table, origin, source, read_at=datetime.now())


def _read(connection, address: Address, base: str, source: SourceParams, origin: Origin) -> pa.Table:
    names = _column_names(connection, f"SELECT * FROM {base} AS probe LIMIT 0")
    sql = _selection(names, base, source, origin)
    if address.dialect == "postgresql":
        return _postgresql_rows(connection, sql)
    if address.dialect == "duckdb":
        return connection.sql(sql).to_arrow_reader(CHUNK_ROWS).read_all()
    return _sqlite_rows(connection, sql)


def _from_folder(source: SourceParams) -> RawCustomers:
    """Every Parquet (or else CSV) file under a folder as one table, through DuckDB in memory;
    folder names like snapshot=2024-06-30 become columns (hive partitions)."""
    folder = source.path.resolve()
    origin = Origin(str(folder), folder.name + "/", str(folder), kind="folder")
    files = sorted(folder.rglob("*.parquet")) or sorted(folder.rglob("*.csv"))
    if not files:
        raise DataError(f"{folder}: no .parquet or .csv files in this folder; put the export there "
                        "or point source.path at a file")
    pattern = str(folder / "**" / f"*{files[0].suffix}").replace("'", "''")
    reader = (f"read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"
              if files[0].suffix == ".parquet" else
              f"read_csv('{pattern}', all_varchar = true, header = true, hive_partitioning = true, "
              "union_by_name = true)")
    table = _read_folder(folder, files, reader, source, origin)
    newest_file = datetime.fromtimestamp(max(f.stat().st_mtime for f in files))
    try:
        return _customers(table, origin, source, read_at=newest_file)
    except DataError as problems:  # a file DuckDB read wrong (a CSV's uneven lines as one column)
        raise folders.culprit(folder, files, source, differing=False) or problems from None


def _read_folder(folder: Path, files: list[Path], reader: str, source: SourceParams,
                 origin: Origin) -> pa.Table:
    """The files as one table; when DuckDB cannot read them, the file that breaks it is named
    (DuckDB's error names neither the file nor what to do)."""
    import duckdb

    connection = duckdb.connect()
    timer = interrupt_after(connection, source.timeout_seconds)
    try:
        return _read(connection, Address("duckdb", str(folder)), reader, source, origin)
    except duckdb.InterruptException:
        raise DataError(f"{folder}: reading the files took longer than {source.timeout_seconds} s "
                        "and was stopped; raise source.timeout_seconds or read fewer files") from None
    except duckdb.Error:
        raise folders.culprit(folder, files, source) or DataError(
            f"{folder}: the files could not be read together, though each reads alone; check that "
            "every file is a complete export with the same columns") from None
    finally:
        timer.cancel()
        connection.close()


def _column_names(connection, probe: str) -> list[str]:
    return [column[0] for column in connection.execute(probe).description]


def _selection(names: list[str], base: str, source: SourceParams, origin: Origin) -> str:
    """The SELECT that reads the export's columns under the export's names, and only the
    newest snapshot's rows, one more than MAX_ROWS at most (so too many can be refused without
    reading them all); a column that cannot be found is named before anything is read."""
    mapping = dict(source.columns)
    by_key = {column_key(name): name for name in names}
    unknown = [f"{name} (for {export})" for export, name in mapping.items() if name not in names]
    if source.as_of_column and source.as_of_column not in names:
        unknown.append(f"{source.as_of_column} (source.as_of_column)")
    missing = [c for c in COLUMNS if c not in mapping and column_key(c) not in by_key]
    if unknown or missing:
        problem = (f"no column {', '.join(unknown)}" if unknown else
                   f"no column for {', '.join(missing)}; map each in source.columns (for example "
                   f"{missing[0]}: your_column)")
        raise DataError(f"{origin}: {problem}; its columns are "
                        f"{', '.join(names[:30])}{' …' if len(names) > 30 else ''}")
    picks = [f"{quote(mapping.get(c) or by_key[column_key(c)])} AS {quote(c)}"
             for c in (*COLUMNS, *CAMPAIGN_COLUMNS) if c in mapping or column_key(c) in by_key]
    newest = ""
    if source.as_of_column:
        column = quote(source.as_of_column)
        picks.append(f"{column} AS {SNAPSHOT}")
        newest = f" WHERE {column} = (SELECT MAX({column}) FROM {base} AS newest)"
    return f"SELECT {', '.join(picks)} FROM {base} AS customers{newest} LIMIT {MAX_ROWS + 1}"


def _postgresql_rows(connection, sql: str) -> pa.Table:
    """COPY's CSV stream parsed by Arrow as it arrives, typed as PostgreSQL typed the columns:
    several times faster than fetching rows as Python objects, and never a second copy."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({sql}) AS typed LIMIT 0")
        names = [column.name for column in cursor.description]
        types = {c.name: POSTGRES_TYPES.get(c.type_code, pa.string()) for c in cursor.description}
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
            stream = io.BufferedReader(_CopyStream(copy), 1 << 20)
            return pacsv.open_csv(
                stream, read_options=pacsv.ReadOptions(column_names=names, block_size=16 << 20),
                convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                     true_values=["t"], false_values=["f"]),
            ).read_all()


class _CopyStream(io.RawIOBase):
    """COPY's chunks of bytes as a file Arrow's CSV reader can read from."""

    def __init__(self, copy):
        self._chunks = iter(copy)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(bytes(chunk))
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _sqlite_rows(connection, sql: str) -> pa.Table:
    """SQLite's rows, a chunk at a time, each column as an Arrow array (a column of mixed
    values is read as text, so load names the values that are not numbers)."""
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    arrays: dict[str, list[pa.Array]] = {name: [] for name in names}
    while rows := cursor.fetchmany(CHUNK_ROWS):
        for name, values in zip(names, zip(*rows, strict=True), strict=True):
            arrays[name].append(_array(values))
    return pa.table({name: _joined(chunks) for name, chunks in arrays.items()})


def _array(values) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None or v != v else str(v) for v in values], pa.string())


def _joined(chunks: list[pa.Array]) -> pa.ChunkedArray:
    types = {chunk.type for chunk in chunks if chunk.type != pa.null()}
    if len(types) > 1:
        numeric = all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in types)
        common = pa.float64() if numeric else pa.string()
        chunks = [chunk.cast(common) for chunk in chunks]
    return pa.chunked_array(chunks) if chunks else pa.chunked_array([], pa.string())


def _customers(table: pa.Table, origin: Origin, source: SourceParams, read_at: datetime) -> RawCustomers:
    """The rows read, typed and checked like a file's, with what was read on the record."""
    if table.num_rows == 0:
        raise DataError(f"{origin}: returned no customers; check the table, the query's filter "
                        "and source.as_of_column")
    if table.num_rows > MAX_ROWS:
        raise DataError(f"{origin}: returned more than {MAX_ROWS:,} rows, over {BEYOND_LOCAL}")
    problems = _mistyped(table.schema, source)
    if problems:
        raise DataError.collected(origin, problems, "fix source.columns or the table and run again")
    snapshot, modified = "", read_at
    if SNAPSHOT in table.column_names:
        value = table.column(SNAPSHOT)[0].as_py()
        snapshot = value.isoformat() if hasattr(value, "isoformat") else str(value)
        modified = _moment(value, read_at)
        table = table.drop_columns([SNAPSHOT])
    table = table.cast(pa.schema([pa.field(f.name, pa.float64()) if pa.types.is_decimal(f.type) else f
                                  for f in table.schema]))
    # each column's Arrow buffers are freed as it is converted: never two full copies at once
    frame = table.to_pandas(date_as_object=False, self_destruct=True, split_blocks=True)
    del table
    fingerprint = hashlib.sha256(",".join(frame.columns).encode())
    fingerprint.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    origin = Origin(origin.where, origin.label, origin.home, origin.kind, None, origin.query_sha256,
                    snapshot)
    return typed_customers(frame, origin, fingerprint.hexdigest(), modified, source.date_format, [],
                           rows=RESULT_ROWS)


def _mistyped(schema: pa.Schema, source: SourceParams) -> list[str]:
    """A column the database typed as something its export column can never be."""
    mapping = dict(source.columns)
    problems = []
    for field in schema:
        kind = field.type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind)
        if field.name in NUMBER_COLUMNS:
            fits = text or pa.types.is_integer(kind) or pa.types.is_floating(kind) \
                or pa.types.is_decimal(kind)
            wanted = "number"
        elif field.name == DATE_COLUMN:
            fits = text or pa.types.is_date(kind) or pa.types.is_timestamp(kind)
            wanted = "date"
        else:
            continue
        if not fits:
            name = mapping.get(field.name, field.name)
            problems.append(f"column {name} (read as {field.name}) holds {_kind(kind)} values, not "
                            f"{wanted}s; map {field.name} to a {wanted} column in source.columns")
    return problems


def _kind(kind: pa.DataType) -> str:
    if pa.types.is_boolean(kind):
        return "true/false"
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return "date"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    return "binary" if pa.types.is_binary(kind) else str(kind)


def _moment(value, fallback: datetime) -> datetime:
    """A snapshot value as the moment the data describes (its date at midnight)."""
    try:
        moment = pd.Timestamp(value)
    except (ValueError, TypeError):
        return fallback
    if pd.isna(moment):
        return fallback
    return moment.tz_localize(None).to_pydatetime() if moment.tzinfo else moment.to_pydatetime()

