"""The line of a CSV file that does not split into the header's columns, found on the file itself.

pandas' parser counts records, not lines (a quoted value over two lines is one record; an open
quote's row counts from 0), so its numbers are off by one or more; and it fills a short line
with empty cells without a word, so a file cut off mid-line read as one empty value per
column. This reads the file once with the csv module, which counts physical lines, on the
paths where the fast reader refused the file (a file that splits cleanly is never scanned).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from reporter.data.schema import COLUMNS

SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
MAX_CELL_CHARS = 2 << 30  # the csv module's default (128 kB) would stop at a long cell


@dataclass(frozen=True)
class Ragged:
    """A record whose cells are not the header's count: where it starts and what it holds."""

    line: int  # the file's line it starts on, the header being line 1
    cells: int
    header: int
    last: bool  # no record follows it: the file ends there


def scan(text: Path | bytes, separator: str, encoding: str) -> tuple[Ragged | None, int]:
    """The first record with more cells than the header, or fewer than the last required
    column needs, and the line the file's last record starts on (where an unclosed quote
    opened, when the parser ran out of file inside one)."""
    found, last_start = None, 0
    with _lines(text, encoding) as handle:
        reader = csv.reader(handle, delimiter=separator, skipinitialspace=True)
        header, needed, id_at, start = 0, 0, -1, 1
        try:
            for record in reader:
                line, start = start, reader.line_num + 1
                if not record:  # a blank line: the parser skips it too
                    continue
                last_start = line
                if not header:
                    header, needed, id_at = len(record), *_required_cells(record)
                elif found is None and _ragged(record, header, needed, id_at):
                    found = Ragged(line, len(record), header, last=False)
                elif found is not None and found.line != line:
                    return found, last_start  # a record follows: not the file's end
        except csv.Error:  # a NUL byte or the like: the caller says the file is unreadable
            return found, last_start
    return (Ragged(found.line, found.cells, found.header, last=True) if found else None), last_start


def _required_cells(header: list[str]) -> tuple[int, int]:
    """How many cells a line needs to reach every required column, and where its ID is (-1:
    no ID column; then the missing column is what is said)."""
    keys = [_key(cell) for cell in header]
    required = {_key(c) for c in COLUMNS}
    places = [i for i, key in enumerate(keys) if key in required]
    return (max(places) + 1 if places else 0), (keys.index("id") if "id" in keys else -1)


def _key(name: str) -> str:
    """A column's name as load matches it ('Year_Birth', 'year birth', 'yearbirth')."""
    return re.sub(r"[\s_]+", "", name).lower()


def _ragged(record: list[str], header: int, needed: int, id_at: int) -> bool:
    """More cells than the header has, or a customer's line (its ID is a number) short of a
    required column; a short line without an ID may be an export's summary line (dropped)."""
    if len(record) > header:
        return True
    return len(record) < needed and 0 <= id_at < len(record) and record[id_at].strip().isdigit()


@contextlib.contextmanager
def _lines(text: Path | bytes, encoding: str):
    """The text as the csv module reads it: decoded, line ends left to the reader."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, MAX_CELL_CHARS))
    raw = io.BytesIO(text) if isinstance(text, bytes) else text.open("rb")
    try:
        with io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="") as handle:
            yield handle
    finally:
        csv.field_size_limit(limit)


def message(path: Path, ragged: Ragged, separator: str) -> str:
    """What is wrong with the line, in the words of someone looking at it, and what to do."""
    if ragged.cells > ragged.header:
        return (f"{path}: line {ragged.line} has {ragged.cells} fields where the header has "
                f"{ragged.header} (a value holding a {SEPARATOR_NAMES.get(separator, separator)} "
                "must be in quotes); fix that line or export the file again")
    if ragged.last:
        return (f"{path}: line {ragged.line} has {ragged.cells} of {ragged.header} fields; the "
                "file looks cut off (an export still being written?); export it again")
    return (f"{path}: line {ragged.line} has {ragged.cells} of {ragged.header} fields (a line "
            "broken in two, or cells left out); fix that line or export the file again")


def unclosed_quote(path: Path, line: int) -> str:
    return (f'{path}: line {line} opens a quote (") that is never closed, so every line after it '
            "reads as one value; close or remove that quote and export the file again")
