from __future__ import annotations

import numpy as np
import pytest

from reporter.config import SegmentationConfig
from reporter.errors import DataError
from reporter.features import FeatureTable
from reporter.segment import _elbow_index, segment
from tests.helpers import features_from_sample


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> FeatureTable:
    return features_from_sample(tmp_path_factory.mktemp("seg"), rows=500, seed=4)


def test_same_data_and_seed_give_the_same_segments(table):
    first = segment(table, SegmentationConfig())
    second = segment(table, SegmentationConfig())
    assert np.array_equal(first.labels, second.labels)
    assert first.k_choice == second.k_choice


def test_auto_k_stays_in_range_and_explains_itself(table):
    result = segment(table, SegmentationConfig(k_min=3, k_max=6))
    choice = result.k_choice
    assert choice.ks == (3, 4, 5, 6)
    assert 3 <= result.k <= 6
    assert choice.chosen_k in (choice.elbow_k, choice.best_silhouette_k)
    assert f"k={result.k}" in choice.reason
    assert -1 <= result.silhouette <= 1


def test_rule_prefers_best_silhouette_when_elbow_is_much_worse(table):
    strict = segment(table, SegmentationConfig(k_min=3, k_max=8, elbow_silhouette_tolerance=0.0))
    assert strict.k == strict.k_choice.best_silhouette_k


def test_fixed_k_every_customer_labelled_and_ids_ordered_by_size(table):
    result = segment(table, SegmentationConfig(k=4))
    assert result.k == 4
    assert len(result.labels) == len(table.frame)
    sizes = np.bincount(result.labels)
    assert list(sizes) == sorted(sizes, reverse=True)
    assert result.pca_coordinates.shape == (len(table.frame), 2)


def test_customers_left_out_of_fitting_still_get_a_segment(table):
    frame = table.frame.copy()
    frame.loc[:9, "in_fit"] = False
    result = segment(FeatureTable(frame, table.as_of), SegmentationConfig(k=3))
    assert set(result.labels[:10]) <= {0, 1, 2}


def test_too_few_distinct_customers_is_a_data_error(table):
    frame = table.frame.head(3).copy()
    with pytest.raises(DataError, match="distinct customers"):
        segment(FeatureTable(frame, table.as_of), SegmentationConfig())


def test_elbow_of_a_clear_knee():
    assert _elbow_index([100, 40, 30, 25, 22, 20]) == 1
    assert _elbow_index([10, 9]) == 0


def test_categorical_features_are_one_hot_encoded(table):
    settings = SegmentationConfig(k=3, categorical=["education", "living_with"])
    result = segment(table, settings)
    encoder = result.model.named_steps["encode_scale"].named_transformers_["categories"]
    assert {"Graduate", "Postgraduate"} <= set(encoder.categories_[0])
    assert {"Partner", "Alone"} <= set(encoder.categories_[1])
    assert len(set(result.labels)) == 3
