"""The array path (model/arrays.py, data/records.py) against the table path it stands in for:
the same segment, persona, flags, features and p_response for every customer of the real
table and of 10,000 generated ones, edge cases included (missing incomes, one person under
two IDs, exact duplicates, unknown categories, padded text); the same refusals, by the same
messages; and new customers without Response, Complain or AcceptedCmp1-5 answered by
`reporter assign` and the API. One model, fitted once per worker (tests/support's archived
run), scores everything both ways."""

from __future__ import annotations

import io
import json
import re
from dataclasses import astuple, replace
from datetime import datetime
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from reporter.app.api import create_app
from reporter.app.api.customers import INLINE_MAX, LAYOUT, ZEROS, answers_of, scored, sent_columns
from reporter.app.api.requests import (
    Customer,
    _all_plainly_valid,
    _field_problems,
    _plainly_valid,
    customers_of,
    nesting,
)
from reporter.app.api.swap import Served
from reporter.app.archived import assign_new
from reporter.app.params import clean_params, configured_source_key, control_params
from reporter.app.settings import load_config
from reporter.data import sample
from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import load
from reporter.data.records import typed_columns, typed_records
from reporter.data.schema import CAMPAIGN_COLUMNS, COLUMNS, MAX_COUNT, NEWCOMER_ZEROS, WHOLE_RANGES
from reporter.errors import DataError
from reporter.history.catalogue import runs_of
from reporter.model import arrays
from reporter.model.arrays import prepare
from reporter.model.artefact import read_model
from reporter.model.predictions import predictions
from reporter.model.score_new import score_with, scoring_date
from reporter.personas.exports import write_csv
from reporter.predict import saved
from reporter.predict.lifetime import LifetimeCheck, SavedLifetime
from tests.api_server import customer_rows
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def ready(archived_once):
    """The archived run's model as the API serves it (prepared for the array path). That run
    waits for its send time, so nobody received it yet and serve would not pick it: it is
    handed over as the swap would."""
    config = load_config(archived_once.config)
    (run,) = runs_of(config.output_dir, configured_source_key(config))
    model = read_model(run.folder).model
    assert model is not None and model.propensity is not None, "a model with a propensity"
    return config, Served(model, run, prepare(model))


def _with_edge_cases(table: pd.DataFrame) -> pd.DataFrame:
    """The export's text with what the clean stage repairs: incomes left empty, one person
    sent under a second ID, an exact duplicate row, categories nobody mapped, padded text."""
    table = table.copy()
    table.loc[table.index[:7], "Income"] = ""
    table.loc[table.index[7:10], "Education"] = ["Doctorate", "  PhD ", "kindergarten"]
    table.loc[table.index[10:13], "Marital_Status"] = ["YOLO", " Married", "Absurd"]
    twins = table.iloc[20:26].assign(ID=lambda t: (t["ID"].astype(int) + 10_000_000).astype(str))
    return pd.concat([table, twins, table.iloc[[30, 31]]], ignore_index=True)


def _both_paths(served, raw, cleaning):
    fast = score_with(served.ready, "run", raw, cleaning, fast=True).frame
    table = score_with(served.model, "run", raw, cleaning, fast=False).frame
    return fast, table


def _features_both_ways(model, raw, cleaning):
    """The features and unrounded predictions each path computes."""
    as_of = scoring_date(model, raw.frame["Dt_Customer"].max().date())
    columns = {name: raw.frame[name].to_numpy() for name in raw.frame.columns}
    fast = arrays.feature_columns(arrays._cleaned(arrays._distinct(columns), model.income_fill), as_of, model)
    customers = clean(raw, replace(cleaning, duplicates="keep"), as_of, income_fill=model.income_fill)
    table = build_features(customers, rfm=model.rfm).frame
    return fast, table


