"""Alive probability and customer value (reporter/predict/lifetime.py, lifetime_fit.py): BG/NBD
and Gamma-Gamma recover the parameters a table was simulated from, score as the laws say,
save as plain numbers that are validated when read, and feed the rules and the exports."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from reporter.data import sample
from reporter.data.clean import clean
from reporter.data.features import FeatureTable, build_features
from reporter.data.load import load
from reporter.data.params import CleanParams
from reporter.model.artefact import read_model, write_model
from reporter.personas.exports import customer_table
from reporter.personas.rulebook import compile_rulebook, label_customers
from reporter.personas.rules import Population
from reporter.personas.spec import PersonasFile
from reporter.predict.lifetime import (
    NO_SAVED,
    PARAMETERS,
    add_scores,
    history,
    score_lifetime,
    score_week,
)
from reporter.predict.lifetime_fit import fit_history, fit_lifetime
from reporter.predict.params import LifetimeParams
from tests.conftest import run_main
from tests.model_fixture import FIXTURE

TRUTH = sample.LifetimeTruth(r=0.8, alpha=8.0, a=0.8, b=2.5, p=6.0, q=4.0, v=15.0)
ROWS = 15_000


def compile_text(text: str):
    return compile_rulebook(PersonasFile.model_validate(yaml.safe_load(text)), Path("personas.yaml"))


def _table(path: Path) -> FeatureTable:
    raw = load(path)
    as_of = raw.frame["Dt_Customer"].max().date()
    return build_features(clean(raw, CleanParams(), as_of))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> FeatureTable:
    """A table of the export's shape drawn from known parameters, read as any export is."""
    out = tmp_path_factory.mktemp("lifetime") / "customers.csv"
    sample.write(sample.with_lifetime(sample.generate(ROWS, 11), TRUTH, 12), out)
    return _table(out)


@pytest.fixture(scope="module")
def fitted(simulated):
    return fit_lifetime(simulated, LifetimeParams())


def test_the_fit_recovers_the_parameters_the_table_was_drawn_from(fitted):
    assert fitted.model is not None, fitted.note
    for name in PARAMETERS:
        assert getattr(fitted.model, name) == pytest.approx(getattr(TRUTH, name), rel=0.10), name


def test_the_fit_checks_itself_against_what_the_customers_did(fitted):
    check = fitted.model.check
    assert check.repeat_predicted == pytest.approx(check.repeat_observed, rel=0.05)
    assert check.spend_predicted == pytest.approx(check.spend_observed, rel=0.05)


def test_every_customer_gets_scores_in_range(fitted, simulated):
    scores = fitted.scores
    assert len(scores.p_alive) == len(simulated.frame)
    assert ((scores.p_alive >= 0) & (scores.p_alive <= 1)).all()
    assert (scores.purchases_90d >= 0).all() and (scores.clv_12m >= 0).all()
    assert np.isfinite(scores.clv_12m).all()
    # the 12-month horizon holds at least the 90 days' purchases
    assert scores.clv_12m.sum() > 0


def test_p_alive_falls_with_recency_for_equal_frequency(fitted):
    recency = np.arange(0, 400, 20, dtype=float)
    frame = pd.DataFrame({"total_purchases": 6.0, "tenure_days": 420.0, "recency": recency,
                          "total_spending": 180.0})
    alive = score_lifetime(fitted.model, frame).p_alive
    assert (np.diff(alive) < 0).all()
    assert alive[0] > 0.5 > alive[-1]  # bought last week: likely alive; a year silent: likely gone


def test_a_customer_without_repeat_purchases_is_alive_and_gets_the_mean_spend(fitted):
    frame = pd.DataFrame({"total_purchases": [1.0, 0.0], "tenure_days": [300.0, 300.0],
                          "recency": [300.0, 300.0], "total_spending": [40.0, 0.0]})
    scores = score_lifetime(fitted.model, frame)
    assert scores.p_alive.tolist() == [1.0, 1.0]
    m = fitted.model
    mean = m.p * m.v / (m.q - 1)
    assert scores.clv_12m[1] / scores.purchases_90d[1] > 0  # a value, not NaN
    assert (scores.clv_12m[1] / _yearly(m, frame.iloc[[1]])) == pytest.approx(mean)


