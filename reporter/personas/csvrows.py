"""The week's customers formatted as CSV once, chunk by chunk, every export file cut from those lines.

customers.csv, segments.csv, the persona files, the call lists and control_groups.csv hold the
same customers' cells; formatting a number as text is what writing a CSV costs (a million
customers' numbers take seconds), so the files in file order are written in one pass that
formats each chunk once, and a file in its own order (a call list) formats only its rows. No
file's lines are ever held whole (a million customers' lines were 160 MB beside the table).
The cells are Arrow's CSV writer's own (the same cast to text, text quoted with inner quotes
doubled, empty for a missing value, text neutralised by csvcells), so every file is byte-equal
to what `write_csv` writes; tests/test_export_lines.py holds them equal.
"""

from __future__ import annotations

import contextlib
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
    with the stamp's cells (run_id, as_of). Formatted chunk by chunk as the files are written,
    never held whole: `write_in_order` formats each chunk once for every file that lists its
    rows in file order (customers.csv, segments.csv, the persona files); a file in another
    order (a call list) formats its own rows, chunk by chunk."""

    def __init__(self, frame: pd.DataFrame, stamp: tuple[tuple[str, str], ...] = (),
                 layouts: dict[str, list[str]] | None = None, chunk_rows: int = 100_000):
        self.frame = frame
        self.names = [str(name) for name in frame.columns]
        self.stamp_names = [name for name, _ in stamp]
        self.layouts = {"all": self.names, **(layouts or {})}
        self.rows = len(frame)
        stamps = [quoted(neutralise_text(value)) for _, value in stamp]
        self.ending = [*stamps[:-1], stamps[-1] + "\n"] if stamps else []  # in the last cell
        self.chunk_rows = chunk_rows

    def write(self, path: Path, rows: np.ndarray | None = None, layout: str = "all") -> None:
        """One file: the layout's header, then the lines of `rows` (positions, in file order;
        every row when None)."""
        if rows is None or _ascending(rows):
            self.write_in_order([(path, layout, rows)])
        else:
            self._write_taken(path, [*self.layouts[layout], *self.stamp_names], [(None, rows)], layout)

    def write_groups(self, path: Path, groups: list[tuple[str, np.ndarray]],
                     column: str = "list") -> None:
        """control_groups.csv: a first column naming each group, then its rows' lines, group
        after group."""
        self._write_taken(path, [column, *self.names, *self.stamp_names], groups, "all")

    def write_in_order(self, files: list[tuple[Path, str, np.ndarray | None]]) -> None:
        """Several files in one pass, each (path, layout, ascending positions or None for every
        row): each chunk is formatted once and its lines go to every file holding its rows."""
        with contextlib.ExitStack() as stack:
            handles = [stack.enter_context(open(path, "wb")) for path, _, _ in files]
            for handle, (_, layout, _) in zip(handles, files, strict=True):
                handle.write(header([*self.layouts[layout], *self.stamp_names]))
            starts = range(0, self.rows, self.chunk_rows)
            wanted = {layout for _, layout, _ in files}
            for done, start in enumerate(starts, start=1):
                stop = min(start + self.chunk_rows, self.rows)
                lines = self._lines(self.frame.iloc[start:stop], wanted)
                for handle, (_, layout, rows) in zip(handles, files, strict=True):
                    _write_lines(handle, lines[layout] if rows is None
                                 else lines[layout].take(_within(rows, start, stop)))
                advance(done, len(starts))

    def _write_taken(self, path: Path, names: list[str],
                     parts: list[tuple[str | None, np.ndarray]], layout: str) -> None:
        """A file of rows in their own order, optionally each part after a first cell."""
        pieces = [(prefix, rows[start:start + self.chunk_rows]) for prefix, rows in parts
                  for start in range(0, len(rows), self.chunk_rows)]
        with open(path, "wb") as handle:
            handle.write(header(names))
            for done, (prefix, rows) in enumerate(pieces, start=1):
                part = self._lines(self.frame.iloc[rows], {layout})[layout]
                if prefix is not None:
                    part = pc.binary_join_element_wise(quoted(neutralise_text(prefix)), part, ",")
                _write_lines(handle, part)
                advance(done, len(pieces))

    def _lines(self, chunk: pd.DataFrame, layouts: set[str]) -> dict[str, pa.Array]:
        """One chunk's lines in each of `layouts` (a cell does not depend on its neighbours,
        so any rows in any order give the lines the whole frame would)."""
        table = neutralise_table(pa.Table.from_pandas(chunk, preserve_index=False))
        used = {c for layout in layouts for c in self.layouts[layout]}
        cells = {name: _cells(table.column(name)) for name in self.names if name in used}
        del table
        found = {}
        for layout in layouts:
            lines = pc.binary_join_element_wise(*[cells[c] for c in self.layouts[layout]],
                                                *self.ending, ",", null_handling="replace",
                                                null_replacement="")
            if not self.ending:
                lines = pc.binary_join_element_wise(lines, "\n", "")
            found[layout] = lines
        return found


def _ascending(rows: np.ndarray) -> bool:
    return bool(len(rows) < 2 or (np.diff(rows) > 0).all())


def _within(rows: np.ndarray, start: int, stop: int) -> pa.Array:
    """The positions of ascending `rows` that fall in [start, stop), relative to start."""
    first, last = np.searchsorted(rows, [start, stop])
    return pa.array(rows[first:last] - start, pa.int64())


def _write_lines(handle, lines: pa.ChunkedArray | pa.Array) -> None:
    for chunk in (lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]):
        handle.write(_text_bytes(chunk))


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
