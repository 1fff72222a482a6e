"""The response propensity stage (reporter/predict/): graded on customers it never saw, on the
real table and on generated data whose true chances are known; saved as plain numbers that
score exactly as the fitted scikit-learn model; fitted and scored by the weekly run."""

from __future__ import annotations

import json
import shutil
from contextlib import nullcontext
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reporter.data import sample
from reporter.data.clean import clean
from reporter.data.features import FeatureTable, build_features
from reporter.data.load import load
from reporter.data.params import CleanParams
from reporter.data.schema import CAMPAIGN_COLUMNS
from reporter.model.artefact import MODEL_FILE, read_model
from reporter.plain import from_plain, to_plain
from reporter.predict.drivers import shuffle
from reporter.predict.fit import fit_propensity
from reporter.predict.params import PropensityParams
from reporter.predict.propensity import Propensity, score_propensity
from reporter.predict.saved import (
    SavedPropensity,
    column_readers,
    raw_score,
    restandardised,
    score_frame,
    standardised,
)
from tests.conftest import REPO_ROOT, run_folders, write_config

GENERATED_ROWS = 20_000


def features_of(table: pd.DataFrame, folder: Path, name: str) -> FeatureTable:
    raw = load(sample.write(table, folder / name))
    return build_features(clean(raw, CleanParams(), raw.frame["Dt_Customer"].max().date()))


@pytest.fixture(scope="module")
def real(real_table) -> tuple[FeatureTable, Propensity]:
    raw = load(real_table)
    table = build_features(clean(raw, CleanParams(), raw.frame["Dt_Customer"].max().date()))
    return table, fit_propensity(table, PropensityParams())


@pytest.fixture(scope="module")
def known(tmp_path_factory) -> pd.DataFrame:
    """Generated customers whose Response comes from a known logistic model."""
    return sample.generate(GENERATED_ROWS, seed=11, response="logistic")


@pytest.fixture(scope="module")
def known_fit(known, tmp_path_factory) -> tuple[FeatureTable, Propensity]:
    table = features_of(known, tmp_path_factory.mktemp("known"), "known.csv")
    return table, fit_propensity(table, PropensityParams())


def test_real_table_out_of_sample_roc_auc_reaches_the_target(real):
    """Issue 34: >= 0.85 on customers the model never saw (a quick baseline reaches ~0.84)."""
    table, propensity = real
    grades = propensity.model.grades
    assert "accepted_cmp1" not in propensity.model.design.numeric  # the real table has no history
    assert grades.folds == 5 and len(grades.auc_folds) == 5
    assert grades.auc >= 0.85, (grades.auc, grades.auc_spread)
    assert min(grades.auc_folds) >= 0.80
    assert propensity.p_response.shape == (len(table.frame),)
    assert ((propensity.p_response >= 0) & (propensity.p_response <= 1)).all()
    assert {kind for kind, _, _ in grades.compared} == {"logistic", "boosting"}


def test_known_probabilities_are_met_within_three_points_in_every_decile(known, known_fit):
    table, propensity = known_fit
    truth = pd.Series(sample.true_response_probability(known), index=known["ID"].to_numpy())
    true = truth.loc[table.frame["ID"].to_numpy()].to_numpy()
    order = np.argsort(propensity.p_response, kind="stable")
    gaps = [abs(propensity.p_response[part].mean() - true[part].mean())
            for part in np.array_split(order, 10)]
    assert max(gaps) <= 0.03, [round(g, 4) for g in gaps]


def test_campaign_history_is_used_and_raises_the_auc(known, known_fit, tmp_path):
    _, with_history = known_fit
    assert set(CAMPAIGN_COLUMNS) and "accepted_cmp5" in with_history.model.design.numeric
    without = features_of(known.drop(columns=list(CAMPAIGN_COLUMNS)), tmp_path, "plain.csv")
    blind = fit_propensity(without, PropensityParams())
    assert "accepted_cmp5" not in blind.model.design.numeric
    assert with_history.model.grades.auc > blind.model.grades.auc + 0.01


def _json_round_trip(model: SavedPropensity) -> SavedPropensity:
    return from_plain(SavedPropensity, json.loads(json.dumps(to_plain(model))))


def _sklearn_p(propensity: Propensity, frame: pd.DataFrame) -> np.ndarray:
    """The fitted scikit-learn estimator and calibrator, applied without the saved numbers."""
    estimator, calibrator = propensity.estimators
    raw = estimator.decision_function(standardised(propensity.model, frame))
    method = propensity.model.calibration.method
    if method == "sigmoid":
        return calibrator.predict_proba(raw[:, None])[:, 1]
    if method == "isotonic":
        return calibrator.predict(raw)
    return estimator.predict_proba(standardised(propensity.model, frame))[:, 1]