@pytest.mark.parametrize("which", ["real", "generated"])
def test_both_paths_answer_alike_for_every_customer(ready, real_table, tmp_path, which):
    config, served = ready
    cleaning = clean_params(config.settings)
    text = pd.read_csv(real_table, dtype=str, keep_default_na=False) if which == "real" else \
        sample.generate(arrays.FAST_MAX - 8, seed=36).astype(str).replace({"<NA>": "", "nan": ""})
    path = tmp_path / "customers.csv"
    _with_edge_cases(text).to_csv(path, index=False)
    raw = load(path, newcomers=True)
    assert len(raw.frame) <= arrays.FAST_MAX and raw.frame["Income"].isna().sum() >= 7
    fast, table = _both_paths(served, raw, cleaning)
    pd.testing.assert_frame_equal(fast, table, check_exact=True)
    assert {"p_response", "persona", "cluster"} <= set(fast.columns)
    assert any(c.startswith("flag_") for c in fast.columns)
    twins = fast[fast["other_ids"].ne("")]
    assert len(twins) >= 12, "each of the pair names the other"
    features, frame = _features_both_ways(served.model, raw, cleaning)
    for name in features:
        assert np.array_equal(np.asarray(features[name]), frame[name].to_numpy()), name
    p_fast = predictions(served.model, features)["p_response"]
    p_table = predictions(served.model, frame)["p_response"]
    assert np.abs(p_fast - p_table).max() <= 1e-12


def test_both_paths_score_the_lifetime_model_alike(ready, tmp_path):
    """With a saved BG/NBD and Gamma-Gamma (the real table's fit is refused, so one is given
    the generator's truth) both paths give the same p_alive, purchases_90d and clv_12m, and the
    starter Churn Risk flag, which tests p_alive, flags the same customers."""
    config, served = ready
    truth = sample.LifetimeTruth(r=0.8, alpha=8.0, a=0.8, b=2.5, p=6.0, q=4.0, v=15.0)
    check = LifetimeCheck(1.0, 1.0, 1.0, 1.0)
    model = replace(served.model, lifetime=SavedLifetime(*astuple(truth), rows_fitted=2_000,
                                                         repeaters=1_500, check=check))
    table = sample.with_lifetime(sample.generate(2_000, seed=34), truth, seed=34)
    path = tmp_path / "customers.csv"
    table.to_csv(path, index=False)
    raw = load(path, newcomers=True)
    fast = score_with(prepare(model), "run", raw, clean_params(config.settings), fast=True).frame
    slow = score_with(model, "run", raw, clean_params(config.settings), fast=False).frame
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert {"p_alive", "purchases_90d", "clv_12m"} <= set(fast.columns)
    assert 0 <= fast["p_alive"].min() < 0.5 < fast["p_alive"].max() <= 1
    without = score_with(served.model, "run", raw, clean_params(config.settings), fast=True).frame
    assert "p_alive" not in without
    churn = "flag_churn_risk"
    assert churn in fast and fast[churn].sum() < without[churn].sum(), "p_alive < 0.5 narrows the flag"


def _sent(customers: list[dict]) -> list[dict]:
    return [{**ZEROS, **customer} for customer in customers]


def test_the_api_answers_alike_on_both_paths(ready, real_table):
    """Customers as JSON: the real table (dates as YYYY-MM-DD, and as the export writes them),
    with incomes null or left out, one person under two IDs, unknown categories, and no
    Response, Complain or campaign columns."""
    config, served = ready
    cleaning = clean_params(config.settings)
    customers = customer_rows(pd.read_csv(real_table, dtype=str, keep_default_na=False))
    customers[0]["Income"] = None
    del customers[1]["Income"]
    customers[2] = {**customers[2], "Education": "Doctorate", "Marital_Status": " YOLO "}
    customers.append({**customers[3], "ID": 99_000_001})
    for customer in customers[4:40]:
        for column in NEWCOMER_ZEROS:
            customer.pop(column, None)
    for batch in (customers, customers[:1], customers[1:4], [customers[3], customers[-1]]):
        fast = scored(served, _sent(batch), cleaning, None, fast=True)
        table = scored(served, _sent(batch), cleaning, None, fast=False)
        assert fast.keys() == table.keys()
        for name in table:
            assert np.array_equal(fast[name], table[name]), name
        answers = answers_of(fast, batch)
        assert [a["customer_id"] for a in answers] == [c["ID"] for c in batch]
        assert all(0 <= a["p_response"] <= 1 for a in answers)
    ddmm = [{**c, "Dt_Customer": "-".join(reversed(c["Dt_Customer"].split("-")))} for c in customers[:50]]
    assert typed_records(_sent(ddmm), None, datetime.now()) is not None
    assert answers_of(scored(served, _sent(ddmm), cleaning, None), ddmm) == \
        answers_of(scored(served, _sent(customers[:50]), cleaning, None), customers[:50])


