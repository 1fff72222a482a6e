from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from reporter.data.features import PREDICTED_FEATURES, REGISTRY, RfmCuts, build_features
from reporter.data.schema import CHANNEL_COLUMNS, SPEND_COLUMNS
from reporter.segmentation.params import SegmentParams
from tests.helpers import customers_from_sample


def test_age_and_tenure_are_measured_at_the_data_reference_date(tmp_path):
    customers = customers_from_sample(tmp_path, as_of=date(2014, 6, 29))
    table = build_features(customers)
    source = customers.frame
    assert np.array_equal(table.frame["age"], 2014 - source["Year_Birth"])
    newest = source["Dt_Customer"].idxmax()
    assert table.frame.loc[newest, "tenure_days"] == 0
    later = build_features(customers_from_sample(tmp_path, as_of=date(2015, 6, 29)))
    assert (later.frame["age"] - table.frame["age"] == 1).all()


def test_totals_and_ratios(tmp_path):
    customers = customers_from_sample(tmp_path)
    frame = build_features(customers).frame
    source = customers.frame
    spend = source[list(SPEND_COLUMNS)].sum(axis=1)
    purchases = source[list(CHANNEL_COLUMNS)].sum(axis=1)
    assert np.allclose(frame["total_spending"], spend)
    assert np.allclose(frame["total_purchases"], purchases)
    assert np.allclose(frame["children"], source["Kidhome"] + source["Teenhome"])
    assert frame["deal_share"].between(0, 1).all()
    assert np.allclose(frame["spend_per_purchase"], spend / purchases.clip(lower=1))
    partnered = source["living_with"] == "Partner"
    assert np.allclose(frame.loc[partnered, "family_size"], frame.loc[partnered, "children"] + 2)


def test_every_registry_feature_is_computed_and_model_defaults_are_registered(tmp_path):
    frame = build_features(customers_from_sample(tmp_path)).frame
    computed = [name for name in REGISTRY if name not in PREDICTED_FEATURES]  # the lifetime stage's
    assert set(computed) <= set(frame.columns) and not set(PREDICTED_FEATURES) & set(frame.columns)
    assert frame[computed].notna().all().all()
    for name in SegmentParams().features:
        assert name in REGISTRY


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_entries_have_labels_and_units(name):
    feature = REGISTRY[name]
    assert feature.label and feature.unit in {"money", "count", "days", "years", "ratio", "people", "score"}


def test_rfm_scores_are_quintiles_with_recency_reversed(tmp_path):
    frame = build_features(customers_from_sample(tmp_path)).frame
    assert set(np.unique(frame["m_score"])) == {1, 2, 3, 4, 5}
    counts = frame["m_score"].value_counts(normalize=True)
    assert counts.between(0.15, 0.25).all(), counts  # quintiles of a continuous amount
    recent = frame["recency"] <= frame["recency"].quantile(0.1)
    assert (frame.loc[recent, "r_score"] == 5).all()
    assert frame.loc[frame["total_spending"].idxmax(), "m_score"] == 5


def test_rfm_cut_points_are_frozen_when_given(tmp_path):
    """A saved model's cut-points score new data: the same customer, the same scores."""
    table = build_features(customers_from_sample(tmp_path))
    doubled = table.frame.assign(total_spending=table.frame["total_spending"] * 2)
    frozen = table.rfm.scores(doubled)
    refitted = RfmCuts.fit(doubled).scores(doubled)
    assert (frozen["m_score"] >= table.frame["m_score"]).all()
    assert (frozen["m_score"] != refitted["m_score"]).any()
    assert np.array_equal(refitted["m_score"], table.frame["m_score"])  # ranks do not change