def _yearly(model, frame):
    from reporter.predict.lifetime import HORIZON_12M, expected_purchases
    return float(expected_purchases(model, history(frame), HORIZON_12M)[0])


def test_a_fit_at_the_edge_is_refused_in_a_manager_s_words_the_analyst_s_in_brackets(tmp_path):
    """The Value at risk section told managers "the BG/NBD fit pushed alpha, b to the edge of
    its range". `reporter sample` tables (no --lifetime) are such a case."""
    raw = load(sample.write(sample.generate(1_500, seed=3), tmp_path / "sample.csv"))
    table = build_features(clean(raw, CleanParams(), raw.frame["Dt_Customer"].max().date()))
    table.frame["in_fit"] = True
    note = fit_lifetime(table, LifetimeParams()).note
    plain, _, analyst = note.partition(" [")
    assert plain.startswith("No alive probability this week: this export does not show clearly how "
                            "often customers buy and when they stop"), note
    assert not any(word in plain for word in ("BG/NBD", "alpha", "fit", "parameter")), plain
    assert analyst.startswith("the BG/NBD fit put alpha") and analyst.endswith("edge of its range]."), note


def test_thin_data_is_refused_with_a_plain_note():
    frame = pd.DataFrame({"total_purchases": [1.0] * 300 + [3.0] * 20, "tenure_days": 200.0,
                          "recency": 50.0, "total_spending": 100.0})
    model, note = fit_history(history(frame), min_repeaters=100)
    assert model is None
    assert note.startswith("No alive probability this week: 20 of the 320 customers")


def test_the_real_tables_impossible_counts_are_refused_not_fitted(real_table):
    """On the real table customers who joined days ago have dozens of purchases: BG/NBD's
    rate runs to its bound, and the brief says so instead of scoring with it."""
    lifetime = fit_lifetime(_table(real_table), LifetimeParams())
    assert lifetime.model is None and lifetime.scores is None
    assert "alpha" in lifetime.note and "Dt_Customer" in lifetime.note


def test_a_reread_model_scores_exactly_as_the_fitting_run(fitted, simulated, tmp_path):
    committed = read_model(FIXTURE).model
    write_model(replace(committed, lifetime=fitted.model), tmp_path / "model.json")
    document = json.loads((tmp_path / "model.json").read_text())
    assert set(document["model"]["lifetime"]) >= set(PARAMETERS)
    assert all(isinstance(document["model"]["lifetime"][k], float) for k in PARAMETERS)
    reread = read_model(tmp_path)
    assert reread.problem == ""
    again = score_week(reread.model.lifetime, simulated.frame)
    for name, values in fitted.scores.columns().items():
        assert np.array_equal(again.scores.columns()[name], values), name


def test_an_older_model_without_lifetime_loads_and_says_so():
    loaded = read_model(FIXTURE)
    assert loaded.problem == "" and loaded.model.lifetime is None
    week = score_week(loaded.model.lifetime, pd.DataFrame())
    assert week.scores is None and week.note == NO_SAVED
    assert "no alive probability this week" in NO_SAVED.lower() and "next refit fits one" in NO_SAVED


@pytest.mark.parametrize("field, value, reason", [
    ("q", 0.5, "lifetime.q: 0.5, expected above 1"),
    ("alpha", -1.0, "lifetime.alpha: -1.0, expected above 0"),
    ("r", float("nan"), "lifetime.r: expected a finite number"),
    ("a", 1.0, "lifetime.a: 1"),
    ("unit_days", 1.0, "lifetime.unit_days"),
])
def test_damaged_lifetime_numbers_are_refused_with_their_reason(fitted, tmp_path, field, value, reason):
    committed = read_model(FIXTURE).model
    write_model(replace(committed, lifetime=replace(fitted.model, **{field: value})),
                tmp_path / "model.json")
    loaded = read_model(tmp_path)
    assert loaded.model is None
    assert reason in loaded.problem


def test_a_lifetime_of_the_wrong_kind_is_refused(fitted, tmp_path):
    committed = read_model(FIXTURE).model
    write_model(replace(committed, lifetime=fitted.model), tmp_path / "model.json")
    document = json.loads((tmp_path / "model.json").read_text())
    document["model"]["lifetime"]["r"] = "lots"
    (tmp_path / "model.json").write_text(json.dumps(document))
    loaded = read_model(tmp_path)
    assert loaded.model is None and "incomplete" in loaded.problem