REFUSED_BY_LOAD = {  # what the field checks pass and load refuses: the array path leaves it to load
    "a join date after today": {"Dt_Customer": "2999-01-01"},
    "a join date before 1900": {"Dt_Customer": "1899-12-31"},
    "no such day": {"Dt_Customer": "2014-02-30"},
    "not a date": {"Dt_Customer": "yesterday"},
    "a text of 201 characters": {"Education": "x" * 201},
}


@pytest.mark.parametrize("case", sorted(REFUSED_BY_LOAD))
def test_what_load_refuses_is_refused_alike(ready, real_table, case):
    config, served = ready
    customers = customer_rows(pd.read_csv(real_table, dtype=str, keep_default_na=False).head(3))
    customers[1] = {**customers[1], **REFUSED_BY_LOAD[case]}
    assert typed_records(_sent(customers), None, datetime.now()) is None
    messages = []
    for fast in (True, False):
        with pytest.raises(DataError) as refused:
            scored(served, _sent(customers), clean_params(config.settings), None, fast=fast)
        messages.append(str(refused.value))
    assert messages[0] == messages[1] and "customer 1" in messages[0]


def test_an_id_sent_twice_with_other_values_is_refused_alike(ready, real_table):
    config, served = ready
    customers = customer_rows(pd.read_csv(real_table, dtype=str, keep_default_na=False).head(2))
    customers[1] = {**customers[1], "ID": customers[0]["ID"]}
    messages = []
    for fast in (True, False):
        with pytest.raises(DataError) as refused:
            scored(served, _sent(customers), clean_params(config.settings), None, fast=fast)
        messages.append(str(refused.value))
    assert messages[0] == messages[1]
    same = scored(served, _sent([customers[0], dict(customers[0])]), clean_params(config.settings), None)
    assert len(same["ID"]) == 1  # sent twice alike: one customer, answered twice
    assert len(answers_of(same, [customers[0], customers[0]])) == 2


def _field_cases() -> list[dict]:
    base = {column: "x" if column in ("Education", "Marital_Status") else 1 for column in COLUMNS}
    base["Dt_Customer"] = "2014-06-29"
    cases = [base, {**base, "Income": None}, {k: v for k, v in base.items() if k != "Income"},
             {k: v for k, v in base.items() if k not in NEWCOMER_ZEROS}, {**base, "Income": 1.5},
             {**base, "Income": -1}, {**base, "Income": MAX_COUNT + 1}, {**base, "Income": float("nan")},
             {**base, "Income": True}, {**base, "Income": "1"}, {**base, "Education": 3},
             {**base, "Dt_Customer": " "}, {**base, "Dt_Customer": 20140629}, {**base, "Colour": "red"},
             [base], "customer", {k: v for k, v in base.items() if k != "Recency"}]
    for column, (low, high) in WHOLE_RANGES.items():
        cases += [{**base, column: value} for value in
                  (low, high, float(high), high + 1, low - 1, 1.5, float("inf"), True, None, "1")]
    return cases


def test_the_quick_field_check_passes_exactly_what_the_request_model_passes():
    """_plainly_valid lets a customer skip pydantic only when pydantic would pass it, so the
    422s are pydantic's as before, per customer and field."""
    for case in _field_cases():
        try:
            Customer.model_validate(case)
            accepted = True
        except Exception:
            accepted = False
        assert _plainly_valid(case) == accepted, case
        assert (_field_problems(case, 0) == []) == accepted


def test_out_of_range_values_get_the_same_422(real_table):
    customers = customer_rows(pd.read_csv(real_table, dtype=str, keep_default_na=False).head(3))
    customers[1]["MntWines"] = 2**63
    with pytest.raises(HTTPException) as refused:
        customers_of({"customers": customers}, 10)
    assert refused.value.status_code == 422
    expected = f"expected a whole number from 0 to 100,000,000, got {2**63}"
    assert refused.value.detail == [{"customer": 1, "customer_id": customers[1]["ID"], "field": "MntWines",
                                     "problem": expected}]


