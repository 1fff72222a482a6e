"""Load: find the newest customer file, read it, check its schema and types.

Every problem found is collected and reported together, each with the file, the column and the
line, so a user fixes a file once instead of once per run.
"""

from __future__ import annotations

import codecs
import csv
import functools
import glob
import gzip
import hashlib
import io
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reporter.data import csvlines
from reporter.data.schema import (
    CAMPAIGN_COLUMNS,
    COLUMNS,
    DATE_COLUMN,
    INTEGER_COLUMNS,
    NEWCOMER_ZEROS,
    TEXT_COLUMNS,
    WHOLE_RANGES,
    YES_NO_COLUMNS,
)
from reporter.errors import DataError

# Date layouts seen in SmartCart exports; a user can name another with source.date_format.
DATE_FORMATS = {
    "%d-%m-%Y": "dd-mm-YYYY",
    "%Y-%m-%d": "YYYY-mm-dd",
    "%m/%d/%Y": "m/d/YYYY",
    "%d/%m/%Y": "d/m/YYYY",
}
DATE_SHAPES = {  # what a date of each layout looks like, whether or not the day exists
    "%d-%m-%Y": r"\d{1,2}-\d{1,2}-\d{4}",
    "%Y-%m-%d": r"\d{4}-\d{1,2}-\d{1,2}",
    "%m/%d/%Y": r"\d{1,2}/\d{1,2}/\d{4}",
    "%d/%m/%Y": r"\d{1,2}/\d{1,2}/\d{4}",
}
OFF_LAYOUT = (3, 0.01)  # a layout that reads all distinct dates but this many, or this share, is the export's
SEPARATORS = ",\t;"
GZIP_MAGIC = b"\x1f\x8b"
MAX_PLAUSIBLE = 100_000_000  # no amount, count, year or income in a customer export comes near this
MAX_TEXT_CHARS = 200  # an Education or Marital_Status value is a category, never a paragraph
MAX_SHOWN_CHARS = 40  # of a value quoted in a message
# The local engine's bounds, checked before a file is parsed: about 21 million customers as a
# CSV (10 million measured at 0.95 GB and 12.7 GB of memory); beyond, engine: spark.
MAX_FILE_BYTES = 2 << 30  # a CSV file, or what a gzip-compressed one holds
MAX_ROWS = 20_000_000  # a Parquet file or what a database or a folder returns
BEYOND_LOCAL = ("the local engine's limit; read a newer snapshot only or use engine: spark "
                "(docs/operations/spark.md)")
EARLIEST_JOIN = pd.Timestamp(1900, 1, 1)
HEADER_LINES = 1


@dataclass(frozen=True)
class RowNames:
    """How a message points at a row: 'line 12' of a file (counting its header), 'row 11' of
    what a database returned."""

    word: str = "line"
    first: int = HEADER_LINES + 1

    def __call__(self, index: int) -> str:
        return f"{self.word} {int(index) + self.first}"

    def many(self, indexes) -> str:
        return f"{self.word}s " + ", ".join(str(int(i) + self.first) for i in indexes)


FILE_ROWS = RowNames()
RESULT_ROWS = RowNames("row", 1)


@dataclass(frozen=True)
class IdRows(RowNames):
    """Rows named by their customer ID, where a row has no number a user could find (one
    batch of a table spread over a cluster)."""

    ids: tuple[str, ...] = ()

    def __call__(self, index: int) -> str:
        return f"ID {self.ids[int(index)]}"

    def many(self, indexes) -> str:
        return "IDs " + ", ".join(self.ids[int(i)] for i in indexes)


@dataclass(frozen=True)
class Origin:
    """Where a customer table was read from, as messages, the brief and the run record name it."""

    where: str  # a file's path, or a database URL without its password
    label: str  # short, for the brief: the file name, or 'table customers' / 'query 1a2b3c4d'
    home: str  # the source's default key: the file's folder, or the database and table
    kind: str = "file"  # file, folder (a dataset read through DuckDB) or database
    file: Path | None = None  # the file itself, when it is one file (a replay re-reads it)
    query_sha256: str = ""  # a database query's hash: the record says what was asked
    snapshot: str = ""  # the newest value of source.as_of_column that was read

    @classmethod
    def of_file(cls, path: Path) -> Origin:
        return cls(str(path.resolve()), path.name, str(path.resolve().parent), file=path)

    def __str__(self) -> str:
        return self.where if self.kind == "file" else f"{self.where} {self.label}"


