"""The model artefact is numbers: it scores like the fitted scikit-learn model, survives a round
trip through JSON, and a committed artefact from this version still scores its customers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import load
from reporter.data.params import CleanParams
from reporter.model.artefact import MODEL_FILE, SavedModel, read_model
from reporter.plain import from_plain, to_plain
from reporter.segmentation.params import ComparisonParams, SegmentParams
from reporter.segmentation.segment import _reducer, engine, scorer_of
from tests.model_fixture import FIXTURE


def _features(model: SavedModel, path):
    raw = load(path)
    as_of = raw.frame["Dt_Customer"].max().date()
    customers = clean(raw, CleanParams(), as_of, income_fill=model.income_fill)
    return build_features(customers, rfm=model.rfm).frame


@pytest.fixture(scope="module")
def committed():
    loaded = read_model(FIXTURE)
    assert loaded.problem == "" and loaded.model is not None
    segments = pd.read_csv(FIXTURE / "segments.csv").sort_values("ID").reset_index(drop=True)  # as read
    return loaded.model, _features(loaded.model, FIXTURE / "customers.csv"), segments


def test_the_committed_artefact_scores_its_customers_as_its_run_did(committed):
    model, frame, segments = committed
    assert list(frame["ID"]) == list(segments["ID"])
    assert (model.scorer.segments(frame) == segments["cluster"].to_numpy()).all()
    personas = [model.cluster_persona[s] for s in model.scorer.segments(frame)]
    assert personas == list(segments["persona"])


def test_the_format_page_is_enough_to_score_without_reporter(committed):
    """docs/model-format.md followed with NumPy alone, reading only the JSON."""
    _, frame, segments = committed
    scorer = json.loads((FIXTURE / MODEL_FILE).read_text())["model"]["scorer"]
    x = frame[scorer["numeric"]].to_numpy(dtype=float)
    z = (np.clip(x, scorer["clip_low"], scorer["clip_high"]) - scorer["scale_mean"]) / scorer["scale_std"]
    hot = [(frame[c["column"]].astype(str).to_numpy()[:, None] == np.array(c["categories"])[None, :])
           for c in scorer["categorical"]]
    encoded = np.hstack([z, *hot]).astype(float)
    points = (encoded - np.array(scorer["pca_mean"])) @ np.array(scorer["pca_components"]).T
    distances = ((points[:, None, :] - np.array(scorer["centres"])[None, :, :]) ** 2).sum(axis=2)
    segment = np.array(scorer["segment_of_cluster"])[distances.argmin(axis=1)]
    assert (segment == segments["cluster"].to_numpy()).all()


def test_a_json_round_trip_keeps_every_number(committed):
    model = committed[0]
    again = from_plain(SavedModel, json.loads(json.dumps(to_plain(model))))
    assert to_plain(again) == to_plain(model)
    assert again.population.percentiles == model.population.percentiles
    assert again.cluster_persona == model.cluster_persona
    assert all(isinstance(segment, int) for segment in again.cluster_persona)


def test_the_saved_rules_compile_to_the_rulebook_they_came_from(committed):
    rulebook = committed[0].rulebook()
    assert rulebook.fallback.name == "Steady Shoppers"
    assert {p.name for p in rulebook.flags} == {"Churn Risk"}


@pytest.mark.parametrize("algorithm", ["kmeans", "agglomerative", "gmm"])
def test_scorer_gives_the_labels_of_the_fitted_scikit_learn_model(algorithm, committed):
    frame = committed[1]
    settings = SegmentParams(algorithm=algorithm, k=4, categorical=("education", "living_with"))
    columns = [*settings.features, *settings.categorical]
    reducer = _reducer(settings).fit(frame[columns])
    clusterer = engine(algorithm, 4, 0, ComparisonParams()).fit(reducer.transform(frame[columns]))
    mapping = np.array([2, 0, 3, 1])
    scorer = scorer_of(reducer, clusterer, mapping)
    expected = mapping[Pipeline([*reducer.steps, ("cluster", clusterer)]).predict(frame[columns])]
    assert np.allclose(scorer.project(frame), reducer.transform(frame[columns]))
    assert (scorer.segments(frame) == expected).all()


def test_an_unknown_category_scores_as_no_category(committed):
    frame = committed[1]
    settings = SegmentParams(k=3, categorical=("education",))
    columns = [*settings.features, *settings.categorical]
    reducer = _reducer(settings).fit(frame[columns])
    clusterer = engine("kmeans", 3, 0, ComparisonParams()).fit(reducer.transform(frame[columns]))
    scorer = scorer_of(reducer, clusterer, np.arange(3))
    odd = frame.head(5).assign(education="Astronaut")
    expected = Pipeline([*reducer.steps, ("cluster", clusterer)]).predict(odd[columns])
    assert (scorer.segments(odd) == expected).all()


def test_a_damaged_artefact_is_refused_with_a_reason(tmp_path):
    document = json.loads((FIXTURE / MODEL_FILE).read_text())
    del document["model"]["scorer"]
    (tmp_path / MODEL_FILE).write_text(json.dumps(document))
    loaded = read_model(tmp_path)
    assert loaded.model is None and "is incomplete" in loaded.problem
    (tmp_path / MODEL_FILE).write_text(json.dumps({**document, "format_version": 9}))
    assert "format 9" in read_model(tmp_path).problem and "upgrade reporter" in read_model(tmp_path).problem


def test_a_model_never_names_a_class():
    text = (FIXTURE / MODEL_FILE).read_text()
    assert "reporter." not in text and "sklearn" not in text.replace('"scikit-learn"', "")