def _nesting_by_regexes(body: bytes) -> int:
    """The depth as it was counted before (strings cut out by regular expressions)."""
    structure = re.sub(rb'"[^"]*"', b"", re.sub(rb"\\.", b"", body, flags=re.DOTALL))
    depth = best = 0
    for byte in structure:
        depth += {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}.get(byte, 0)
        best = max(best, depth)
    return best


@pytest.mark.parametrize("body", [b"{}", b"[[[]]]", b'{"a": "[[[["}', b'{"a": "x\\"[[", "b": [[1]]}',
                                  b'["]]]", [[1]]]', b'{"a": "\\\\", "b": [[[[]]]]}', b'"{{{"', b"",
                                  b'{"customers": [' + b'{"Education": "[{"}, ' * 50 + b"{}]}"])
def test_nesting_counts_as_before(body):
    assert nesting(body) == _nesting_by_regexes(body)


def _without_newcomer_columns(real_table, tmp_path):
    text = pd.read_csv(real_table, dtype=str, keep_default_na=False).head(60)
    path = tmp_path / "sign_ups.csv"
    text.drop(columns=[c for c in NEWCOMER_ZEROS if c in text]).to_csv(path, index=False)
    return text, path


@pytest.mark.e2e
def test_assign_scores_sign_ups_without_response_complain_or_campaigns(archived_once, real_table, tmp_path):
    """A sign-up has answered no campaign: `reporter assign` reads the missing columns as 0
    and answers p_response (main refused: missing required columns Complain, Response)."""
    text, path = _without_newcomer_columns(real_table, tmp_path)
    assigned = run_cli("assign", "--config", str(archived_once.config), "--data", str(path),
                       "--run", archived_once.run_id)
    assert assigned.returncode == 0, assigned.stderr
    answered = pd.read_csv(StringIO(assigned.stdout))
    assert answered["ID"].tolist() == sorted(text["ID"].astype(int))
    assert answered["p_response"].between(0, 1).all()
    zeros = text.assign(Complain="0", Response="0", **dict.fromkeys(CAMPAIGN_COLUMNS, "0"))
    zeros.to_csv(tmp_path / "zeros.csv", index=False)
    expected = assign_new(load_config(archived_once.config), tmp_path / "zeros.csv", archived_once.run_id)
    written = io.BytesIO()
    write_csv(expected.frame, written, stamp=expected.stamp)
    assert assigned.stdout == written.getvalue().decode()  # the same as with the zeros written out
    # the real table refuses the lifetime model: Churn Risk's p_alive line is judged without,
    # and assign says so as the weekly brief does (main said nothing)
    assert any('flag "Churn Risk"' in note and "p_alive" in note for note in expected.notes)
    assert [line for line in assigned.stderr.splitlines() if line.startswith("note: ")] == \
        [f"note: {note}" for note in expected.notes]


def test_the_api_answers_a_sign_up_without_response_complain_or_campaigns(ready, real_table):
    config = ready[0]
    customers = customer_rows(pd.read_csv(real_table, dtype=str, keep_default_na=False).head(3))
    sign_ups = [{k: v for k, v in c.items() if k not in NEWCOMER_ZEROS} for c in customers]
    app = create_app(config)
    app.state.archive.served = ready[1]
    with TestClient(app) as client:
        one = client.post("/v1/assign", json=sign_ups[0])
        batch = client.post("/v1/assign", json={"customers": sign_ups})
        schema = client.get("/openapi.json").json()
    assert one.status_code == 200, one.text
    assert 0 <= one.json()["p_response"] <= 1 and one.json()["customer_id"] == customers[0]["ID"]
    assert batch.status_code == 200, batch.text
    assert [a["customer_id"] for a in batch.json()["customers"]] == [c["ID"] for c in customers]
    assert batch.json()["customers"][0] == {k: v for k, v in one.json().items()
                                            if k not in ("run_id", "as_of", "model_fitted_in_run")}
    required = json.dumps(schema["paths"]["/v1/assign"]["post"]["requestBody"])
    assert '"Response"' in required and all(f'"{c}"' not in _required_list(schema) for c in NEWCOMER_ZEROS)


