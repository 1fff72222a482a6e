from __future__ import annotations

import gzip
import os
from datetime import date

import pandas as pd
import pytest

from reporter.data import sample
from reporter.data.load import find_latest, load
from reporter.data.schema import CAMPAIGN_COLUMNS, COLUMNS
from reporter.errors import DataError


@pytest.fixture
def table() -> pd.DataFrame:
    return sample.generate(40, seed=5)


def write(table: pd.DataFrame, path, **options) -> object:
    table.to_csv(path, index=False, **options)
    return path


@pytest.mark.parametrize("separator", [",", "\t", ";"])
def test_separator_is_detected(tmp_path, table, separator):
    raw = load(write(table, tmp_path / "t.csv", sep=separator))
    assert raw.rows_read == 40
    assert raw.frame["MntWines"].sum() == table["MntWines"].sum()


def test_utf8_bom_and_quoted_fields(tmp_path, table):
    table = table.assign(Education='Graduation, "honours"')
    path = write(table, tmp_path / "bom.csv", encoding="utf-8-sig")
    raw = load(path)
    assert raw.frame.columns[0] == "ID"
    assert raw.frame["Education"].iloc[0] == 'Graduation, "honours"'


def test_customers_come_in_id_order_whatever_the_export_order(tmp_path):
    """The same customers in another order are the same table: a database returns rows in no
    fixed order, and the segments must not depend on it."""
    table = sample.generate(200, seed=8)
    shuffled = sample.write(table.sample(frac=1, random_state=3), tmp_path / "shuffled.csv")
    ordered = sample.write(table.sort_values("ID"), tmp_path / "ordered.csv")
    frame = load(shuffled).frame
    assert frame["ID"].is_monotonic_increasing
    pd.testing.assert_frame_equal(frame, load(ordered).frame)


def test_parquet_with_missing_incomes_and_real_dates(tmp_path):
    table = sample.generate(300, seed=5)
    assert table["Income"].isna().sum() >= 1
    table["Dt_Customer"] = pd.to_datetime(table["Dt_Customer"], format="%d-%m-%Y")
    path = tmp_path / "t.parquet"
    table.to_parquet(path)
    raw = load(path)
    assert raw.rows_read == 300
    assert raw.frame["Income"].isna().sum() == table["Income"].isna().sum()
    assert raw.frame["Income"].sum() == pytest.approx(table["Income"].sum())
    read = raw.frame.set_index("ID")["Dt_Customer"]
    assert (read == table.set_index("ID")["Dt_Customer"].loc[read.index]).all()


@pytest.mark.parametrize("fmt", ["%d-%m-%Y", "%Y-%m-%d", "%m/%d/%Y"])
def test_known_date_layouts_are_recognised(tmp_path, table, fmt):
    dates = pd.to_datetime(table["Dt_Customer"], format="%d-%m-%Y")
    # make sure the layout is unambiguous: at least one day above 12
    dates.iloc[0] = pd.Timestamp(2013, 5, 28)
    path = write(table.assign(Dt_Customer=dates.dt.strftime(fmt)), tmp_path / "d.csv")
    raw = load(path)
    assert raw.date_format == fmt
    first = raw.frame.loc[raw.frame["ID"] == table["ID"].iloc[0], "Dt_Customer"]
    assert first.iloc[0].date() == date(2013, 5, 28)


def test_ambiguous_dates_stop_and_name_date_format(tmp_path, table):
    days = pd.Series([f"0{m}/0{d}/2013" for m, d in zip(range(1, 10), range(1, 10), strict=True)] * 5)
    path = write(table.assign(Dt_Customer=days[:40].to_numpy()), tmp_path / "amb.csv")
    with pytest.raises(DataError, match=r"ambiguous.*date_format"):
        load(path)


def test_date_format_setting_resolves_ambiguity(tmp_path, table):
    path = write(table.assign(Dt_Customer="03/04/2013"), tmp_path / "amb.csv")
    raw = load(path, date_format="%d/%m/%Y")
    assert raw.frame["Dt_Customer"].iloc[0].date() == date(2013, 4, 3)


def test_unparseable_date_names_line_and_value(tmp_path, table):
    table = table.copy()
    table.loc[6, "Dt_Customer"] = "sometime in May"
    with pytest.raises(DataError, match=r"not written dd-mm-YYYY like the others, first at line 8 "
                                         r"\('sometime in May'\)"):
        load(write(table, tmp_path / "bad.csv"))


def test_missing_columns_are_each_named(tmp_path, table):
    path = write(table.drop(columns=["Recency", "MntWines"]), tmp_path / "m.csv")
    with pytest.raises(DataError) as caught:
        load(path)
    assert "Recency" in str(caught.value) and "MntWines" in str(caught.value)
    assert str(path) in str(caught.value)


def test_extra_columns_are_listed_and_renamed_columns_matched(tmp_path, table):
    table = table.rename(columns={"Income": " income "}).assign(Loyalty_Card="yes")
    raw = load(write(table, tmp_path / "x.csv"))
    assert raw.extra_columns == ("Loyalty_Card",)
    assert [(old.strip(), new) for old, new in raw.renamed_columns] == [("income", "Income")]
    assert tuple(raw.frame.columns) == COLUMNS + CAMPAIGN_COLUMNS, "campaign history is known"


