from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from reporter.data import sample
from reporter.data.schema import CAMPAIGN_COLUMNS, COLUMNS, SPEND_COLUMNS


def test_columns_are_the_smartcart_schema_in_order():
    table = sample.generate(300, seed=1)
    assert tuple(table.columns) == COLUMNS + CAMPAIGN_COLUMNS  # the full export's layout
    assert len(COLUMNS) == 22


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path):
    first = sample.write(sample.generate(500, seed=3), tmp_path / "a.csv")
    second = sample.write(sample.generate(500, seed=3), tmp_path / "b.csv")
    third = sample.write(sample.generate(500, seed=4), tmp_path / "c.csv")
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(first) == digest(second)
    assert digest(first) != digest(third)


def test_file_looks_like_an_export(tmp_path):
    path = sample.write(sample.generate(2240, seed=2240), tmp_path / "s.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS + CAMPAIGN_COLUMNS)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert table["Dt_Customer"].str.fullmatch(r"\d{2}-\d{2}-\d{4}").all()
    assert not table["Income"].str.contains(r"\.").any(), "incomes are whole numbers"
    assert table["ID"].is_unique


def test_keeps_the_real_files_oddities():
    table = sample.generate(2240, seed=2240)
    assert (table["Year_Birth"] < 1900).sum() >= 2
    assert (table["Income"] == 666_666).sum() == 1
    assert {"Alone", "Absurd", "YOLO"} <= set(table["Marital_Status"])
    missing = table["Income"].isna().mean()
    assert 0.005 <= missing <= 0.02


def test_has_structure_not_uniform_noise():
    table = sample.generate(2240, seed=11)
    spend = table[list(SPEND_COLUMNS)].sum(axis=1)
    assert table["Income"].corr(spend) > 0.5, "income drives spend"
    assert spend.mean() > 1.3 * spend.median(), "spend is right-skewed"
    families = table["Kidhome"] > 0
    assert table.loc[families, "NumDealsPurchases"].mean() > table.loc[~families, "NumDealsPurchases"].mean()


@pytest.mark.parametrize("seed", [1, 2240])
def test_medians_within_25_percent_of_the_real_table(real_table, seed):
    real = pd.read_csv(real_table)
    fake = sample.generate(len(real), seed=seed)

    def medians(frame: pd.DataFrame) -> np.ndarray:
        spend = frame[list(SPEND_COLUMNS)].sum(axis=1)
        return np.array([frame["Income"].median(), spend.median(), frame["Recency"].median()])

    ratio = medians(fake) / medians(real)
    assert np.all(np.abs(ratio - 1) <= 0.25), f"sample/real medians (income, spend, recency): {ratio}"


def test_small_tables_have_no_oddities_and_rows_is_respected():
    table = sample.generate(5, seed=1)
    assert len(table) == 5
    assert table["Income"].notna().all()
    with pytest.raises(ValueError):
        sample.generate(0, seed=1)


PURCHASES = ["NumWebPurchases", "NumCatalogPurchases", "NumStorePurchases"]


def _tenure(table: pd.DataFrame) -> pd.Series:
    """Days from joining to the table's as-of date (its newest join date, as the export's)."""
    joined = pd.to_datetime(table["Dt_Customer"], format="%d-%m-%Y")
    return (joined.max() - joined).dt.days


def _possible(table: pd.DataFrame) -> pd.Series:
    """Customer by customer: last bought no earlier than joined, at least one purchase once
    bought, deals no more than purchases."""
    purchases = table[PURCHASES].sum(axis=1)
    return ((table["Recency"] <= _tenure(table)) & (purchases >= 1)
            & (table["NumDealsPurchases"] <= purchases))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), days=st.integers(1, 60), rows=st.integers(120, 400))
def test_aging_keeps_customers_possible(seed, days, rows):
    """Issue 33 (ID 11214 joined 06-07-2014 with Recency 57): every customer the aged table
    adds is possible, and every possible customer stays so; none joins after the as-of date;
    a customer's purchases and spend never fall, and one who bought has one purchase more."""
    before = sample.generate(rows, seed=seed)
    after = sample.age(before, days, seed=seed + 1)
    assert (_tenure(after) >= 0).all(), "nobody joins after the as-of date"
    kept = after.merge(before, on="ID", suffixes=("", "_before"))
    new = ~after["ID"].isin(before["ID"])
    joined, possible = after.loc[new], _possible(after)  # as of the whole table's date
    assert new.any() and possible[new].all(), joined[~possible[new]].head()
    was_possible = after["ID"].isin(before.loc[_possible(before), "ID"])
    assert possible[was_possible].all()
    now = kept[PURCHASES].sum(axis=1)
    then = kept[[f"{c}_before" for c in PURCHASES]].sum(axis=1).to_numpy()
    bought = (kept["Recency"] < kept["Recency_before"] + days).to_numpy()
    assert (now[bought] == then[bought] + 1).all() and (now[~bought] == then[~bought]).all()
    for column in SPEND_COLUMNS:
        assert (kept[column] >= kept[f"{column}_before"]).all()


def _without_recency(text: bytes) -> bytes:
    return b"".join(b",".join(f for i, f in enumerate(line.split(b",")) if i != 8)
                    for line in text.splitlines(keepends=True))


AGE_FAULTS = {  # the --age file, from the real table's bytes -> the one line printed
    "missing": (None, "missing.csv: no such file; give --age the customer CSV to age"),
    "empty": (lambda text: b"", "empty.csv: the file is empty; check the export"),
    "no Recency": (_without_recency, "no Recency.csv: missing required column Recency; the export "
                                     "must have all 22 SmartCart columns"),
    "semicolons": (lambda text: text.replace(b",", b";"),
                   "semicolons.csv: --age reads a UTF-8, comma-separated CSV, as `reporter sample` "
                   "writes it"),
    "a word for a year": (lambda text: text.replace(b",1957,", b",nineteen57,", 1),
                          "a word for a year.csv: column Year_Birth: line 2 holds 'nineteen57', not "
                          "a number"),
    "ISO dates": (lambda text: text.replace(b",04-09-2012,", b",2012-09-04,", 1),
                  "ISO dates.csv: column Dt_Customer: line 2 holds '2012-09-04'; --age reads join "
                  "dates written dd-mm-YYYY"),
}


@pytest.mark.parametrize("fault", AGE_FAULTS)
def test_sample_age_refuses_a_table_it_cannot_age_in_one_line(tmp_path, real_table, fault):
    """`reporter sample --age` read any file with pandas: a missing column was `KeyError:
    'Recency'` and a traceback, an empty file `EmptyDataError`; each is one line, exit 2,
    and no file written."""
    from tests.conftest import run_main

    edit, expected = AGE_FAULTS[fault]
    source = tmp_path / f"{fault}.csv"
    if edit is not None:
        source.write_bytes(edit(real_table.read_bytes()))
    out = tmp_path / "aged.csv"
    result = run_main("sample", "--age", str(source), "--out", str(out))
    assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
    assert result.stderr.startswith(f"reporter: error: {tmp_path}/{expected}"), result.stderr
    assert not out.exists()


def test_sample_age_of_the_real_table_ages_its_values_as_written(tmp_path, real_table):
    """The checks read the table; what is aged is the file as pandas reads it, as before."""
    from tests.conftest import run_main

    out = tmp_path / "aged.csv"
    assert run_main("sample", "--age", str(real_table), "--seed", "3", "--out", str(out)).returncode == 0
    expected = sample.write(sample.age(pd.read_csv(real_table), 7, seed=3), tmp_path / "expected.csv")
    assert out.read_bytes() == expected.read_bytes()