@dataclass(frozen=True)
class RawCustomers:
    """The customer table as read, with typed columns, and where it came from."""

    frame: pd.DataFrame
    origin: Origin
    sha256: str
    modified: datetime  # the file's time, or the snapshot read (the time of reading without one)
    rows_read: int
    extra_columns: tuple[str, ...]
    renamed_columns: tuple[tuple[str, str], ...]
    date_format: str
    repairs: tuple[tuple[int, str], ...] = ()  # (count, sentence) for the brief's data notes
    rows: RowNames = FILE_ROWS


def find_latest(pattern: str | Path) -> Path:
    """The file itself, or with a glob the newest match by modification time."""
    text = str(pattern)
    if not glob.has_magic(text):
        path = Path(text)
        if not path.is_file():
            raise DataError(
                f"{path}: data file not found; check source.path in the config or pass --data"
            )
        return path
    matches = [Path(p) for p in glob.glob(text) if Path(p).is_file()]
    if not matches:
        raise DataError(
            f"{text}: no file matches source.path; put this week's export there or run "
            "`reporter sample --out` to make sample data"
        )
    return max(matches, key=lambda p: (p.stat().st_mtime_ns, p.name))


def load(path: Path, date_format: str | None = None, newcomers: bool = False) -> RawCustomers:
    """Read one customer file (CSV, gzip-compressed CSV or Parquet) into typed columns. A file
    that cannot be read as a table stops at once; every other problem (missing or repeated
    columns, values, dates, conflicting IDs) is collected and reported together. `newcomers`:
    new customers to score, who may lack the NEWCOMER_ZEROS columns (read as 0)."""
    repairs: list[tuple[int, str]] = []
    frame, separator = _read_table(path, repairs)
    modified = datetime.fromtimestamp(path.stat().st_mtime)
    return typed_customers(frame, Origin.of_file(path), _sha256(path), modified, date_format,
                           repairs, decimal_comma=separator == ";", newcomers=newcomers)


def typed_customers(frame: pd.DataFrame, origin: Origin, sha256: str, modified: datetime,
                    date_format: str | None, repairs: list[tuple[int, str]],
                    decimal_comma: bool = False, rows: RowNames = FILE_ROWS,
                    newcomers: bool = False) -> RawCustomers:
    """The checks and types every source shares, whatever read the table: columns are matched
    by name, text is parsed (columns a database typed are used as they are), and every problem
    is collected and reported together. With `newcomers`, a missing NEWCOMER_ZEROS column is
    read as 0 for every customer (and said so in the repairs)."""
    problems = _repeated_columns(frame)
    optional = NEWCOMER_ZEROS if newcomers else ()
    frame, renamed, missing = _match_required_columns(frame, optional)
    if missing:
        problems.append(missing_columns_problem(missing))
    known = (*COLUMNS, *(c for c in CAMPAIGN_COLUMNS if c in frame.columns or newcomers))
    extra = tuple(c for c in frame.columns if c not in known)
    frame = frame[[c for c in known if c in frame.columns]]
    if rows is FILE_ROWS:
        frame = _drop_trailing_summary(frame, repairs)
    if frame.empty:
        raise DataError(f"{origin}: has a header but no customer rows; check the export")
    typed, fmt = _typed(frame, date_format, decimal_comma, repairs, problems, modified, rows)
    _zeros_for_newcomers(typed, optional, repairs)
    problems += _conflicting_ids(typed, rows)
    if problems:
        raise DataError.collected(origin, problems, "fix the export and run again")
    return RawCustomers(
        frame=_in_id_order(typed[[c for c in known if c in typed]]),
        origin=origin,
        sha256=sha256,
        modified=modified,
        rows_read=len(typed),
        extra_columns=extra,
        renamed_columns=renamed,
        date_format=fmt,
        repairs=tuple(repairs),
        rows=rows,
    )


