"""Which file of a folder source breaks it, when the files cannot be read as one table.

DuckDB reads the folder's files together and, when one cannot be read, names neither the file
nor the line (or, for a CSV whose lines do not split evenly, reads it as one column and every
customer of it as empty). Only then is each file read on its own by load's reader, which names
the file, the line and what to do; a folder that reads cleanly is never read twice.
"""

from __future__ import annotations

from pathlib import Path

from reporter.data.load import column_key, read_cells
from reporter.data.params import SourceParams
from reporter.data.schema import COLUMNS
from reporter.errors import DataError

TODO = "export it again or move it out of the folder"


def culprit(folder: Path, files: list[Path], source: SourceParams,
            differing: bool = True) -> DataError | None:
    """The first file that cannot be read, or lacks a column the source needs; else (with
    `differing`: files whose columns differ may be why DuckDB failed, never why a value is
    wrong) the first whose columns differ from the first file's; None when none is found."""
    columns = {}
    for path in files:
        try:
            columns[path] = [*read_cells(path).columns, *_partitions(folder, path)]
        except DataError as exc:
            return exc
        missing = _missing(columns[path], dict(source.columns))
        if missing:
            return DataError(f"{path}: no column {', '.join(missing)}, which every file of the folder "
                             f"{folder} needs; {TODO}")
    return _differing(columns, folder) if differing else None


def _partitions(folder: Path, path: Path) -> list[str]:
    """The hive partition columns a file gets from its folders (snapshot=2024-06-30)."""
    return [part.split("=", 1)[0] for part in path.relative_to(folder).parts[:-1] if "=" in part]


def _missing(names: list[str], mapping: dict[str, str]) -> list[str]:
    """The required columns a file has under neither its source.columns name nor its own."""
    keys = {column_key(name) for name in names}
    return [c for c in COLUMNS if (mapping[c] not in names if c in mapping else column_key(c) not in keys)]


def _differing(columns: dict[Path, list[str]], folder: Path) -> DataError | None:
    first, *others = columns
    wanted = {column_key(c) for c in columns[first]}
    for path in others:
        have = {column_key(c) for c in columns[path]}
        if have != wanted:
            lacking = [c for c in columns[first] if column_key(c) not in have]
            added = [c for c in columns[path] if column_key(c) not in wanted]
            what = "; ".join(part for part in (f"no {', '.join(lacking)}" if lacking else "",
                                               f"{', '.join(added)} added" if added else "") if part)
            return DataError(f"{path}: its columns differ from {first.name}'s ({what}); every file "
                             f"of the folder {folder} needs the same columns; {TODO}")
    return None
