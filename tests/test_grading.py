"""Predictions graded by the archive (history/followup.py, history/grading.py, brief/followup.py):
"bought again" and "a new campaign's answer" read from two exports, calibration tables from
archived customers.csv files read back untrusted, the record in run.json, the appendix and the
app after a real sequence of two runs."""

from __future__ import annotations

import json
import math
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reporter.brief.followup import followup_view
from reporter.data import sample
from reporter.history.catalogue import read_run
from reporter.history.followup import bought_again, campaign_between, responded
from reporter.history.graded import PREDICTIONS, FollowupRecord
from reporter.history.grading import (
    GRADING_FILE,
    OUTCOMES,
    GradingParams,
    calibration_bins,
    grade_earlier,
    write_grading_columns,
)
from reporter.history.record import RunRecord, read_record, write_record
from reporter.personas.exports import write_csv
from reporter.untrusted import UnreadableArchiveFile

EARLIER_AS_OF = date(2014, 6, 29)
Z = 3.29  # two-sided 99.9%: a bin of a calibrated prediction falls outside about once in 1,000


# --- bought again ---------------------------------------------------------------------------

def frame(ids, recency, column="recency"):
    return pd.DataFrame({"ID": ids, column: recency})


def test_bought_again_is_a_reset_recency_counter():
    earlier = frame([1, 2, 3, 4], [10, 10, 10, 95])
    later = frame([1, 2, 3, 4], [3, 17, 16, 2], column="Recency")  # the raw export's name
    got = bought_again(earlier, later, 7)
    assert got.to_dict() == {1: True, 2: False, 3: True, 4: True}  # 17 = 10 + 7: no purchase
    assert got.dtype == bool and got.index.name == "ID"


def test_bought_again_counts_only_customers_in_both_tables_with_a_recency():
    earlier = frame([5, 1, 2, 3], [1, 10, 10, np.nan])
    later = frame([1, 3, 9], [30, 2, 0])  # 2 and 5 left, 9 joined, 3 has no earlier recency
    got = bought_again(earlier, later, 7)
    assert list(got.index) == [1] and not got.loc[1]


@pytest.mark.parametrize("days", [0, -7])
def test_bought_again_needs_a_later_export(days):
    with pytest.raises(ValueError, match="at least a day later"):
        bought_again(frame([1], [5]), frame([1], [1]), days)


@pytest.mark.parametrize("which", ["earlier", "later"])
def test_bought_again_refuses_duplicated_customers(which):
    tables = {"earlier": frame([1, 2], [5, 5]), "later": frame([1, 2], [1, 1])}
    tables[which] = frame([1, 1, 2], [5, 6, 5])
    with pytest.raises(ValueError, match=f"the {which} table holds 1 duplicated"):
        bought_again(tables["earlier"], tables["later"], 7)


def test_bought_again_finds_exactly_who_bought_in_an_aged_export():
    """sample.age gives a buyer one purchase more (below the caps): the truth to compare with."""
    before = sample.generate(2000, seed=11)
    after = sample.age(before, 14, seed=12)
    purchases = ["NumWebPurchases", "NumCatalogPurchases", "NumStorePurchases"]
    truth = (after.set_index("ID")[purchases].sum(axis=1)
             - before.set_index("ID")[purchases].sum(axis=1)).dropna() > 0
    got = bought_again(before, after, 14)
    assert set(got.index) == set(truth.index) and len(got) < len(before)  # leavers not counted
    assert (got == truth.loc[got.index]).all() and 0.05 < got.mean() < 0.95


# --- a new campaign's answer ------------------------------------------------------------------

def answers(values):
    return pd.DataFrame({"ID": np.arange(len(values)), "Response": values})


def test_a_campaign_is_decided_from_how_many_answers_changed():
    rng = np.random.default_rng(3)
    before = answers(rng.random(1000) < 0.15)
    same = campaign_between(before, before)
    assert same.verdict == "none" and "same for all 1,000" in same.sentence
    redrawn = answers(rng.random(1000) < 0.15)
    ran = campaign_between(before, redrawn)
    assert ran.ran and ran.changed == int((before["Response"] != redrawn["Response"]).sum())
    assert (responded(before, redrawn) == redrawn.set_index("ID")["Response"].astype(bool)).all()
    corrected = before.copy()
    corrected.loc[:2, "Response"] = ~corrected.loc[:2, "Response"]
    few = campaign_between(before, corrected)
    assert few.verdict == "undecidable" and "only 3 of 1,000" in few.sentence