def _zeros_for_newcomers(typed: pd.DataFrame, optional: tuple[str, ...],
                         repairs: list[tuple[int, str]]) -> None:
    """A new customer has answered no campaign and complained of nothing yet: the columns a
    batch of them leaves out are 0 (said once in the repairs)."""
    absent = [c for c in optional if c not in typed]
    for column in absent:
        typed[column] = np.zeros(len(typed), dtype="int64")
    if absent:
        repairs.append((0, f"Not in the batch, read as 0 for every customer: {', '.join(absent)}."))


def _in_id_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Customers in ID order, whatever order the export or the database returned them in: the
    same customers give the same segments (a database's row order is not even stable)."""
    if frame["ID"].is_monotonic_increasing:
        return frame.reset_index(drop=True)
    order = np.argsort(frame["ID"].to_numpy(), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


def read_cells(path: Path) -> pd.DataFrame:
    """One file's table as read before any check of its columns or values (a folder source's
    file read alone, to name the one that breaks the folder)."""
    return _read_table(path, [])[0]


def _read_table(path: Path, repairs: list[tuple[int, str]]) -> tuple[pd.DataFrame, str]:
    if path.suffix.lower() in {".parquet", ".pq"}:
        return _read_parquet(path), ","  # typed columns are used as typed, text is checked as a CSV's
    head, compression = _head(path)
    encoding = _encoding(head, path)
    separator = _separator(head.decode(encoding, errors="replace"))
    text = _bounded_text(path, compression)
    try:
        return _read_csv(path, text, separator, encoding), separator
    except UnicodeDecodeError:
        if encoding != "utf-8":
            raise _undecodable(path, text, encoding, "re-export it as UTF-8") from None
    try:
        frame = _read_csv(path, text, separator, "cp1252")
    except UnicodeDecodeError:  # bytes Windows-1252 does not define (Mac Roman's 0x9D, say)
        raise _undecodable(path, text, "cp1252", "save the file as UTF-8 and run again") from None
    repairs.append((0, f"{path.name} is not UTF-8; it was read as Windows-1252 (Latin-1)."))
    return frame, separator


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file within MAX_ROWS (its footer says how many, before any row is read)."""
    import pyarrow.parquet as pq

    try:
        rows = pq.ParquetFile(path).metadata.num_rows
        if rows > MAX_ROWS:
            raise DataError(f"{path}: holds {rows:,} rows, over {BEYOND_LOCAL} of {MAX_ROWS:,}")
        return pd.read_parquet(path)
    except DataError:
        raise
    except Exception:  # pyarrow raises many types for a broken file, in its own words
        raise DataError(f"{path}: not a readable Parquet file (cut short, or not Parquet at all); "
                        "export it again") from None


def _bounded_text(path: Path, compression: str | None) -> Path | bytes:
    """The file to parse, refused over MAX_FILE_BYTES before it is parsed: a plain file by its
    size, a gzip-compressed one by what it holds (decompressed here once, never beyond the
    bound, so a small file that expands to terabytes stops early)."""
    if compression is None:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DataError(f"{path}: is {size / 2**30:.1f} GiB, over {BEYOND_LOCAL} of "
                            f"{MAX_FILE_BYTES / 2**30:.0f} GiB")
        return path
    try:
        with gzip.open(path, "rb") as handle:
            text = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError, zlib.error):  # cut short, or bytes changed
        raise DataError(f"{path}: a damaged gzip file (cut short, or changed bytes); export it "
                        "again") from None
    if len(text) > MAX_FILE_BYTES:
        raise DataError(f"{path}: holds more than {MAX_FILE_BYTES / 2**30:.0f} GiB of text, over "
                        f"{BEYOND_LOCAL}")
    return text


def _read_csv(path: Path, text: Path | bytes, separator: str, encoding: str) -> pd.DataFrame:
    """Every value as text. pyarrow's multi-threaded reader first (a million rows in well under
    a second); a file it refuses goes through pandas' own parser, whose messages are clearer."""
    options = {"sep": separator, "encoding": encoding, "dtype": str, "keep_default_na": False}

    def source():
        return io.BytesIO(text) if isinstance(text, bytes) else text

    try:
        return pd.read_csv(source(), engine="pyarrow", **options)
    except Exception:  # pyarrow raises many types; pandas' parser below names the problem
        pass
    try:
        frame = pd.read_csv(source(), skipinitialspace=True, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: holds no header line, only blank lines; check the export") from None
    except pd.errors.ParserError as exc:
        raise _unsplittable(path, text, separator, encoding, str(exc)) from None
    ragged, _ = csvlines.scan(text, separator, encoding)  # pandas fills a short line in silently
    if ragged is not None:
        raise DataError(csvlines.message(path, ragged, separator))
    return frame


def _unsplittable(path: Path, text: Path | bytes, separator: str, encoding: str,
                  detail: str) -> DataError:
    """The line pandas' parser stopped at, found on the file (its own numbers count records,
    and an open quote's row from 0), in plain words: an unclosed quote, or a line whose
    fields are not the header's."""
    ragged, last_start = csvlines.scan(text, separator, encoding)
    if "EOF inside string" in detail and last_start and (ragged is None or ragged.line >= last_start):
        return DataError(csvlines.unclosed_quote(path, last_start))
    if ragged is not None:
        return DataError(csvlines.message(path, ragged, separator))
    return DataError(f"{path}: not a readable CSV table: its lines do not split into the header's "
                     "columns; export it again as CSV")


def _undecodable(path: Path, text: Path | bytes, encoding: str, todo: str) -> DataError:
    """The line and byte where the text stops being `encoding`, found on the file's bytes (the
    parser's position is within one of its blocks)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines, offset = 0, 0
    with (io.BytesIO(text) if isinstance(text, bytes) else text.open("rb")) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = max(0, min(exc.start, len(block) - 1))
                line = lines + block.count(b"\n", 0, start) + 1
                return DataError(f"{path}: line {line} (byte {offset + start + 1:,}) holds byte "
                                 f"0x{block[start]:02X}, which is {_ENCODING_NAMES[encoding]} text; "
                                 f"{todo}")
            lines += block.count(b"\n")
            offset += len(block)
    return DataError(f"{path}: is {_ENCODING_NAMES[encoding]} text; {todo}")


_ENCODING_NAMES = {"utf-8-sig": "not UTF-8", "utf-16": "not UTF-16",
                   "cp1252": "neither UTF-8 nor Windows-1252"}


def _head(path: Path) -> tuple[bytes, str | None]:
    """The first 64 kB as bytes (decompressed for gzip), and the compression to read with."""
    with path.open("rb") as handle:
        magic = handle.read(2)
    if not magic:
        raise DataError(f"{path}: the file is empty; check the export")
    compression = "gzip" if magic == GZIP_MAGIC else None
    opener = gzip.open if compression else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(64_000)
    except (OSError, EOFError, zlib.error):
        raise DataError(f"{path}: a damaged gzip file (cut short, or changed bytes); export it "
                        "again") from None
    return head, compression


def _encoding(head: bytes, path: Path) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head:
        raise DataError(f"{path}: holds binary data, not a text table; check that the right "
                        "file was exported (CSV or Parquet)")
    return "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"


def _separator(head: str) -> str:
    try:
        return csv.Sniffer().sniff(head, delimiters=SEPARATORS).delimiter
    except csv.Error:
        first_line = head.splitlines()[0] if head else ""
        return max(SEPARATORS, key=first_line.count)


def _repeated_columns(frame: pd.DataFrame) -> list[str]:
    """pandas renames a repeated header 'Income' to 'Income.1'; a repeat is never guessed at."""
    names = {column_key(c) for c in frame.columns}
    repeated = sorted({m.group(1) for c in frame.columns if (m := re.fullmatch(r"(.+)\.\d+", str(c)))
                       and column_key(m.group(1)) in names})
    if repeated:
        return [f"column {', '.join(repeated)} appears more than once in the header; keep one of "
                "each and export again"]
    return []


def _conflicting_ids(typed: pd.DataFrame, rows: RowNames) -> list[str]:
    """Rows that share an ID but differ elsewhere: which one is the customer cannot be guessed
    (rows identical in every column are a repair, made in clean)."""
    if "ID" not in typed or typed["ID"].isna().any() or typed["ID"].is_unique:
        return []  # unique IDs: no two rows share one
    distinct = typed[~typed.duplicated(keep="first")]
    conflicting = distinct["ID"].duplicated(keep=False)
    if not conflicting.any():
        return []
    return [f"column ID: {int(conflicting.sum())} rows share an ID with different values "
            f"({rows.many(distinct.index[conflicting][:6])}); keep one row per customer"]


def _drop_trailing_summary(frame: pd.DataFrame, repairs: list[tuple[int, str]]) -> pd.DataFrame:
    """Exports sometimes end with a 'Total' line: no customer ID and mostly empty."""
    if "ID" not in frame:  # named as a missing column; without IDs no line is a summary
        return frame
    trailing = 0
    for index in range(len(frame) - 1, -1, -1):
        row = frame.iloc[index]
        no_id = not str(row["ID"]).strip().isdigit()
        mostly_empty = (row.astype(str).str.strip() == "").mean() >= 0.5
        if not (no_id and mostly_empty):
            break
        trailing += 1
    if trailing:
        first = len(frame) - trailing
        repairs.append((trailing, f"{trailing} trailing summary line(s) without a customer ID "
                                  f"ignored (from {FILE_ROWS(first)})."))
        frame = frame.iloc[:first]
    return frame


def column_key(name: str) -> str:
    """'Year_Birth', 'year birth' and 'yearbirth' are the same column."""
    return re.sub(r"[\s_]+", "", str(name)).lower()


def _match_required_columns(
    frame: pd.DataFrame, optional: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, tuple[tuple[str, str], ...], list[str]]:
    renames, missing = match_columns(list(frame.columns), optional)
    return frame.rename(columns=dict(renames)), renames, missing


def match_columns(names: list[str], optional: tuple[str, ...] = ()
                  ) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """Accept columns that differ only by case, spaces or underscores; name what is missing
    (`optional` columns may be)."""
    wanted = {column_key(c): c for c in (*COLUMNS, *CAMPAIGN_COLUMNS)}
    renames: dict[str, str] = {}
    for column in names:
        target = wanted.get(column_key(column))
        if target and column != target and target not in names:
            renames[column] = target
    present = {renames.get(c, c) for c in names}
    return tuple(renames.items()), [c for c in COLUMNS if c not in present and c not in optional]


def missing_columns_problem(missing: list[str]) -> str:
    return (f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            "the export must have all 22 SmartCart columns (see docs/operations/sources-and-databases.md)")


def _typed(frame: pd.DataFrame, date_format: str | None, decimal_comma: bool,
           repairs: list[tuple[int, str]], problems: list[str],
           exported: datetime, rows: RowNames) -> tuple[pd.DataFrame, str]:
    """Each present column in its type; problems are added to `problems`, not raised."""
    if decimal_comma:
        frame = _decimal_commas(frame, repairs)
    whole = [c for c in (*INTEGER_COLUMNS, *CAMPAIGN_COLUMNS) if c in frame]
    columns = _clean_whole_numbers(frame, whole) or _plain_whole_numbers(frame, whole) or {
        column: _whole_numbers(frame[column], column, problems, rows) for column in whole}
    if "Income" in frame:
        columns["Income"] = _numbers(frame["Income"], "Income", problems, True, rows)
    for column in (c for c in TEXT_COLUMNS if c in frame):
        columns[column] = _text(frame[column])
        problems += _long_text(columns[column], column, rows)
    fmt = ""
    if DATE_COLUMN in frame:
        columns[DATE_COLUMN], fmt = _dates(frame[DATE_COLUMN], date_format, problems, rows)
    # built at once: inserting column by column cost more than the checks, on a few rows
    typed = pd.DataFrame(columns, index=frame.index)
    _check_plausible(typed, frame, problems, exported, rows)
    return typed, fmt


def _clean_whole_numbers(frame: pd.DataFrame, whole: list[str]) -> dict[str, np.ndarray] | None:
    """Columns a database (or the API) already typed, checked in one array when every value is
    a whole number from 0 to its column's ceiling; None when any is not, so the column-by-column
    checks name it."""
    if not whole or not all(_database_number(frame[c]) for c in whole):
        return None
    block = frame[whole].to_numpy(dtype="float64")
    ceilings = np.array([ceiling(c) for c in whole], dtype="float64")
    if np.isnan(block).any() or (block < 0).any() or (block > ceilings).any() \
            or (block != np.round(block)).any():
        return None
    return {column: block[:, index].astype("int64") for index, column in enumerate(whole)}


def _plain_whole_numbers(frame: pd.DataFrame, whole: list[str]) -> dict[str, np.ndarray] | None:
    """Text columns (a CSV's) whose every value is plain digits from 0 to its column's ceiling,
    cast by Arrow straight to int64 (the usual export: three times faster than stripping and
    parsing each value as a float); None when any value is not, so the column-by-column checks
    name it. The same numbers as those checks give: digits only, no sign, space or '0x'."""
    if not whole or not all(pd.api.types.is_string_dtype(frame[c]) for c in whole):
        return None
    columns = {}
    for column in whole:
        text = pa.chunked_array(pa.array(frame[column]))
        if text.null_count or not pc.all(pc.ascii_is_decimal(text)).as_py():
            return None
        try:
            numbers = pc.cast(text, pa.int64()).to_numpy()
        except pa.ArrowInvalid:  # beyond int64
            return None
        if (numbers > ceiling(column)).any():
            return None
        columns[column] = numbers
    return columns


def ceiling(column: str) -> int:
    """The largest value a whole-number column may hold: checked before the cast to int64, so
    an overflowing value is named instead of wrapping round to a negative one."""
    return WHOLE_RANGES[column][1] if column in WHOLE_RANGES else MAX_PLAUSIBLE


def _long_text(values: pd.Series, column: str, rows: RowNames) -> list[str]:
    """A text value longer than MAX_TEXT_CHARS: refused, so it is never copied into the record,
    the brief and every e-mail (a category is a word or two)."""
    if not len(values) or pc.max(pc.binary_length(pa.array(values))).as_py() <= MAX_TEXT_CHARS:
        return []  # in bytes, never fewer than characters: Arrow's offsets, no value touched
    lengths = values.str.len()
    long = lengths > MAX_TEXT_CHARS
    if not long.any():
        return []
    first = long.idxmax()
    return [f"column {column}: {int(long.sum())} value(s) longer than {MAX_TEXT_CHARS} characters, "
            f"first at {rows(first)} ({int(lengths[first]):,} characters: "
            f"{_shown(values[first])!r}); the export is corrupt there"]


def _shown(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """A value as a message quotes it: at most `limit` characters, so a message stays a line."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _text(values: pd.Series) -> pd.Series:
    """Text as the CSV path reads it: stripped, a database's NULL as empty."""
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        return values.fillna("").astype(str).str.strip()
    return values.astype(str).where(values.notna(), "").str.strip()


def _check_plausible(typed: pd.DataFrame, text: pd.DataFrame, problems: list[str],
                     exported: datetime, rows: RowNames) -> None:
    """Values no real export holds: corrupt amounts, join dates before 1900 or after the file
    was written (judged at the file's own date, so a re-run years later judges it alike)."""
    if "Income" in typed:  # whole numbers were checked before their cast (_whole_numbers)
        problems += _above_ceiling(typed["Income"], text["Income"], "Income", MAX_PLAUSIBLE, rows)
    if DATE_COLUMN not in typed:
        return
    dates = typed[DATE_COLUMN]
    for mask, what in ((dates > pd.Timestamp(exported) + pd.Timedelta(days=1),
                        "after the file was written"),
                       (dates < EARLIEST_JOIN, "before 1900")):
        if mask.any():
            first = mask.idxmax()
            problems.append(f"column {DATE_COLUMN}: {int(mask.sum())} join date(s) {what}, first "
                            f"at {rows(first)} ({text[DATE_COLUMN][first]}); check the "
                            "export's date format (source.date_format)")


def _decimal_commas(frame: pd.DataFrame, repairs: list[tuple[int, str]]) -> pd.DataFrame:
    """Semicolon-separated exports write 1234,5 for 1234.5."""
    numeric = [c for c in COLUMNS if c not in (*TEXT_COLUMNS, DATE_COLUMN) and c in frame]
    pattern = r"^\s*-?\d+,\d+\s*$"
    hits = {c: frame[c].str.match(pattern) for c in numeric}
    count = int(sum(h.sum() for h in hits.values()))
    if not count:
        return frame
    frame = frame.copy()
    for column, hit in hits.items():
        frame.loc[hit, column] = frame.loc[hit, column].str.replace(",", ".", regex=False)
    repairs.append((count, f"{count:,} numbers with a decimal comma read as decimals."))
    return frame


def _numbers(values: pd.Series, column: str, problems: list[str], allow_missing: bool,
             rows: RowNames) -> pd.Series:
    """Numbers from text, or as a database typed them; empty, non-numeric and negative values
    are problems, named with the first row that has one."""
    if _database_number(values):
        numbers = values.astype("float64")
        blank, shown = numbers.isna(), values
    else:
        shown = _text(values)
        numbers = _cast_numbers(shown)
        if numbers is None:  # some value is not a plain number: find and name it
            numbers = pd.to_numeric(shown, errors="coerce")
        blank = shown.eq("")
    # 'nan', 'inf' and 'Infinity' parse as numbers, and a database column may hold them
    bad = ~np.isfinite(numbers.to_numpy(dtype="float64")) & ~blank.to_numpy()
    if bad.any():
        first = numbers.index[bad.argmax()]
        problems.append(
            f"column {column}: {int(bad.sum())} non-numeric value(s), first at {rows(first)} "
            f"({_shown(shown[first], 30)!r}); use plain numbers without units or separators")
        numbers = numbers.where(~bad)  # named once: not again as too large or negative
    if not allow_missing and blank.any():
        first = blank.idxmax()
        problems.append(
            f"column {column}: {int(blank.sum())} empty value(s), first at {rows(first)}; "
            "fill them in or remove those rows"
        )
    negative = numbers < 0
    if negative.any():
        first = negative.idxmax()
        problems.append(
            f"column {column}: {int(negative.sum())} negative value(s), first at {rows(first)} "
            f"({_shown(shown[first])}); amounts and counts cannot be negative"
        )
    return numbers.astype("float64")


def _database_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _cast_numbers(text: pd.Series) -> pd.Series | None:
    """Arrow's cast when every value is a plain number or empty (the usual case, ~10x faster
    than to_numeric); None when some value is not, so the slow path can say which."""
    try:
        array = pa.chunked_array(pa.array(text, type=pa.string()))
        array = pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)
        return pd.Series(pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False),
                         index=text.index)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


def _whole_numbers(values: pd.Series, column: str, problems: list[str], rows: RowNames) -> pd.Series:
    """int64 when every value is a whole number within the column's ceiling (checked on the
    float64 values, before the cast could wrap one round); else the numbers, and the problems."""
    numbers = _numbers(values, column, problems, False, rows)
    fractional = numbers.notna() & (numbers != numbers.round())
    if fractional.any():
        first = fractional.idxmax()
        problems.append(
            f"column {column}: {int(fractional.sum())} value(s) that are not whole numbers, first "
            f"at {rows(first)} ({_shown(values[first])})"
        )
    too_large = _above_ceiling(numbers, values, column, ceiling(column), rows)
    problems += too_large
    if too_large or fractional.any() or numbers.isna().any():
        return numbers
    return numbers.astype("int64")


def _above_ceiling(numbers: pd.Series, shown: pd.Series, column: str, most: int,
                   rows: RowNames) -> list[str]:
    huge = numbers > most
    if not huge.any():
        return []
    first = huge.idxmax()
    if column in YES_NO_COLUMNS:
        return [f"column {column}: {int(huge.sum())} value(s) other than 0 and 1, first at {rows(first)} "
                f"({_shown(shown[first])}); {column} is 1 for yes and 0 for no"]
    return [f"column {column}: {int(huge.sum())} value(s) above {most:,}, first at {rows(first)} "
            f"({_shown(shown[first])}); the export is corrupt there"]


def _dates(values: pd.Series, date_format: str | None, problems: list[str],
           rows: RowNames) -> tuple[pd.Series, str]:
    """Join dates a database typed are used as they are; text goes through the same layout
    recognition as a CSV file."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return _database_dates(values, problems, rows), "dates as the source typed them"
    values = _text(values)
    present = values[values.ne("")]
    if len(present) < len(values):
        first = values.eq("").idxmax()
        problems.append(
            f"column {DATE_COLUMN}: {len(values) - len(present)} empty date(s), first at "
            f"{rows(first)}; every customer needs a join date"
        )
    codes, distinct = pd.factorize(values)  # a few thousand join dates among millions of rows
    distinct = pd.Series(distinct)
    if date_format:
        parsed = _dates_by_code(distinct, codes, date_format, values.index)
        bad = parsed.isna() & values.ne("")
        if bad.any():
            first = bad.idxmax()
            problems.append(
                f"column {DATE_COLUMN}: {int(bad.sum())} date(s) do not match source.date_format "
                f"'{date_format}', first at {rows(first)} ({_shown(values[first])!r})"
            )
        return parsed, date_format
    fitting = [f for f in DATE_FORMATS if _parses_all(distinct[distinct.ne("")], f)]
    if len(fitting) == 1:
        return _dates_by_code(distinct, codes, fitting[0], values.index), fitting[0]
    if len(fitting) > 1:
        names = " or ".join(DATE_FORMATS[f] for f in fitting)
        problems.append(
            f"column {DATE_COLUMN}: dates are ambiguous ({names}); set source.date_format in "
            "reporter.yaml, for example '%d/%m/%Y'"
        )
    else:
        problems.extend(_off_layout(distinct, values, rows) or [_unparseable(values, rows)])
    return pd.Series(pd.NaT, index=values.index), ""


def _off_layout(distinct: pd.Series, values: pd.Series, rows: RowNames) -> list[str]:
    """When exactly one layout reads nearly every date, the rest named for what they are:
    '31-02-2014' among dd-mm-YYYY dates is no day of the calendar; '2014/13/01' is written
    another way. None when no layout stands out (then the dates are mixed)."""
    present = distinct[distinct.ne("")]
    found = []
    for fmt in DATE_FORMATS:
        bad = present[pd.to_datetime(present, format=fmt, errors="coerce").isna()]
        if len(bad) <= max(OFF_LAYOUT[0], OFF_LAYOUT[1] * len(present)) and 2 * len(bad) < len(present):
            found.append((fmt, bad))
    if len(found) != 1:
        return []
    fmt, bad = found[0]
    layout = DATE_FORMATS[fmt]
    shaped = bad.str.fullmatch(DATE_SHAPES[fmt])
    kinds = ((bad[shaped], "that are no day of the calendar", f", read as {layout} like the others"),
             (bad[~shaped], f"not written {layout} like the others", ""))
    problems = []
    for wrong_values, what, read_as in kinds:
        wrong = values.isin(set(wrong_values))
        if wrong.any():
            first = wrong.idxmax()
            problems.append(f"column {DATE_COLUMN}: {int(wrong.sum())} date(s) {what}, first at "
                            f"{rows(first)} ({_shown(values[first])!r}{read_as})")
    return problems


def _database_dates(values: pd.Series, problems: list[str], rows: RowNames) -> pd.Series:
    """A date or timestamp column: the day, without time zone, in nanoseconds like parsed text."""
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_localize(None)
    values = values.dt.normalize().astype(_parsed_date_dtype())
    if values.isna().any():
        first = values.isna().idxmax()
        problems.append(f"column {DATE_COLUMN}: {int(values.isna().sum())} empty date(s), first at "
                        f"{rows(first)}; every customer needs a join date")
    return values


@functools.cache
def _parsed_date_dtype():
    """The dtype parsed text dates have in this pandas (ns before 3.0, us since), so a
    database's dates equal a file's."""
    return pd.to_datetime(pd.Series(["2000-01-01"]), format="%Y-%m-%d").dtype


def _dates_by_code(distinct: pd.Series, codes, fmt: str, index: pd.Index) -> pd.Series:
    parsed = pd.to_datetime(distinct, format=fmt, errors="coerce")
    return pd.Series(parsed.to_numpy()[codes], index=index)


def _parses_all(values: pd.Series, fmt: str) -> bool:
    return bool(pd.to_datetime(values, format=fmt, errors="coerce").notna().all())


def _unparseable(values: pd.Series, rows: RowNames) -> str:
    """Name the first value that none of the known layouts reads."""
    parsed_any = pd.Series(False, index=values.index)
    for fmt in DATE_FORMATS:
        parsed_any |= pd.to_datetime(values, format=fmt, errors="coerce").notna()
    bad = ~parsed_any & values.ne("")
    first = bad.idxmax() if bad.any() else values.index[0]
    layouts = ", ".join(DATE_FORMATS.values())
    return (
        f"column {DATE_COLUMN}: dates are unparseable or mixed ({rows(first)}: "
        f"{_shown(values[first])!r}); known layouts are {layouts}; set source.date_format in reporter.yaml"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