RULES = """
fallback: Everyone
personas:
  - name: Everyone
  - name: Slipping
    level: customer
    rules:
      all:
        - recency > 30
        - p_alive < 0.5
  - name: Top Value
    level: customer
    rules:
      any:
        - clv >= p90
"""


def test_rules_flag_customers_by_p_alive_and_clv(fitted, simulated):
    frame = simulated.frame.copy()
    add_scores(frame, fitted)
    table = replace(simulated, frame=frame)
    rulebook = compile_text(RULES)
    assignment = label_customers(rulebook, {0: "Everyone"}, table, np.zeros(len(frame), int),
                                 Population(frame))
    slipping = (frame["recency"] > 30) & (frame["p_alive"] < 0.5)
    assert np.array_equal(assignment.flags["Slipping"], slipping.to_numpy())
    top = frame["clv"] >= np.percentile(frame["clv"], 90)
    assert np.array_equal(assignment.flags["Top Value"], top.to_numpy())
    assert 0 < assignment.flags["Slipping"].sum() < len(frame)
    assert assignment.notes == ()


def test_without_a_lifetime_model_the_condition_is_left_out_with_a_located_note(simulated):
    rulebook = compile_text(RULES)
    population = Population(simulated.frame)
    assignment = label_customers(rulebook, {0: "Everyone"}, simulated,
                                 np.zeros(len(simulated.frame), int), population)
    assert np.array_equal(assignment.flags["Slipping"], (simulated.frame["recency"] > 30).to_numpy())
    assert not assignment.flags["Top Value"].any()  # its only condition is left out: nobody
    assert assignment.notes == (
        'flag "Slipping": "p_alive < 0.5" is left out this week: there is no alive probability '
        "this week (the brief's Value at risk section says why)",
        'flag "Top Value": "clv >= p90" is left out this week: there is no 12-month customer '
        "value this week (the brief's Value at risk section says why)")
    frozen = population.freeze([c for p in rulebook.flags for c in p.conditions])
    assert frozen.percentiles == {}  # no threshold kept for a metric the week has none of


def test_customers_csv_gets_the_three_columns(fitted, simulated):
    frame = simulated.frame.copy()
    add_scores(frame, fitted)
    table = replace(simulated, frame=frame)
    rulebook = compile_text(RULES)
    labels = np.zeros(len(frame), int)
    assignment = label_customers(rulebook, {0: "Everyone"}, table, labels, Population(frame))
    customers = customer_table(table, labels, assignment)
    for column, digits in (("p_alive", 4), ("purchases_90d", 3), ("clv_12m", 2)):
        assert np.array_equal(customers[column], frame[column].round(digits)), column
    without = customer_table(simulated, labels, label_customers(rulebook, {0: "Everyone"}, simulated,
                                                                labels, Population(simulated.frame)))
    assert "p_alive" not in without and "clv_12m" not in without


def test_reporter_sample_simulates_from_known_parameters(tmp_path):
    """The command's table, exit codes and message: in this process (run_main), as the same
    `main` with the same words gives them (two fresh interpreters were ~5 s for nothing more)."""
    out = tmp_path / "sim.csv"
    done = run_main("sample", "--rows", "300", "--out", str(out), "--lifetime", "0.8,8,0.8,2.5,6,4,15")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == sample.LAYOUT
    assert (table["Recency"] >= 0).all()
    bad = run_main("sample", "--out", str(out), "--lifetime", "0.8,8,0.8")
    assert bad.returncode == 2
    assert "--lifetime: expected seven numbers r,alpha,a,b,p,q,v" in bad.stderr


def test_a_call_list_cannot_be_ranked_by_a_prediction(tmp_path):
    text = RULES.replace("  - name: Top Value\n    level: customer\n",
                         "  - name: Top Value\n    level: customer\n    rank_by: clv\n")
    (tmp_path / "personas.yaml").write_text(text)
    with pytest.raises(Exception) as caught:
        compile_text(text)
    assert 'rank_by "clv" is a prediction' in str(caught.value)