# --- calibration tables -----------------------------------------------------------------------

def archived_run(output: Path, customers: pd.DataFrame, as_of: date, run_id: str,
                 planted: bool = False) -> Path:
    """A published run folder as the pipeline leaves it: run.json and customers.csv (written by
    the archive's writer, or `planted` as anyone could write it)."""
    folder = output / f"{as_of:%Y-%m-%d}-{run_id}"
    folder.mkdir(parents=True)
    write_record(RunRecord(run_id=run_id, as_of=as_of.isoformat(),
                           started_at=f"{as_of}T07:00:00+00:00"), folder / "run.json")
    if planted:
        customers.to_csv(folder / "customers.csv", index=False)
    else:
        write_csv(customers, folder / "customers.csv", stamp=(("run_id", run_id), ("as_of", str(as_of))))
    return folder


def world(n: int, seed: int, days: int = 28, claimed_alive=None):
    """Earlier customers with p_alive and p_response, and a later export whose outcomes are
    drawn from those very probabilities (or from `claimed_alive`'s truth when miscalibrated)."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(10 * n, n, replace=False)
    p_alive, p_response = rng.beta(2, 2, n), rng.beta(1, 4, n)
    earlier = pd.DataFrame({"ID": ids, "persona": "Everyone", "recency": rng.integers(0, 70, n),
                            "responded": (rng.random(n) < 0.15).astype(int),
                            "p_response": p_response.round(6), "p_alive": p_alive.round(6)})
    bought = rng.random(n) < p_alive
    later = pd.DataFrame({"ID": ids, "recency": np.where(bought, rng.integers(0, days, n),
                                                         earlier["recency"] + days),
                          "responded": (rng.random(n) < p_response).astype(int)})
    if claimed_alive is not None:
        earlier["p_alive"] = claimed_alive
    return earlier, later


def graded(tmp_path: Path, earlier: pd.DataFrame, later: pd.DataFrame, days: int = 28,
           planted: bool = False) -> FollowupRecord:
    archived_run(tmp_path / "output", earlier, EARLIER_AS_OF, "070000-aaaa", planted)
    runs = [read_run(p) for p in sorted((tmp_path / "output").iterdir())]
    return grade_earlier(runs, later, EARLIER_AS_OF + timedelta(days=days), GradingParams())


def by_prediction(record: FollowupRecord) -> dict:
    return {g.prediction: g for g in record.graded}


def test_calibrated_predictions_fall_within_a_binomial_interval_in_every_bin(tmp_path):
    earlier, later = world(20_000, seed=1)
    record = by_prediction(graded(tmp_path, earlier, later))
    assert set(record) == {"p_alive", "p_response"}  # p_alive graded the day the column exists
    for grade in record.values():
        assert grade.customers == 20_000 and grade.days == 28 and not grade.note
        assert sum(b.customers for b in grade.bins) == 20_000 and len(grade.bins) >= 5
        for b in grade.bins:
            interval = Z * math.sqrt(b.predicted * (1 - b.predicted) / b.customers)
            assert abs(b.observed - b.predicted) <= interval + 0.002, (grade.prediction, b)
            assert b.low <= b.predicted <= b.high
    happened = bought_again(earlier, later, 28)
    p = earlier.set_index("ID")["p_alive"].loc[happened.index].to_numpy()
    happened = happened.to_numpy(float)
    assert record["p_alive"].brier == pytest.approx(np.mean((p - happened) ** 2), abs=1e-4)


def test_a_miscalibrated_prediction_shows_in_the_table(tmp_path):
    """Every customer claimed at 90% alive while 30-70% buy: the top band says so."""
    earlier, later = world(3000, seed=2, claimed_alive=0.92)
    grade = by_prediction(graded(tmp_path, earlier, later))["p_alive"]
    (top,) = grade.bins
    assert (top.low, top.high, top.customers, top.predicted) == (0.9, 1.0, 3000, 0.92)
    assert top.observed < 0.6
    interval = Z * math.sqrt(top.predicted * (1 - top.predicted) / top.customers)
    assert top.predicted - top.observed > 10 * interval
    table = next(t for t in followup_view(FollowupRecord(graded=(grade,))).tables)
    assert table.rows[0].sentence == (f"Of the 3,000 customers we gave 90–100%, {top.observed:.0%} "
                                      "bought again (we expected 92%).")


def test_run_json_s_check_knows_every_graded_prediction():
    assert tuple(OUTCOMES) == PREDICTIONS


def test_small_bins_merge_and_too_few_customers_are_not_graded_yet(tmp_path):
    predicted = np.array([0.05] * 40 + [0.15] * 5 + [0.25] * 40 + [0.95] * 3)
    bins = calibration_bins(predicted, np.zeros(len(predicted), bool), min_bin=30)
    # 10-20% (5) joins 20-30%; the 3 at 90-100% are too few alone and join the band before
    assert [(b.low, b.high, b.customers) for b in bins] == [(0.0, 0.1, 40), (0.1, 1.0, 48)]
    earlier, later = world(80, seed=4)
    grade = by_prediction(graded(tmp_path, earlier, later))["p_alive"]
    assert grade.bins == () and grade.customers == 80
    assert grade.note == "not enough customers yet: 80 in both exports, 100 needed"
    view = followup_view(FollowupRecord(graded=(grade,)))
    assert view.tables[0].note.startswith("not enough customers yet")


def test_p_response_is_not_graded_against_stale_answers(tmp_path):
    earlier, later = world(500, seed=5)
    later["responded"] = earlier["responded"]  # no campaign between the two exports
    grade = by_prediction(graded(tmp_path, earlier, later))["p_response"]
    assert grade.bins == () and grade.brier is None
    assert grade.note == ("not graded: Response is the same for all 500 customers in both "
                          "exports: no new campaign's answers yet")


def test_only_received_briefs_within_the_look_back_are_graded(tmp_path):
    earlier, later = world(300, seed=6)
    output = tmp_path / "output"
    for weeks, run_id in ((1, "070000-000a"), (14, "070000-000b"), (0, "070000-000c")):
        archived_run(output, earlier, EARLIER_AS_OF - timedelta(weeks=weeks), run_id)
    held = archived_run(output, earlier, EARLIER_AS_OF - timedelta(weeks=2), "070000-000d")
    record = json.loads((held / "run.json").read_text())
    (held / "run.json").write_text(json.dumps({**record, "status": "held"}))
    runs = [read_run(p) for p in sorted(output.iterdir())]
    got = grade_earlier(runs, later, EARLIER_AS_OF, GradingParams(lookback_weeks=13))
    assert {g.run_id for g in got.graded} == {"070000-000a"}  # not 14 weeks, not the same day, not held
    assert {g.days for g in got.graded} == {7}


# --- nothing from the archive trusted ---------------------------------------------------------

def _at(column, row, value):
    def change(f):
        f = f.copy()
        f[column] = f[column].astype(object if isinstance(value, str) else float)
        f.loc[row, column] = value
        return f
    return change


REFUSED = "column ID does not hold one whole number per customer; not graded"
HOSTILE = {  # damage to the earlier customers.csv -> its note, predictions graded, not graded
    "ID as text": (lambda f: f.assign(ID=f["ID"].astype(str) + "x"), REFUSED, set(), set()),
    "duplicated IDs": (lambda f: f.assign(ID=f["ID"].where(f.index != 1, f["ID"].iat[0])), REFUSED,
                       set(), set()),
    "no ID": (lambda f: f.drop(columns="ID"), "has no ID column; not graded", set(), set()),
    "huge recency": (_at("recency", 3, 1e300), "column recency holds days out of range; left out",
                     {"p_response"}, {"p_alive"}),
    "probability 5": (_at("p_alive", 3, 5.0), "column p_alive holds probabilities outside 0 to 1; "
                      "left out", {"p_response"}, set()),
    "formula cell": (_at("p_response", 250, '=HYPERLINK("http://x","1")'),
                     "column p_response holds values that are not numbers; left out", {"p_alive"}, set()),
    "answer 2": (_at("responded", 0, 2), "column responded holds values other than 0 and 1; left out",
                 {"p_alive"}, {"p_response"}),
    "infinite": (_at("p_response", 0, np.inf), "column p_response holds missing or infinite values; "
                 "left out", {"p_alive"}, set()),
}


@pytest.mark.parametrize("damage", list(HOSTILE), ids=list(HOSTILE))
def test_a_hostile_archived_customers_csv_is_refused_or_left_out_with_a_note(tmp_path, damage):
    change, note, graded_now, not_graded = HOSTILE[damage]
    earlier, later = world(400, seed=7)
    later["responded"] = 1 - later["responded"]  # a campaign ran: p_response is gradable
    record = graded(tmp_path, change(earlier), later, planted=True)
    assert record.notes == (f"Brief of run 070000-aaaa (customers as of 2014-06-29): customers.csv "
                            f"{note}",)
    assert {g.prediction for g in record.graded if g.bins} == graded_now
    missing = {g.prediction: g.note for g in record.graded if not g.bins}
    assert set(missing) == not_graded
    assert all(n.startswith("not graded: that brief's customers.csv has no ") for n in missing.values())
    assert followup_view(record).lines[-1] == record.notes[-1]  # the appendix lists it


def test_grading_parquet_is_read_first_and_checked_like_the_csv(tmp_path):
    earlier, later = world(400, seed=10)
    folder = archived_run(tmp_path / "output", earlier, EARLIER_AS_OF, "070000-aaaa")
    write_grading_columns(earlier.assign(p_alive=earlier["p_alive"].astype(str) + "%"),
                          folder / GRADING_FILE)
    record = grade_earlier([read_run(folder)], later, EARLIER_AS_OF + timedelta(days=28), GradingParams())
    assert record.notes == ("Brief of run 070000-aaaa (customers as of 2014-06-29): grading.parquet "
                            "column p_alive holds values that are not numbers; left out",)
    assert {g.prediction for g in record.graded} == {"p_response"}
    (folder / GRADING_FILE).write_bytes(b"PAR1 planted")
    record = grade_earlier([read_run(folder)], later, EARLIER_AS_OF + timedelta(days=28), GradingParams())
    assert record.graded == () and "grading.parquet is not readable" in record.notes[0]


def test_grading_keeps_a_fixed_sample_of_a_large_table(tmp_path):
    earlier, _ = world(500, seed=11)
    write_grading_columns(earlier, tmp_path / "a.parquet", keep=120)
    write_grading_columns(earlier.sample(frac=1, random_state=3), tmp_path / "b.parquet", keep=120)
    first, again = pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet")
    assert len(first) == 120 and first["ID"].is_monotonic_increasing
    assert first.equals(again)  # the same customers, whatever the order they come in
    assert list(first.columns) == ["ID", "recency", "responded", "p_alive", "p_response"]


def test_a_customers_csv_that_is_not_a_table_is_refused(tmp_path):
    earlier, later = world(200, seed=8)
    folder = archived_run(tmp_path / "output", earlier, EARLIER_AS_OF, "070000-aaaa")
    (folder / "customers.csv").write_bytes(b"ID,recency\n1,2\n3,4,5,6\n\xff\xfe")
    record = grade_earlier([read_run(folder)], later, EARLIER_AS_OF + timedelta(days=7), GradingParams())
    assert record.graded == ()
    assert record.notes == ("Brief of run 070000-aaaa (customers as of 2014-06-29): customers.csv "
                            "is not readable as a table of numbers (edited or planted?); not graded",)


def test_the_record_in_run_json_reads_back_checked(tmp_path):
    earlier, later = world(2000, seed=9)
    followup = graded(tmp_path, earlier, later)
    folder = tmp_path / "run"
    folder.mkdir()
    write_record(RunRecord(run_id="080000-bbbb", followup=followup), folder / "run.json")
    assert read_record(folder).followup == followup
    document = json.loads((folder / "run.json").read_text())
    for place, value, message in (
        ("observed", 7, "followup.graded[0].bins[0].observed: 7.0 is not a number from 0 to 1"),
        ("prediction", "p_magic", "followup.graded[0].prediction: 'p_magic' is not one of"),
        ("brier", -0.5, "followup.graded[0].brier: -0.5 is not a number from 0 to 1"),
    ):
        hostile = json.loads(json.dumps(document))
        target = hostile["followup"]["graded"][0]
        (target["bins"][0] if place == "observed" else target)[place] = value
        (folder / "run.json").write_text(json.dumps(hostile))
        with pytest.raises(UnreadableArchiveFile, match=message.replace("[", r"\[").replace("]", r"\]")):
            read_record(folder)


# --- a real sequence: one run, then an aged export after a campaign ---------------------------

@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, sample_csv):
    """Run 1 on the sample; a week on, an aged export whose Response is a new campaign's
    answers drawn from run 1's p_response; run 2 grades run 1."""
    from reporter.app.pipeline import run
    from reporter.app.settings import load_config
    from tests.conftest import QUICK, REPO_ROOT, write_config

    root = tmp_path_factory.mktemp("grading")
    (root / "config").mkdir()
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", root / "config" / "personas.yaml")
    (root / "data").mkdir()
    shutil.copy(sample_csv, root / "data" / "week1.csv")
    config = write_config(root / "config" / "reporter.yaml",
                          source={"path": str(root / "data" / "week*.csv"), "name": "smartcart"},
                          **QUICK, teams=[])
    first = run(load_config(config))
    predicted = pd.read_csv(first.folder / "customers.csv").set_index("ID")["p_response"]
    aged = sample.age(pd.read_csv(sample_csv), 7, seed=3)
    chance = predicted.reindex(aged["ID"]).fillna(0.1).to_numpy()
    aged["Response"] = (np.random.default_rng(5).random(len(aged)) < chance).astype(int)
    sample.write(aged, root / "data" / "week2.csv")
    second = run(load_config(config))
    return config, first, second


