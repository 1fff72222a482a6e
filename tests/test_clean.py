from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from reporter.data import sample
from reporter.data.clean import clean
from reporter.data.load import load
from reporter.data.params import CleanParams
from reporter.errors import DataError

AS_OF = date(2014, 6, 29)


@pytest.fixture
def raw(tmp_path):
    table = sample.generate(200, seed=9)
    table.loc[0, "Year_Birth"] = 1890
    table.loc[1, "Year_Birth"] = 2010
    table.loc[2, "Income"] = 900_000
    table.loc[3, "Income"] = float("nan")
    table.loc[4, "Education"] = "<b>Unknown school</b>"
    table.loc[5, "Marital_Status"] = "YOLO"
    path = tmp_path / "c.csv"
    sample.write(table, path)
    return load(path)


def test_missing_income_is_filled_with_the_median_and_counted(raw):
    missing = int(raw.frame["Income"].isna().sum())
    median = raw.frame["Income"].median()
    customers = clean(raw, CleanParams(), AS_OF)
    frame = customers.frame
    assert frame["Income"].notna().all()
    assert (frame.loc[frame["income_imputed"], "Income"] == median).all()
    note = next(n for n in customers.notes.notes if "missing incomes" in n.text)
    assert note.count == missing >= 1


def test_implausible_ages_and_extreme_incomes_are_kept_but_left_out_of_fitting(raw):
    customers = clean(raw, CleanParams(min_age=18, max_age=100, max_income=200_000), AS_OF)
    frame = customers.frame
    assert len(frame) == raw.rows_read, "nobody is dropped"
    excluded = frame.loc[~frame["in_fit"]]
    assert {1890, 2010} <= set(excluded["Year_Birth"])
    assert (excluded["Income"] > 200_000).any()
    assert customers.notes.rows_in_fit == raw.rows_read - len(excluded)
    assert customers.notes.count("exclusion") == len(excluded)


def test_categories_are_harmonised_and_unknowns_counted(raw):
    customers = clean(raw, CleanParams(), AS_OF)
    frame = customers.frame
    assert set(frame["education"]) <= {"Undergraduate", "Graduate", "Postgraduate", "Other"}
    assert set(frame["living_with"]) <= {"Partner", "Alone", "Other"}
    odd = raw.frame.index[raw.frame["Education"] == "<b>Unknown school</b>"]
    assert list(frame.loc[odd, "education"]) == ["Other"]
    texts = " ".join(n.text for n in customers.notes.notes)
    assert "Education" in texts and "Marital_Status" in texts


def test_exact_duplicates_removed_conflicting_ids_stop(tmp_path):
    table = sample.generate(50, seed=2)
    doubled = sample.write(pd.concat([table, table.iloc[[3]]]), tmp_path / "dup.csv")
    customers = clean(load(doubled), CleanParams(), AS_OF)
    assert len(customers.frame) == 50
    assert customers.notes.count("repair") >= 1
    conflicting = table.copy()
    conflicting.loc[7, "ID"] = conflicting.loc[8, "ID"]
    path = sample.write(conflicting, tmp_path / "conflict.csv")
    with pytest.raises(DataError, match=r"column ID: 2 rows share an ID.*lines 9, 10"):
        clean(load(path), CleanParams(), AS_OF)


def test_real_table_repairs(real_table):
    customers = clean(load(real_table), CleanParams(), AS_OF)
    assert customers.notes.rows_read == 2240
    assert customers.frame["income_imputed"].sum() == 24
    assert customers.notes.rows_kept == 2240 - 182  # people exported twice count once
    assert customers.notes.rows_in_fit == 2058 - 4  # three pre-1900 births, one 666,666 income
