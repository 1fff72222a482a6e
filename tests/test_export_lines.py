"""The export files cut from CSV lines formatted once (personas/csvrows.py) are byte-equal to
what Arrow's writer writes file by file (`write_csv`, the writer before it): every column kind
of customers.csv, text a spreadsheet would run as a formula, quotes, commas, line breaks,
missing values, subsets in any order, a column subset in another order and control_groups.csv's
leading list name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporter.personas.control import control_file, control_rows
from reporter.personas.csvrows import CsvRows, formattable
from reporter.personas.exports import flag_list, flag_rows, next_campaign_list, next_campaign_rows, write_csv

HOSTILE = ["", "=1+1", "+33 6", "-5", "@SUM(A1)", "\tx", "\rx", 'say "hi"', "a,b", "two\nlines",
           "é ü 中", "'quoted", "plain", "=HYPERLINK(\"x\")", " =lead"]
STAMP = (("run_id", "=run,1"), ("as_of", "2024-06-30"))


def customers(rows: int, seed: int) -> pd.DataFrame:
    """A customers.csv-like frame with every kind of cell the exports hold."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50_000, 20_000, rows).round(4)
    income[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame({
        "ID": rng.permutation(rows * 3)[:rows].astype(np.int64),
        "other_ids": pd.array(rng.choice([*HOSTILE, None], rows), dtype=object),
        "persona": pd.Categorical(rng.choice(["Loyal", "=Evil", 'Q"uote', "a,b"], rows)),
        "cluster": rng.integers(0, 6, rows),
        "flag_churn_risk": rng.integers(0, 2, rows).astype(np.int8),
        "flag_vip": rng.integers(0, 2, rows).astype(np.int8),
        "income": income,
        "total_spending": rng.integers(0, 3000, rows).astype(float),
        "deal_share": rng.random(rows).round(4),
        "days": np.where(rng.random(rows) < 0.1, np.nan, rng.integers(-400, 4000, rows)),
        "big": rng.choice([1e10, 9_999_999_999.0, 3.0], rows),
        "negzero": rng.choice([-0.0, 0.0, 2.0], rows),
        "tiny": rng.choice([1e-7, -0.0, 1e16, 123456789012.0, 0.1 + 0.2, -5.25], rows),
        "responded": rng.integers(0, 2, rows).astype(np.int8),
        "p_response": rng.random(rows).round(6),
        "control_churn_risk": (rng.random(rows) < 0.1).astype(np.int8),
        "control_next_campaign": (rng.random(rows) < 0.1).astype(np.int8),
    })


def written(tmp_path, name, write) -> bytes:
    path = tmp_path / name
    write(path)
    return path.read_bytes()


@pytest.mark.parametrize("rows,chunk_rows,stamp", [(3000, 700, STAMP), (2500, 100_000, STAMP),
                                                   (0, 1000, STAMP), (1500, 400, ())])
def test_every_file_is_byte_equal_to_arrows_writer(tmp_path, rows, chunk_rows, stamp):
    frame = customers(rows, seed=rows)
    segments = ["ID", "cluster", "persona", "flag_churn_risk", "flag_vip"]
    lines = CsvRows(frame, stamp, {"segments": segments}, chunk_rows)
    order = np.random.default_rng(1).permutation(rows)[: rows // 3]
    groups = control_rows(frame, ("churn_risk", "next_campaign", "absent"))
    pairs = {
        "customers": (lambda p: lines.write(p), lambda p: write_csv(frame, p, chunk_rows, stamp)),
        "segments": (lambda p: lines.write(p, layout="segments"),
                     lambda p: write_csv(frame[segments], p, chunk_rows, stamp)),
        "subset": (lambda p: lines.write(p, order),
                   lambda p: write_csv(frame.iloc[order], p, chunk_rows, stamp)),
        "control": (lambda p: lines.write_groups(p, groups),
                    lambda p: write_csv(control_file(frame, ("churn_risk", "next_campaign", "absent")), p,
                                        chunk_rows, stamp)),
    }
    for name, (new, old) in pairs.items():
        assert written(tmp_path, f"new-{name}.csv", new) == written(tmp_path, f"old-{name}.csv", old), name
    if rows:
        assert b"'=1+1" in (tmp_path / "new-customers.csv").read_bytes()  # neutralised, not dropped


def test_call_list_rows_are_the_lists_order():
    frame = customers(3000, seed=7)
    ranking = pd.Series(np.random.default_rng(2).integers(0, 50, 3000).astype(float))
    rows = flag_rows(frame, "Churn Risk", ranking)
    held = frame["control_churn_risk"]
    expected = sorted((i for i in range(3000) if frame["flag_churn_risk"][i] and not held[i]),
                      key=lambda i: (-ranking[i], frame["ID"][i]))
    assert rows.tolist() == expected
    assert flag_list(frame, "Churn Risk", ranking).index.tolist() == expected
    top = sorted(range(3000), key=lambda i: (-frame["p_response"][i], frame["ID"][i]))[:300]
    contacted = [i for i in top if not frame["control_next_campaign"][i]]
    assert next_campaign_rows(frame, 300).tolist() == contacted
    assert next_campaign_list(frame, 300).index.tolist() == next_campaign_rows(frame, 300).tolist()


def test_a_column_kind_the_lines_do_not_format_is_left_to_arrows_writer():
    frame = customers(10, seed=3)
    assert formattable(frame)
    assert not formattable(frame.assign(when=pd.Timestamp("2024-01-01")))
