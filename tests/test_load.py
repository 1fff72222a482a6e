from __future__ import annotations

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
    with pytest.raises(DataError, match=r"line 8: 'sometime in May'.*date_format"):
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