def test_non_numeric_values_are_located(tmp_path, table):
    table = table.astype({"MntWines": str})
    table.loc[3, "MntWines"] = "12,000"
    with pytest.raises(DataError, match=r"column MntWines: 1 non-numeric value\(s\), first at line 5"):
        load(write(table, tmp_path / "n.csv"))


def test_all_problems_are_reported_together(tmp_path, table):
    table = table.astype({"MntWines": str, "Recency": str})
    table.loc[3, "MntWines"] = "$5"
    table.loc[9, "Recency"] = "-4"
    with pytest.raises(DataError) as caught:
        load(write(table, tmp_path / "n.csv"))
    assert "MntWines" in str(caught.value) and "Recency" in str(caught.value)


def test_header_only_file(tmp_path, table):
    path = write(table.head(0), tmp_path / "empty.csv")
    with pytest.raises(DataError, match="no customer rows"):
        load(path)


def test_newest_file_of_a_glob_wins(tmp_path, table):
    old = write(table, tmp_path / "customers-b.csv")
    new = write(table.head(10), tmp_path / "customers-a.csv")
    os.utime(old, (1_600_000_000, 1_600_000_000))
    os.utime(new, (1_700_000_000, 1_700_000_000))
    assert find_latest(tmp_path / "customers-*.csv") == new


def test_no_match_says_how_to_make_data(tmp_path):
    with pytest.raises(DataError, match="no file matches"):
        find_latest(tmp_path / "customers-*.csv")
    with pytest.raises(DataError, match="not found"):
        find_latest(tmp_path / "missing.csv")


def test_real_table_reads_whole(real_table):
    raw = load(real_table)
    assert raw.rows_read == 2240
    assert raw.frame["Income"].isna().sum() == 24
    assert raw.date_format == "%d-%m-%Y"
    assert len(raw.sha256) == 64


def test_the_real_export_cut_off_mid_line_is_one_line_naming_it(tmp_path, real_table):
    """`head -c` of the real export, as a copy made while it is still being written: one
    message at the line it stops in, where each of its empty columns was a problem of its own."""
    text = real_table.read_bytes()
    line_734 = sum(len(line) for line in text.splitlines(keepends=True)[:733])
    cut = tmp_path / "customers.csv"
    cut.write_bytes(text[:line_734 + 30])
    with pytest.raises(DataError) as caught:
        load(cut)
    assert caught.value.problems == (f"{cut}: line 734 has 5 of 22 fields; the file looks cut off (an "
                                     "export still being written?); export it again",)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path, table):
    """A missing column, a non-numeric value, an empty count and conflicting IDs: one run
    names all four, each located, instead of one per attempt."""
    broken = table.drop(columns=["Complain"]).astype(object)
    broken.loc[3, "Income"] = "58k"
    broken.loc[5, "Kidhome"] = ""
    broken.loc[7, "ID"] = broken.loc[8, "ID"]
    with pytest.raises(DataError) as caught:
        load(write(broken, tmp_path / "broken.csv"))
    problems = caught.value.problems
    assert len(problems) == 4, problems
    text = " | ".join(problems)
    assert "missing required column Complain" in text
    assert "column Income: 1 non-numeric value(s), first at line 5 ('58k')" in text
    assert "column Kidhome: 1 empty value(s), first at line 7" in text
    assert "column ID: 2 rows share an ID with different values (lines 9, 10)" in text
    assert all(p.startswith(str(tmp_path / "broken.csv")) for p in problems)


def test_join_dates_are_judged_at_the_files_own_date_not_today(tmp_path, table):
    late = table.astype(object)
    late.loc[2, "Dt_Customer"] = "01-03-2015"
    path = write(late, tmp_path / "late.csv")
    written_then = pd.Timestamp("2015-06-30").timestamp()
    os.utime(path, (written_then, written_then))
    assert load(path).frame["Dt_Customer"].max() == pd.Timestamp("2015-03-01")
    written_before = pd.Timestamp("2014-12-31").timestamp()
    os.utime(path, (written_before, written_before))
    with pytest.raises(DataError, match=r"1 join date\(s\) after the file was written, first at line 4"):
        load(path)


def test_whole_numbers_beyond_int64_from_parquet_are_named_not_wrapped(tmp_path, table):
    """A Parquet file's typed numbers go through the same ceilings before the int64 cast:
    1e19 once became -9.2e18; an infinite amount and an ID past 2^53 are named too."""
    typed = table.astype({"Recency": "float64", "MntWines": "float64", "ID": "uint64"})
    typed.loc[4, "Recency"] = 1e19
    typed.loc[6, "MntWines"] = float("inf")
    typed.loc[8, "ID"] = 2**63 + 5
    path = tmp_path / "t.parquet"
    typed.to_parquet(path)
    with pytest.raises(DataError) as caught:
        load(path)
    text = " | ".join(caught.value.problems)
    assert "column Recency: 1 value(s) above 100,000,000, first at line 6 (1e+19)" in text
    assert "column MntWines: 1 non-numeric value(s), first at line 8 ('inf')" in text
    assert "column ID: 1 value(s) above 9,007,199,254,740,991, first at line 10" in text