def _required_list(schema: dict) -> str:
    body = schema["paths"]["/v1/assign"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return json.dumps(body["oneOf"][0]["required"])


def test_assign_over_fast_max_takes_the_table_path(ready, monkeypatch, real_table):
    """The batch path stays for large batches: past FAST_MAX the array path is not taken."""
    config, served = ready
    raw = load(real_table, newcomers=True)
    monkeypatch.setattr("reporter.model.score_new.score_arrays", None)  # calling it would fail
    monkeypatch.setattr("reporter.model.score_new.FAST_MAX", 100)
    frame = score_with(served.ready, "run", raw, clean_params(config.settings)).frame
    assert len(frame) == len(raw.frame.drop_duplicates()) and frame["p_response"].notna().all()


def _answers_row_by_row(table: dict, customers: list[dict]) -> list[dict]:
    """answers_of as it was written before it went column by column (the reference)."""
    flags = [c for c in table if c.startswith("flag_")]
    held = [c for c in table if c.startswith("control_")]
    predicted = [c for c in table if c not in LAYOUT and c not in flags and c not in held]
    answer_of: dict[int, dict] = {}
    rows = zip(table["ID"].tolist(), table["cluster"].tolist(), table["persona"].tolist(),
               *(table[name].tolist() for name in ("r_score", "f_score", "m_score", *flags, *held,
                                                   *predicted)), strict=True)
    for customer_id, cluster, persona, r, f, m, *rest in rows:
        if customer_id in answer_of:
            continue
        on, back = dict(zip(flags, rest, strict=False)), dict(zip(held, rest[len(flags):], strict=False))
        control = [name.removeprefix("control_") for name, value in back.items() if value]
        answer_of[customer_id] = {
            "customer_id": customer_id, "segment": int(cluster), "persona": persona,
            "flags": [name.removeprefix("flag_") for name, value in on.items()
                      if value and name.removeprefix("flag_") not in control],
            "control": control, "rfm": {"r_score": int(r), "f_score": int(f), "m_score": int(m)},
            **dict(zip(predicted, rest[len(flags) + len(held):], strict=True))}
    return [answer_of[int(customer["ID"])] for customer in customers]


def _sent_customers(real_table) -> list[dict]:
    """The real table as JSON customers, with what the column-wise passes must get right: an
    unknown and a left-out income, whole numbers sent as 3.0, padded text, one person under
    two IDs and one customer sent twice."""
    customers = customer_rows(pd.read_csv(real_table, dtype=str, keep_default_na=False))
    customers[0]["Income"] = None
    customers[2] = {**customers[2], "Education": " PhD ", "Marital_Status": "YOLO", "MntWines": 12.0}
    customers += [{**customers[3], "ID": 99_000_001}, dict(customers[5])]
    return customers


def test_the_answers_are_as_row_by_row(ready, real_table):
    """answers_of (flag lists worked out once per combination) gives what the row-by-row code
    gave, control groups included (a share large enough that some customers are held back)."""
    config, served = ready
    customers = _sent_customers(real_table)
    control = replace(control_params(config.settings), share=0.5)
    table = scored(served, customers, clean_params(config.settings), None, control=control)
    assert any(name.startswith("control_") and table[name].any() for name in table)
    for batch in (customers, customers[:1], customers[-3:]):
        part = scored(served, batch, clean_params(config.settings), None, control=control)
        assert answers_of(part, batch) == _answers_row_by_row(part, batch)
    assert any(a["control"] for a in answers_of(table, customers))


def test_column_wise_typing_is_record_typing(real_table):
    """typed_columns over sent_columns (one pass per column, ZEROS filled in per column) types
    exactly what typed_records types over each customer filled in; both refuse alike."""
    customers = _sent_customers(real_table)
    sign_ups = [{k: v for k, v in c.items() if k not in (*NEWCOMER_ZEROS, "Income")} for c in customers[:40]]
    ddmm = [{**c, "Dt_Customer": "-".join(reversed(c["Dt_Customer"].split("-")))} for c in customers[:40]]
    now = datetime.now()
    for batch, date_format in ((customers, None), (customers[:1], None), (sign_ups, None), (ddmm, None),
                               (ddmm, "%d-%m-%Y")):
        by_column = sent_columns(batch)
        assert by_column is not None
        expected = typed_records(_sent(batch), date_format, now)
        found = typed_columns(by_column, date_format, now)
        assert expected is not None and found.keys() == expected.keys()
        for name in expected:
            assert found[name].dtype == expected[name].dtype, name
            assert np.array_equal(found[name], expected[name], equal_nan=name == "Income"), name
    for case in REFUSED_BY_LOAD.values():
        refused = [customers[0], {**customers[1], **case}]
        assert typed_columns(sent_columns(refused), None, now) is None
    assert sent_columns([customers[0], {k: v for k, v in customers[1].items() if k != "Income"}]) is None


def test_the_column_wise_field_check_passes_exactly_what_the_quick_check_passes():
    """_all_plainly_valid (a pass per column) agrees with _plainly_valid customer by customer
    for every field case, alone and among valid customers of the same fields."""
    cases = _field_cases()
    base = cases[0]
    for case in cases:
        for batch in ([case], [base, case], [case, base, base]):
            assert _all_plainly_valid(batch) == all(map(_plainly_valid, batch)), batch
    assert _all_plainly_valid([base, {**base, "Recency": 3.0}])


def test_other_ids_are_found_as_by_comparing_every_column(ready, real_table):
    """The probe columns only narrow the search: the same person under two IDs is found, and
    two customers alike in the probe columns but not in another are not one person."""
    customers = _sent_customers(real_table)[:300]
    customers += [{**customers[7], "ID": 99_000_002, "MntFruits": customers[7]["MntFruits"] + 1},
                  {**customers[8], "ID": 99_000_003}, {**customers[8], "ID": 99_000_004},
                  {**customers[3], "ID": 99_000_001}, dict(customers[5])]
    columns = arrays._distinct(typed_records(_sent(customers), None, datetime.now()))
    found = arrays._other_ids(columns)
    rows = arrays._rows({name: values for name, values in columns.items() if name != "ID"})
    ids = columns["ID"].tolist()
    expected = [" ".join(str(other) for other, alike in zip(ids, rows, strict=True)
                         if alike == row and other != me) for me, row in zip(ids, rows, strict=True)]
    assert found.tolist() == expected
    assert sum(bool(text) for text in expected) >= 5  # 99_000_001's pair, 99_000_003/4's trio


def test_p_response_of_a_few_customers_is_the_column_by_column_sum(ready, real_table, monkeypatch):
    """The design columns clipped and weighted as one matrix give the same bits."""
    served = ready[1]
    model = served.model
    customers = _sent_customers(real_table)
    columns = typed_records(_sent(customers[:1000]), None, datetime.now())
    as_of = scoring_date(model, columns["Dt_Customer"].max().astype(object))
    cleaned = arrays._cleaned(arrays._distinct(columns), model.income_fill)
    features = arrays.feature_columns(cleaned, as_of, model)
    first = {size: {name: values[:size] for name, values in features.items()} for size in (1, 7, 1000)}
    stacked = {size: saved._linear_score(model.propensity, part) for size, part in first.items()}
    monkeypatch.setattr(saved, "STACKED_MAX", -1)
    for size, found in stacked.items():
        assert np.array_equal(found, saved._linear_score(model.propensity, first[size])), size


def test_a_few_customers_are_scored_without_a_thread_hand_off(ready, real_table, monkeypatch):
    """Up to INLINE_MAX customers are scored on the event loop (the hand-off to a worker
    thread and back cost more than they do); a larger batch still goes to a worker thread,
    so health checks are answered while it is scored."""
    config, served = ready
    handed: list[int] = []

    async def counted(function, *args):
        handed.append(len(args[1]))  # _score(served, customers, ...)
        return function(*args)

    monkeypatch.setattr("reporter.app.api.customers.run_in_threadpool", counted)
    customers = customer_rows(pd.read_csv(real_table, dtype=str, keep_default_na=False).head(INLINE_MAX + 1))
    app = create_app(config)
    app.state.archive.served = served
    with TestClient(app) as client:
        answers = [client.post("/v1/assign", json=customers[0]),
                   client.post("/v1/assign", json={"customers": customers[:INLINE_MAX]}),
                   client.post("/v1/assign", json={"customers": customers})]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert len(answers[2].json()["customers"]) == INLINE_MAX + 1
    assert handed == [INLINE_MAX + 1]