def test_saved_logistic_numbers_score_as_the_fitted_model(real):
    table, propensity = real
    assert propensity.model.kind == "logistic"
    saved = _json_round_trip(propensity.model)
    again = score_frame(saved, table.frame)
    assert np.abs(again - _sklearn_p(propensity, table.frame)).max() < 1e-9
    assert np.abs(again - propensity.p_response).max() < 1e-9


def test_saved_boosting_trees_score_as_the_fitted_model(known, tmp_path):
    table = features_of(known.head(3_000), tmp_path, "small.csv")
    propensity = fit_propensity(table, PropensityParams(boosting_margin=-1.0))  # boosting wins
    assert propensity.model.kind == "boosting" and len(propensity.model.trees) == 40
    saved = _json_round_trip(propensity.model)
    estimator, _ = propensity.estimators
    z = standardised(saved, table.frame)
    assert np.abs(raw_score(saved, z) - estimator.decision_function(z)).max() < 1e-9
    assert np.abs(score_frame(saved, table.frame) - _sklearn_p(propensity, table.frame)).max() < 1e-9


@pytest.mark.parametrize("margin", [-1.0, PropensityParams().boosting_margin],
                         ids=["boosting forced", "as chosen"])
def test_on_weak_data_the_top_customers_chances_are_what_held_out_customers_showed(tmp_path, margin):
    """A generated table whose Response the columns barely predict (out-of-sample ROC AUC about
    0.58): the calibration map was fitted on the refitted model's scores of its own customers,
    so boosting's memory came out as chances of 100% for the top customers and a next-campaign
    list "expected to answer at 73%". Fitted on the out-of-sample scores, the top tenth's mean
    chance is what the held-out customers of the top reliability bin did; and boosting, ahead
    by less than its folds' noise, is not chosen."""
    table = features_of(sample.generate(1_500, seed=3), tmp_path, "weak.csv")
    propensity = fit_propensity(table, PropensityParams(boosting_margin=margin))
    grades = propensity.model.grades
    assert grades.auc < 0.65, "the table is meant to be weak"
    top = np.sort(propensity.p_response)[-len(propensity.p_response) // 10:]
    held_out_top = grades.reliability[-1].observed
    assert top.mean() <= held_out_top + 0.10, (top.mean(), held_out_top)
    assert propensity.p_response.max() < 0.9
    if margin >= 0:
        assert propensity.model.kind == "logistic", grades.compared


def test_drivers_recompute_only_the_shuffled_columns_and_get_the_same_numbers(known_fit):
    """The drivers' shuffles recompute only the design columns read from the shuffled input
    and the sums made of it; the matrix must equal the one built from scratch, bit for bit."""
    table, propensity = known_fit
    model = propensity.model
    held = {name: table.frame[name].to_numpy()[:500]
            for name in dict.fromkeys((*model.design.inputs(), "total_spending", "total_purchases",
                                       "spend_per_purchase", "family_size", "web_visits"))}
    z, readers = standardised(model, held), column_readers(model.design)
    order = np.random.default_rng(3).permutation(500)
    for name in model.design.inputs():
        shuffled = shuffle(held, name, order)
        changed = {k for k, v in shuffled.items() if v is not held[k]}
        again = restandardised(model, z, shuffled, readers, changed)
        assert np.array_equal(again, standardised(model, shuffled)), name
        if len(set(held[name].tolist())) > 1:  # a shuffle that moved something
            assert not np.array_equal(again, z), name


def test_too_few_responders_are_refused_with_the_numbers(tmp_path):
    table = sample.generate(800, seed=5)
    table["Response"] = 0
    table.loc[table.index[:7], "Response"] = 1
    propensity = fit_propensity(features_of(table, tmp_path, "few.csv"), PropensityParams())
    assert propensity.p_response is None and propensity.model is None
    assert "7 responders" in propensity.note and "at least 30 of each" in propensity.note


def test_a_model_json_without_propensity_still_loads_and_scores_nothing():
    loaded = read_model(REPO_ROOT / "tests" / "data" / "model-v2")
    assert loaded.problem == "" and loaded.model.propensity is None
    scored = score_propensity(loaded.model.propensity, None)
    assert scored.p_response is None and "has none" in scored.note


PROPENSITY_DAMAGES = {
    "a coefficient short": ("coef", lambda v: v[:-1], "propensity.coef: shape"),
    "a NaN scale": ("scale_mean", lambda v: [None, *v[1:]], "propensity.scale_mean"),
    "a zero scale": ("scale_std", lambda v: [0.0 for _ in v], "every scale must be above 0"),
    "an unknown kind": ("kind", lambda v: "oracle", "propensity.kind: 'oracle'"),
    "a calibration going down": ("calibration", lambda v: {**v, "method": "isotonic", "x": [2.0, 1.0],
                                                         "y": [0.1, 0.2]}, "expected ascending"),
}


@pytest.mark.parametrize("how", list(PROPENSITY_DAMAGES))
def test_a_damaged_propensity_in_model_json_is_refused(real, tmp_path, how):
    _, propensity = real
    document = json.loads((REPO_ROOT / "tests" / "data" / "model-v2" / MODEL_FILE).read_text())
    plain = to_plain(propensity.model)
    field, damage, expected = PROPENSITY_DAMAGES[how]
    plain[field] = damage(plain[field])
    document["model"]["propensity"] = plain
    (tmp_path / MODEL_FILE).write_text(json.dumps(document))
    loaded = read_model(tmp_path)
    assert loaded.model is None and expected in loaded.problem, loaded.problem


def test_an_intact_propensity_in_model_json_is_read_back_whole(real, tmp_path):
    table, propensity = real
    document = json.loads((REPO_ROOT / "tests" / "data" / "model-v2" / MODEL_FILE).read_text())
    document["model"]["propensity"] = to_plain(propensity.model)
    (tmp_path / MODEL_FILE).write_text(json.dumps(document))
    loaded = read_model(tmp_path)
    assert loaded.problem == ""
    assert np.abs(score_frame(loaded.model.propensity, table.frame) - propensity.p_response).max() < 1e-9


def test_the_weekly_stages_fit_with_the_segmentation_and_score_from_the_saved_model(tmp_path):
    from reporter.app.settings import load_config
    from reporter.model.artefact import Loaded
    from reporter.model.lifecycle import analyse
    from reporter.model.params import AnalysisParams
    from reporter.personas.rulebook import compile_rulebook

    data = sample.write(sample.generate(900, seed=8, response="logistic"), tmp_path / "c.csv")
    config = write_config(tmp_path / "reporter.yaml", source={"path": str(data)})
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", tmp_path / "personas.yaml")
    rulebook = compile_rulebook(load_config(config).personas, tmp_path / "personas.yaml")
    raw = load(data)
    as_of = raw.frame["Dt_Customer"].max().date()

    def timer(_name):
        return nullcontext()
    fitted = analyse(raw, as_of, AnalysisParams(), rulebook, Loaded(None, None), False, "r1", timer)
    assert fitted.propensity.fitted and fitted.saved_model.propensity is fitted.propensity.model
    scored = analyse(raw, as_of, AnalysisParams(), rulebook, Loaded(fitted.saved_model, tmp_path),
                     False, "r2", timer)
    assert scored.decision.action == "scored" and not scored.propensity.fitted
    assert np.abs(scored.propensity.p_response - fitted.propensity.p_response).max() < 1e-12
    assert scored.saved_model.propensity == fitted.saved_model.propensity


def test_a_run_exports_p_response_and_the_brief_shows_the_sections(tmp_path, sample_csv):
    from reporter.app.pipeline import run
    from reporter.app.settings import load_config

    (tmp_path / "config").mkdir()
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", tmp_path / "config" / "personas.yaml")
    config = write_config(tmp_path / "config" / "reporter.yaml", source={"path": str(sample_csv)},
                          stability={"resamples": 3}, comparison={"enabled": False}, teams=[])
    result = run(load_config(config), now=None)
    (folder,) = run_folders(tmp_path / "output")
    customers = pd.read_csv(folder / "customers.csv")
    assert customers["p_response"].between(0, 1).all() and customers["p_response"].nunique() > 50
    listed = pd.read_csv(folder / "next_campaign.csv")
    held = int(customers["control_next_campaign"].sum())  # the list's control group (issue 35)
    assert len(listed) + held == round(len(customers) * 0.1) and held > 0
    assert not set(listed["ID"]) & set(customers.loc[customers["control_next_campaign"] == 1, "ID"])
    shown = {c.customer_id for c in result.brief.propensity.next_top}
    assert shown and shown <= set(listed["ID"]) and result.brief.propensity.next_held == held
    assert listed["p_response"].is_monotonic_decreasing
    assert listed["p_response"].min() >= customers["p_response"].quantile(0.85)
    model = json.loads((folder / MODEL_FILE).read_text())["model"]["propensity"]
    assert model["kind"] in ("logistic", "boosting") and model["calibration"]["method"]
    html = result.html.read_text(encoding="utf-8")
    view = result.brief.propensity
    for text in ("Who answers the next campaign", 'id="chart-lift"', "Expected responders per persona",
                 "next_campaign.csv", "Cross-validated ROC AUC", 'id="chart-reliability"',
                 "Brier score", "customers the model never saw", "main drivers"):
        assert text in html, text
    assert f"{view.next_rate:.1%}" in html and f"{view.grading.auc:.3f}" in html
    assert view.next_rate > view.expected_rate
    assert date.fromisoformat(customers["as_of"].iloc[0]) == result.brief.as_of


def test_the_format_page_gives_every_derived_column():
    from reporter.predict.design import DERIVED

    page = (REPO_ROOT / "docs" / "reference" / "model-format.md").read_text(encoding="utf-8")
    section = page[page.index("## `propensity`"):]
    assert [name for name in DERIVED if f"`{name}`" not in section] == []
