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