def test_a_database_table_gets_the_same_ceilings_before_the_cast(tmp_path, table):
    """SQLite integers and reals as a database types them: a count of 1e19 and an ID past
    2^53 are named by row, not wrapped round (they once passed as -9.2e18)."""
    import sqlite3

    from reporter.data.params import SourceParams
    from reporter.data.sources import read_customers

    rows = table.astype({"Recency": "float64"})
    rows.loc[2, "Recency"] = 1e19
    rows.loc[5, "ID"] = 2**62
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        rows.to_sql("customers", connection, index=False)
    with pytest.raises(DataError) as caught:
        read_customers(SourceParams(url=f"sqlite:///{database}", table="customers"))
    text = " | ".join(caught.value.problems)
    assert "column Recency: 1 value(s) above 100,000,000, first at row 3 (1e+19)" in text
    assert "column ID: 1 value(s) above 9,007,199,254,740,991, first at row 6" in text


def test_an_id_at_the_ceiling_is_read_exactly(tmp_path, table):
    ids = table.assign(ID=range(2**53 - 40, 2**53))
    raw = load(write(ids, tmp_path / "ids.csv"))
    assert raw.frame["ID"].dtype == "int64" and raw.frame["ID"].max() == 2**53 - 1


def test_a_file_over_the_size_bound_is_refused_before_it_is_parsed(tmp_path, table, monkeypatch):
    """The bound is a constant (MAX_FILE_BYTES, 2 GiB); lowered here so a small file crosses
    it: a plain CSV by its size, a gzip-compressed one by what it holds (a small file that
    expands to terabytes stops at the bound)."""
    from reporter.data import load as loading

    text = table.to_csv(index=False).encode()
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", len(text) - 1)
    plain = tmp_path / "big.csv"
    plain.write_bytes(text)
    with pytest.raises(DataError, match=r"big\.csv: is 0\.0 GiB, over the local engine's limit"):
        load(plain)
    packed = tmp_path / "bomb.csv.gz"
    packed.write_bytes(gzip.compress(text))
    assert packed.stat().st_size < len(text) - 1
    with pytest.raises(DataError, match=r"bomb\.csv\.gz: holds more than .* engine: spark"):
        load(packed)
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", len(text))
    assert load(packed).rows_read == load(plain).rows_read == 40


def test_row_bounds_of_parquet_and_databases(tmp_path, table, monkeypatch):
    """MAX_ROWS (20 million) read from a Parquet footer before any row, and as a LIMIT one
    past it on a database's SELECT; lowered here to 39 for a 40-row table."""
    import sqlite3

    from reporter.data import load as loading
    from reporter.data import sources
    from reporter.data.params import SourceParams

    monkeypatch.setattr(loading, "MAX_ROWS", 39)
    monkeypatch.setattr(sources, "MAX_ROWS", 39)
    path = tmp_path / "t.parquet"
    table.to_parquet(path)
    with pytest.raises(DataError, match=r"t\.parquet: holds 40 rows, over the local engine's limit"):
        load(path)
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        table.to_sql("customers", connection, index=False)
    with pytest.raises(DataError, match=r"table customers: returned more than 39 rows"):
        sources.read_customers(SourceParams(url=f"sqlite:///{database}", table="customers"))


def test_messages_quote_at_most_a_few_dozen_characters_of_a_value(tmp_path, table):
    broken = table.astype(object)
    broken.loc[1, "MntFruits"] = "9" * 30 + "x" * 10_000
    broken.loc[3, "Dt_Customer"] = "y" * 10_000
    with pytest.raises(DataError) as caught:
        load(write(broken, tmp_path / "long.csv"))
    assert all(len(problem) < 400 for problem in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("odd", [" 7", "+7", "7.0", "007", "0x1A", "1e3", "٣"])
def test_whole_numbers_read_the_same_by_the_plain_digits_path_and_the_checked_one(tmp_path, table, odd):
    """A column of plain digits is cast by Arrow at once; any other spelling goes through the
    column-by-column checks, which read it as a number or name it, as before the fast path."""
    plain = load(write(table, tmp_path / "plain.csv")).frame
    assert (plain["MntWines"].to_numpy() == table.sort_values("ID")["MntWines"].to_numpy()).all()
    assert plain["MntWines"].dtype == "int64"
    table = table.astype({"MntWines": str})
    table.loc[3, "MntWines"] = odd
    path = write(table, tmp_path / "odd.csv")
    if odd in ("0x1A", "٣"):
        with pytest.raises(DataError, match=r"column MntWines: 1 non-numeric value\(s\), first at line 5"):
            load(path)
        return
    frame = load(path).frame
    assert frame.loc[frame["ID"] == table.loc[3, "ID"], "MntWines"].item() == float(odd)
    assert frame["MntWines"].dtype == "int64"
