"""The corpus of bad customer files, generated (never hand-edited): each case writes one file
and says how a run must end: exit 2 with a message naming the problem, or success with the
repair shown in the brief's data notes.

    python -m tests.bad_inputs DIR      writes every case into DIR to look at
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reporter.data import sample


@dataclass(frozen=True)
class Case:
    name: str
    write: Callable[[Path], Path]
    exit_code: int
    expect: str  # in the one-line error (exit 2) or in the brief's data notes (exit 0)


def _table(rows: int = 300) -> pd.DataFrame:
    return sample.generate(rows, seed=99).assign(
        Income=lambda t: t["Income"].astype("Int64").astype(str).replace("<NA>", ""))


def _csv(name: str, table: pd.DataFrame, **options) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        table.to_csv(path, index=False, **options)
        return path
    return write


def _bytes(name: str, make: Callable[[], bytes]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(make())
        return path
    return write


def _with(column: str, row: int, value: str, rows: int = 300) -> pd.DataFrame:
    table = _table(rows).astype({column: str})
    table.loc[row, column] = value
    return table


def _semicolon_decimal_commas() -> bytes:
    table = _table().astype({"Income": str})
    table["Income"] = table["Income"].where(table["Income"] == "", table["Income"] + ",5")
    return table.to_csv(index=False, sep=";").encode()


CASES = [
    Case("empty file", _bytes("empty.csv", lambda: b""), 2, "the file is empty"),
    Case("header only", _csv("header.csv", _table().head(0)), 2, "no customer rows"),
    Case("one customer", _csv("one.csv", _table().head(1)), 2, "distinct customers"),
    Case("fewer customers than k", _csv("few.csv", _table().head(3)), 2, "distinct customers"),
    Case("all customers identical",
         _csv("same.csv", pd.concat([_table().head(1)] * 50).assign(ID=range(50))), 2,
         "distinct customers"),
    Case("required column missing", _csv("missing.csv", _table().drop(columns=["Recency"])), 2,
         "missing required column Recency"),
    Case("column renamed by case and spaces", _csv("renamed.csv", _table().rename(
        columns={"Income": " income "})), 0, "Column names matched ignoring case and spaces"),
    Case("duplicated column", _csv("dupcol.csv", pd.concat(
        [_table(), _table()[["Income"]]], axis=1)), 2, "column Income appears more than once"),
    Case("conflicting duplicate IDs", _csv("dupid.csv", _table().assign(
        ID=lambda t: t["ID"].where(t.index != 5, t["ID"][4]))), 2, "rows share an ID"),
    Case("N/A in a number column", _csv("na.csv", _with("MntWines", 10, "N/A")), 2,
         "column MntWines: 1 non-numeric value(s), first at line 12"),
    Case("thousands separator", _csv("thousands.csv", _with("MntMeatProducts", 3, "12,000")), 2,
         "column MntMeatProducts"),
    Case("currency sign", _csv("currency.csv", _with("MntGoldProds", 7, "$5")), 2,
         "use plain numbers"),
    Case("negative amount", _csv("negative.csv", _with("MntFruits", 2, "-40")), 2,
         "negative value(s), first at line 4"),
    Case("empty numbers in a row", _csv("emptyrow.csv", _with("Recency", 8, "")), 2,
         "column Recency: 1 empty value(s), first at line 10"),
    Case("amount of 1e12", _csv("huge.csv", _with("MntWines", 6, "1000000000000")), 2,
         "column MntWines: 1 value(s) above 100,000,000, first at line 8"),
    Case("join date in the future", _csv("future.csv", _with("Dt_Customer", 9, "01-01-2091")), 2,
         "join date(s) after the file was written, first at line 11"),
    Case("join date before 1900", _csv("ancient.csv", _with("Dt_Customer", 2, "01-01-1850")), 2,
         "join date(s) before 1900, first at line 4"),
    Case("unparseable date", _csv("baddate.csv", _with("Dt_Customer", 4, "31/31/2013")), 2,
         "date_format"),
    Case("mixed date formats", _csv("mixed.csv", _with("Dt_Customer", 4, "2013-05-21")), 2,
         "date_format"),
    Case("Latin-1 file", _csv("latin1.csv", _with("Marital_Status", 3, "Célibataire"),
                              encoding="latin-1"), 0, "read as Windows-1252"),
    Case("UTF-16 file", _csv("utf16.csv", _table(), encoding="utf-16"), 0, "missing incomes"),
    Case("UTF-8 with BOM", _csv("bom.csv", _table(), encoding="utf-8-sig"), 0, "missing incomes"),
    Case("CRLF line ends", _csv("crlf.csv", _table(), lineterminator="\r\n"), 0, "missing incomes"),
    Case("semicolons and decimal commas", _bytes("semicolon.csv", _semicolon_decimal_commas), 0,
         "with a decimal comma read as decimals"),
    Case("trailing summary line", _bytes("total.csv", lambda: _table().to_csv(index=False).encode()
                                         + b"Total" + b"," * 21 + b"\n"), 0,
         "1 trailing summary line(s) without a customer ID ignored"),
    Case("binary file named .csv", _bytes("binary.csv", lambda: bytes(range(256)) * 40), 2,
         "holds binary data"),
    Case("gzip-compressed CSV", _bytes("zipped.csv", lambda: gzip.compress(
        _table().to_csv(index=False).encode(), mtime=0)), 0, "missing incomes"),
    Case("script as a category", _csv("script.csv", _with("Education", 1, "<script>alert(1)</script>")),
         0, "unrecognised Education values set to Other"),
    Case("very long text and emoji", _csv("long.csv", _with("Marital_Status", 1, "😀" * 5000)), 0,
         "unrecognised Marital_Status values set to Other"),
]


def main(folder: str) -> None:
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        print(f"{case.write(target).name}: {case.name} -> exit {case.exit_code}, '{case.expect}'")


if __name__ == "__main__":
    main(sys.argv[1])
