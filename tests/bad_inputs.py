"""The corpus of bad customer files, generated (never hand-edited): each case writes one file
and says how a run must end: exit 2 with a message naming the problem, or success with the
repair shown in the brief's data notes.

    python -m tests.bad_inputs DIR      writes every case into DIR to look at
"""

from __future__ import annotations

import gzip
import io
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


def _mac_roman() -> bytes:
    """A file saved as Mac Roman: its 0x9D (a u with a grave accent) is no Windows-1252 byte."""
    lines = _table().to_csv(index=False).encode().split(b"\n")
    lines[4] = lines[4].replace(b",Single,", b",C\x9dlibataire,", 1).replace(
        b",Married,", b",Mari\x9d,", 1).replace(b",Together,", b",Ensemble\x9d,", 1)
    assert b"\x9d" in lines[4]
    return b"\n".join(lines)


def _damaged_gzip() -> bytes:
    packed = bytearray(gzip.compress(_table(3000).to_csv(index=False).encode(), mtime=0))
    packed[2000:2100] = bytes(b ^ 0x55 for b in packed[2000:2100])
    return bytes(packed)


def _cut_gzip() -> bytes:
    return gzip.compress(_table(3000).to_csv(index=False).encode(), mtime=0)[:20_000]


def _semicolon_decimal_commas() -> bytes:
    table = _table().astype({"Income": str})
    table["Income"] = table["Income"].where(table["Income"] == "", table["Income"] + ",5")
    return table.to_csv(index=False, sep=";").encode()


def _lines() -> list[bytes]:
    """The table's CSV lines, line 5 holding a quoted value over two lines (file line 6 is its
    second half): the parser counts that as one record, so its numbers are one short after it."""
    table = _table().astype({"Education": str})
    table.loc[3, "Education"] = "Graduation\n(honours)"
    return table.to_csv(index=False, lineterminator="\n").encode().split(b"\n")


def _edited(line: int, edit: Callable[[bytes], bytes]) -> Callable[[], bytes]:
    """The lines with file line `line` (the header is line 1) changed by `edit`."""
    def make() -> bytes:
        lines = _lines()
        lines[line - 1] = edit(lines[line - 1])
        return b"\n".join(lines)
    return make


def _cut_parquet() -> bytes:
    """A Parquet file copied before it was whole: its footer, which says what it holds, is gone."""
    packed = io.BytesIO()
    _table().to_parquet(packed)
    return packed.getvalue()[:3000]


def _cut_mid_line() -> bytes:
    """An export read while still being written: it stops in the 9th field of file line 200."""
    lines = _lines()
    return b"\n".join([*lines[:199], b",".join(lines[199].split(b",")[:9])[:-1]])


def _quote_opened(line: bytes) -> bytes:
    """A quote at the start of the line's Education value, never closed."""
    fields = line.split(b",")
    fields[2] = b'"' + fields[2]
    return b",".join(fields)