@pytest.mark.e2e
def test_the_brief_grades_the_earlier_brief_after_a_campaign(two_runs):
    _, first, second = two_runs
    record = read_run(second.folder).record  # read back checked
    grade = by_prediction(record.followup)["p_response"]
    assert grade.run_id == first.run_id and grade.days == 7 and grade.outcome == "answered the campaign"
    earlier = pd.read_csv(first.folder / "customers.csv")
    later = pd.read_csv(second.folder / "customers.csv")
    assert grade.customers == len(set(earlier["ID"]) & set(later["ID"]))
    assert sum(b.customers for b in grade.bins) == grade.customers
    assert all(b.customers >= record.followup.min_bin for b in grade.bins)
    html = second.html.read_text()
    assert "Earlier predictions against what happened" in html
    assert (first.folder / GRADING_FILE).is_file() and GRADING_FILE in read_run(first.folder).record.exports
    view = second.brief.followup
    table = next(t for t in view.tables if t.prediction == "p_response")
    assert table.elapsed == "1 week" and len(table.rows) == len(grade.bins)
    for row in table.rows:
        assert row.sentence.replace("–", "&ndash;") in html or row.sentence in html
        assert row.sentence.startswith(f"Of the {row.customers:,} customers we gave ")
    assert read_run(first.folder).record.followup is not None  # a first run grades nothing
    assert read_run(first.folder).record.followup.graded == ()


@pytest.mark.e2e
def test_the_app_shows_the_same_tables(two_runs, monkeypatch):
    from tests.test_app import app

    config, _, second = two_runs
    page = app(config, monkeypatch, page="Predictions graded")
    assert "Earlier predictions against what happened" in [h.value for h in page.subheader]
    table = next(t for t in second.brief.followup.tables if t.prediction == "p_response")
    shown = next(d.value for d in page.dataframe if "In words" in d.value.columns)
    assert list(shown["In words"]) == [row.sentence for row in table.rows]
    assert list(shown["Customers"]) == [row.customers for row in table.rows]
