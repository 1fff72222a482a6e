"""The week's customers formatted as CSV once, every export file cut from those lines.

customers.csv, segments.csv, the persona files, the call lists and control_groups.csv hold the
same customers' cells; formatting a number as text is what writing a CSV costs (a million
customers' numbers take seconds), so each cell is formatted once and each file is a `take` of
ready lines. The cells are Arrow's CSV writer's own (the same cast to text, text quoted with
inner quotes doubled, empty for a missing value, text neutralised by csvcells), so every file is
byte-equal to what `write_csv` writes; tests/test_export_lines.py holds them equal.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from reporter.csvcells import neutralise_table, neutralise_text
from reporter.progress import advance

CSV_OPTIONS = pacsv.WriteOptions(quoting_style="needed")
QUOTE = '"'


def quoted(value: str) -> str:
    """One text cell as Arrow's writer writes it (a stamp, a list's name)."""
    return QUOTE + value.replace(QUOTE, QUOTE * 2) + QUOTE


def header(names: list[str]) -> bytes:
    """The header line Arrow's writer writes for these column names."""
    buffer = io.BytesIO()
    empty = pa.table([pa.array([], pa.string()) for _ in names], names=names)
    pacsv.write_csv(empty, buffer, CSV_OPTIONS)
    return buffer.getvalue()


def formattable(frame: pd.DataFrame) -> bool:
    """True when every column is a kind whose cells this module formats as Arrow's writer
    does (numbers, 0/1 and text); anything else is left to `write_csv`."""
    table = pa.Schema.from_pandas(frame, preserve_index=False)
    return all(_kind_known(field.type) for field in table)


def _kind_known(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
            or pa.types.is_string(kind) or pa.types.is_large_string(kind))


WHOLE_LIMIT = 1e10  # whole numbers below this are written as Arrow writes an integer


def _cells(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column's CSV cells (null where the cell is empty)."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        doubled = pc.replace_substring(column.cast(pa.string()), QUOTE, QUOTE * 2)
        return pc.binary_join_element_wise(QUOTE, doubled, QUOTE, "")
    if pa.types.is_floating(column.type):
        column = _as_whole(column)
    return pc.cast(column, pa.string())


def _as_whole(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A float column whose values are all whole numbers (most metrics: income, spend, days)
    as int64: Arrow writes 58138.0 as 58138 either way, and integers five times faster. Not
    from 1e10 on (written 1e+10) nor -0.0 (written -0)."""
    valid = pc.is_valid(column).to_numpy(zero_copy_only=False)
    values = column.to_numpy()
    with np.errstate(invalid="ignore"):
        whole = (values == np.trunc(values)) & (np.abs(values) < WHOLE_LIMIT) \
            & ~((values == 0) & np.signbit(values))
    if not whole[valid].all():
        return column
    return pa.chunked_array([pa.array(np.where(valid, values, 0).astype(np.int64), mask=~valid)])


class CsvRows:
    """A frame's rows as CSV lines, in one or more layouts (column orders), each line ending
    with the stamp's cells (run_id, as_of): formatted once, chunk by chunk."""

    def __init__(self, frame: pd.DataFrame, stamp: tuple[tuple[str, str], ...] = (),
                 layouts: dict[str, list[str]] | None = None, chunk_rows: int = 100_000):
        self.names = [str(name) for name in frame.columns]
        self.stamp_names = [name for name, _ in stamp]
        self.layouts = {"all": self.names, **(layouts or {})}
        self.rows = len(frame)
        stamps = [quoted(neutralise_text(value)) for _, value in stamp]
        ending = [*stamps[:-1], stamps[-1] + "\n"] if stamps else []  # the line's end in its last cell
        parts: dict[str, list[pa.Array]] = {name: [] for name in self.layouts}
        for start in range(0, self.rows, chunk_rows):
            table = neutralise_table(pa.Table.from_pandas(frame.iloc[start:start + chunk_rows],
                                                          preserve_index=False))
            cells = {name: _cells(table.column(name)) for name in self.names}
            del table
            for layout, columns in self.layouts.items():
                lines = pc.binary_join_element_wise(*[cells[c] for c in columns], *ending, ",",
                                                    null_handling="replace", null_replacement="")
                if not ending:
                    lines = pc.binary_join_element_wise(lines, "\n", "")
                parts[layout].extend(lines.chunks)
        self.lines = {layout: pa.chunked_array(chunks, pa.string()) for layout, chunks in parts.items()}
        self.chunk_rows = chunk_rows

    def write(self, path: Path, rows: np.ndarray | None = None, layout: str = "all") -> None:
        """One file: the layout's header, then the lines of `rows` (positions, in file order;
        every row when None)."""
        names = [*self.layouts[layout], *self.stamp_names]
        self._write(path, names, self.lines[layout], [(None, rows)])

    def write_groups(self, path: Path, groups: list[tuple[str, np.ndarray]],
                     column: str = "list") -> None:
        """control_groups.csv: a first column naming each group, then its rows' lines, group
        after group."""
        names = [column, *self.names, *self.stamp_names]
        self._write(path, names, self.lines["all"], groups)

    def _write(self, path: Path, names: list[str], lines: pa.ChunkedArray,
               parts: list[tuple[str | None, np.ndarray | None]]) -> None:
        pieces = [(prefix, rows, start) for prefix, rows in parts
                  for start in range(0, self.rows if rows is None else len(rows), self.chunk_rows)]
        with open(path, "wb") as handle:
            handle.write(header(names))
            for done, (prefix, rows, start) in enumerate(pieces, start=1):
                part = (lines.slice(start, self.chunk_rows) if rows is None
                        else lines.take(pa.array(rows[start:start + self.chunk_rows], pa.int64())))
                if prefix is not None:
                    part = pc.binary_join_element_wise(quoted(neutralise_text(prefix)), part, ",")
                for chunk in part.chunks:
                    handle.write(_text_bytes(chunk))
                advance(done, len(pieces))


def _text_bytes(array: pa.Array) -> memoryview | bytes:
    """The characters of a string array's values, back to back, without copying them."""
    if len(array) == 0:
        return b""
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=len(array) + 1,
                            offset=array.offset * 4)
    if data_buffer is None:
        return b""
    return memoryview(data_buffer)[int(offsets[0]):int(offsets[-1])]