def _broken_in_two(line: bytes) -> bytes:
    """The line broken after its 9th field, as an editor's stray Enter leaves it."""
    fields = line.split(b",")
    return b",".join(fields[:9]) + b"\n" + b",".join(fields[9:])


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
         "1 date(s) not written dd-mm-YYYY like the others, first at line 6 ('31/31/2013')"),
    Case("mixed date formats", _csv("mixed.csv", _with("Dt_Customer", 4, "2013-05-21")), 2,
         "1 date(s) not written dd-mm-YYYY like the others, first at line 6 ('2013-05-21')"),
    Case("a day no calendar has", _csv("nosuchday.csv", _with("Dt_Customer", 4, "31-02-2014")), 2,
         "1 date(s) that are no day of the calendar, first at line 6 ('31-02-2014', read as "
         "dd-mm-YYYY like the others)"),
    Case("dates in no one layout", _csv("nolayout.csv", _table().assign(
        Dt_Customer=["2013-05-21" if i % 2 else "21-05-2013" for i in range(len(_table()))])), 2,
         "dates are unparseable or mixed"),
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
    Case("emoji text at the length cap", _csv("emoji.csv", _with("Marital_Status", 1, "😀" * 200)),
         0, "unrecognised Marital_Status values set to Other"),
    Case("very long text", _csv("long.csv", _with("Marital_Status", 1, "😀" * 5000)), 2,
         "column Marital_Status: 1 value(s) longer than 200 characters, first at line 3 (5,000 "
         "characters"),
    Case("one 5 MB cell", _csv("cell.csv", _with("Education", 7, "A" * 5_000_000)), 2,
         "column Education: 1 value(s) longer than 200 characters, first at line 9"),
    Case("no ID column", _csv("noid.csv", _table().drop(columns=["ID"])), 2,
         "missing required column ID; the export must have all 22 SmartCart columns"),
    Case("Mac Roman byte 0x9D", _bytes("macroman.csv", _mac_roman), 2,
         "line 5 (byte"),
    Case("damaged gzip", _bytes("damaged.csv.gz", _damaged_gzip), 2,
         "a damaged gzip file (cut short, or changed bytes); export it again"),
    Case("gzip cut short", _bytes("cut.csv.gz", _cut_gzip), 2,
         "a damaged gzip file (cut short, or changed bytes); export it again"),
    Case("Recency beyond int64", _csv("recency.csv", _with("Recency", 5, "10000000000000000000")), 2,
         "column Recency: 1 value(s) above 100,000,000, first at line 7 (10000000000000000000)"),
    Case("Year_Birth beyond int64", _csv("year.csv", _with("Year_Birth", 2, "99999999999999999999")),
         2, "column Year_Birth: 1 value(s) above 100,000,000, first at line 4"),
    Case("ID beyond 2^53", _csv("bigid.csv", _with("ID", 3, "9007199254740993")), 2,
         "column ID: 1 value(s) above 9,007,199,254,740,991, first at line 5"),
    Case("ID of 1e19", _csv("hugeid.csv", _with("ID", 3, "1e19")), 2,
         "column ID: 1 value(s) above 9,007,199,254,740,991, first at line 5 (1e19)"),
    Case("campaign answer beyond int64", _csv("cmp.csv", _with("AcceptedCmp3", 9, "1e19")), 2,
         "column AcceptedCmp3: 1 value(s) other than 0 and 1, first at line 11"),
    Case("a campaign answer of 7", _csv("response7.csv", _with("Response", 3, "7")), 2,
         "column Response: 1 value(s) other than 0 and 1, first at line 5 (7); Response is 1 for "
         "yes and 0 for no"),
    Case("a complaint count, not yes or no", _csv("complain3.csv", _with("Complain", 6, "3")), 2,
         "column Complain: 1 value(s) other than 0 and 1, first at line 8 (3)"),
    Case("infinite amount", _csv("inf.csv", _with("MntWines", 4, "inf")), 2,
         "column MntWines: 1 non-numeric value(s), first at line 6 ('inf')"),
    Case("infinite count", _csv("infcount.csv", _with("NumWebPurchases", 4, "-Infinity")), 2,
         "column NumWebPurchases: 1 non-numeric value(s), first at line 6 ('-Infinity')"),
    Case("NaN as a count", _csv("nan.csv", _with("Kidhome", 6, "NaN")), 2,
         "column Kidhome: 1 non-numeric value(s), first at line 8 ('NaN')"),
    Case("infinite income", _csv("infincome.csv", _with("Income", 6, "inf")), 2,
         "column Income: 1 non-numeric value(s), first at line 8 ('inf')"),
    Case("extra cells in a line", _bytes("extra.csv", _edited(21, lambda line: line + b",9,9")), 2,
         "line 21 has 29 fields where the header has 27 (a value holding a comma must be in quotes)"),
    Case("a quote never closed", _bytes("quote.csv", _edited(22, _quote_opened)), 2,
         'line 22 opens a quote (") that is never closed'),
    Case("export cut off mid-line", _bytes("cut.csv", _cut_mid_line), 2,
         "line 200 has 9 of 27 fields; the file looks cut off (an export still being written?); "
         "export it again"),
    Case("Parquet cut short", _bytes("cut.parquet", _cut_parquet), 2,
         "cut.parquet: not a readable Parquet file (cut short, or not Parquet at all); export it again"),
    Case("a line broken in two", _bytes("broken.csv", _edited(30, _broken_in_two)), 2,
         "line 30 has 9 of 27 fields (a line broken in two, or cells left out)"),
]


def main(folder: str) -> None:
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        print(f"{case.write(target).name}: {case.name} -> exit {case.exit_code}, '{case.expect}'")


if __name__ == "__main__":
    main(sys.argv[1])
