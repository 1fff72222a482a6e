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
    """docs/reference/model-format.md followed with NumPy alone, reading only the JSON."""
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


def _damage(document: dict, how: str) -> dict:
    model = document["model"]
    scorer = model["scorer"]
    if how == "centres a dimension short":
        scorer["centres"] = [centre[:-1] for centre in scorer["centres"]]
    elif how == "one centre a dimension short":
        scorer["centres"][0] = scorer["centres"][0][:-1]
    elif how == "cluster 9":
        scorer["segment_of_cluster"][0] = 9
    elif how == "every scale 0":
        scorer["scale_std"] = [0.0] * len(scorer["scale_std"])
    elif how == "a NaN":
        scorer["pca_components"][1][2] = float("nan")
    elif how == "a scale so small customers overflow":
        scorer["scale_std"][0], scorer["clip_high"][0] = 1e-300, 1e300
    elif how == "a segment without a persona":
        del model["cluster_persona"][next(iter(model["cluster_persona"]))]
    elif how == "a persona the rules do not have":
        model["cluster_persona"]["0"] = "Astronauts"
    elif how == "rules that do not compile":
        model["rules"]["personas"][0]["rules"]["all"] = ["income >>= 3"]
    elif how == "a threshold the population lacks":
        model["population"]["means"] = {}
    elif how == "an unknown feature":
        scorer["numeric"][0] = "shoe_size"
    elif how == "segment shares that do not add up":
        model["baseline"]["segment_mix"] = {"0": 0.9, "1": 0.9}
    elif how == "a segment share of a segment it lacks":
        model["baseline"]["segment_mix"] = {"0": 0.5, "7": 0.5}
    return document


DAMAGES = {
    "centres a dimension short": "scorer.centres: shape [5, 6], expected [5, 7]",
    "one centre a dimension short": "is incomplete (a value of the wrong kind or shape)",
    "cluster 9": "scorer.segment_of_cluster: [9, ",
    "every scale 0": "scorer.scale_std: every scale must be above 0",
    "a NaN": "scorer.pca_components: holds a value that is not a finite number",
    "a scale so small customers overflow": "beyond any finite distance",
    "a segment without a persona": "cluster_persona: segments [1, 2, 3, 4], expected [0, 1, 2, 3, 4]",
    "a persona the rules do not have": "segment 0 is 'Astronauts', not a persona of the saved rules",
    "rules that do not compile": "rules: they do not compile",
    "a threshold the population lacks": "population: the archived run did not use",
    "an unknown feature": "scorer.numeric: 'shoe_size' is not a feature",
    "segment shares that do not add up": "baseline.segment_mix: expected shares 0 to 1 that add up to 1",
    "a segment share of a segment it lacks": "baseline.segment_mix: segments [0, 7], expected some of 0 to 4",
}


@pytest.mark.parametrize("how", list(DAMAGES))
def test_a_parseable_but_broken_model_is_refused_with_its_reason(tmp_path, how):
    """Such a model.json was read as a model: `serve` swapped it in and every answer was a 500
    or NaN-based. Each damage is named, with the file."""
    document = _damage(json.loads((FIXTURE / MODEL_FILE).read_text()), how)
    (tmp_path / MODEL_FILE).write_text(json.dumps(document))
    loaded = read_model(tmp_path)
    assert loaded.model is None, how
    assert f"{tmp_path.name}/{MODEL_FILE}" in loaded.problem and DAMAGES[how] in loaded.problem


def test_reporter_assign_refuses_a_broken_model_in_one_line(tmp_path):
    """`reporter assign` (score_new) reads model.json through the same validation."""
    from reporter.errors import ArchiveError
    from reporter.model.score_new import score_new

    document = _damage(json.loads((FIXTURE / MODEL_FILE).read_text()), "every scale 0")
    run = tmp_path / "2026-01-01-070000-ab12"
    run.mkdir()
    (run / MODEL_FILE).write_text(json.dumps(document))
    with pytest.raises(ArchiveError, match="scale_std: every scale must be above 0") as refused:
        score_new(tmp_path, run, load(FIXTURE / "customers.csv"), CleanParams())
    assert "\n" not in str(refused.value) and "reporter run" in str(refused.value)
