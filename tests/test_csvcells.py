"""No CSV the tool writes hands a spreadsheet or a CRM a formula: every text cell that starts
with = + - @, a tab or a carriage return is written with a ' in front (the OWASP rule), while
numbers, negative ones included, are written as they are."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.personas.exports import write_csv
from tests.conftest import run_main

FORMULA_STARTS = "=+-@\t\r"  # the OWASP list, written out here rather than imported

HOSTILE_EDUCATION = ["=cmd|' /C calc'!A0", "+1", "-2", "@x", "\t=1+1", "\r=1+1", "Graduation", ""]
STAMP = (("run_id", "20240630-0800"), ("as_of", "2024-06-30"))


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def expected(value: str) -> str:
    return "'" + value if value[:1] and value[0] in FORMULA_STARTS else value


def hostile_frame() -> pd.DataFrame:
    rows = len(HOSTILE_EDUCATION)
    return pd.DataFrame({
        "ID": np.arange(rows) - 3,  # -3 ... 4: numbers, never quoted
        "customer_ref": [f"{-i}" if i % 2 else f"C{i}" for i in range(rows)],  # IDs as text
        "Education": HOSTILE_EDUCATION,
        "Marital_Status": pd.Categorical(["@SUM(1+1)*cmd|'/C calc'!A0", "Single"] * (rows // 2)),
        "notes": pd.Series(["-note", None] * (rows // 2), dtype=object),
        "income": np.linspace(-5, 5, rows),
        "recency": np.arange(rows, dtype=np.int64) * -1,
    })


def test_formula_text_is_neutralised_in_every_text_column_and_numbers_are_not():
    buffer = io.BytesIO()
    frame = hostile_frame()
    write_csv(frame, buffer, chunk_rows=3, stamp=STAMP)  # chunks of 3: each chunk on its own
    rows = rows_of(buffer.getvalue())
    assert [r["Education"] for r in rows] == [expected(v) for v in HOSTILE_EDUCATION]
    assert [r["Education"] for r in rows][:6] == ["'=cmd|' /C calc'!A0", "'+1", "'-2", "'@x",
                                                  "'\t=1+1", "'\r=1+1"]
    assert [r["customer_ref"] for r in rows] == [expected(v) for v in frame["customer_ref"]]
    assert rows[1]["customer_ref"] == "'-1"
    assert {r["Marital_Status"] for r in rows} == {"'@SUM(1+1)*cmd|'/C calc'!A0", "Single"}
    assert [r["notes"] for r in rows] == ["'-note", ""] * 4
    assert [r["ID"] for r in rows] == [str(i) for i in range(-3, 5)]
    assert [float(r["income"]) for r in rows] == pytest.approx(list(frame["income"]))
    assert rows[0]["income"] == "-5" and rows[0]["recency"] == "0" and rows[1]["recency"] == "-1"
    assert {(r["run_id"], r["as_of"]) for r in rows} == {STAMP[0][1:] + STAMP[1][1:]}


def test_a_formula_stamp_is_neutralised_too():
    buffer = io.BytesIO()
    write_csv(pd.DataFrame({"ID": [1]}), buffer, stamp=(("run_id", "=1+1"),))
    assert rows_of(buffer.getvalue()) == [{"ID": "1", "run_id": "'=1+1"}]


def test_the_app_download_uses_the_same_writer():
    from reporter.personas.exports import csv_bytes

    rows = rows_of(csv_bytes(hostile_frame()))
    assert rows[0]["Education"] == "'=cmd|' /C calc'!A0" and rows[0]["ID"] == "-3"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from([*FORMULA_STARTS, "a", "1", " ", "é", ",", '"', "\n"]),
                        max_size=4), min_size=1, max_size=12))
def test_every_text_cell_reads_back_as_written_or_with_one_quote_in_front(values):
    buffer = io.BytesIO()
    write_csv(pd.DataFrame({"text": pd.Series(values, dtype=object), "n": range(len(values))}), buffer,
              chunk_rows=5)
    assert [r["text"] for r in rows_of(buffer.getvalue())] == [expected(v) for v in values]


def test_spark_exports_neutralise_text_and_keep_numbers(tmp_path: Path, spark):
    from reporter.spark.exports import _one_csv

    frame = hostile_frame()[["ID", "customer_ref", "Education", "notes", "income"]]
    target = tmp_path / "customers.csv"
    _one_csv(spark.createDataFrame(frame.astype({"notes": str}).replace({"None": None})), target,
             (("as_of", "2024-06-30"),))
    rows = rows_of(target.read_bytes())
    assert [r["Education"] for r in rows] == [expected(v) for v in HOSTILE_EDUCATION]
    assert [r["customer_ref"] for r in rows] == [expected(v) for v in frame["customer_ref"]]
    assert [r["notes"] for r in rows] == ["'-note", ""] * 4
    assert [r["ID"] for r in rows] == [str(i) for i in range(-3, 5)]
    assert rows[0]["income"] == "-5" and {r["as_of"] for r in rows} == {"2024-06-30"}


def test_reporter_sample_age_writes_a_user_table_back_neutralised(tmp_path: Path):
    from reporter.data import sample

    hostile = ["=cmd|' /C calc'!A0", "+1", "-2", "@x", "\t=1", "Graduation"]  # pandas leaves \r unquoted
    table = sample.generate(60, seed=2)
    table["Education"] = hostile * 10
    source = tmp_path / "week1.csv"
    table.to_csv(source, index=False)
    out = tmp_path / "week2.csv"
    result = run_main("sample", "--age", str(source), "--days", "7", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"{out}, 7 day(s) after {source}"), result.stdout
    rows = rows_of(out.read_bytes())
    assert [r["Education"] for r in rows[:6]] == [expected(v) for v in hostile]
    assert {r["Recency"] for r in rows} <= {str(i) for i in range(200)}, "numbers unquoted"
