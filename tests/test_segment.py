from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from reporter.data.features import FeatureTable
from reporter.errors import ConfigError, DataError
from reporter.segmentation.params import ComparisonParams, SegmentParams
from reporter.segmentation.segment import WardCentroids, order_by_spend, segment
from tests.helpers import features_from_sample
from tests.segment_data import blobs


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> FeatureTable:
    return features_from_sample(tmp_path_factory.mktemp("seg"), rows=500, seed=4)


def test_same_data_and_seed_give_the_same_segments(table):
    first = segment(table, SegmentParams())
    second = segment(table, SegmentParams())
    assert np.array_equal(first.labels, second.labels)
    assert first.k_choice == second.k_choice


def test_segment_ids_follow_spending(table):
    result = segment(table, SegmentParams(k=4))
    spend = table.frame["total_spending"].to_numpy()
    means = [spend[result.labels == c].mean() for c in range(4)]
    assert means == sorted(means, reverse=True)
    assert len(result.labels) == len(table.frame)


def test_order_by_spend_renumbers():
    labels = np.array([0, 0, 1, 1, 2])
    spend = np.array([1.0, 1.0, 9.0, 9.0, 5.0])
    assert list(order_by_spend(labels, spend)) == [2, 2, 0, 0, 1]


def test_customers_left_out_of_fitting_still_get_a_segment(table):
    frame = table.frame.copy()
    frame.loc[:9, "in_fit"] = False
    result = segment(replace(table, frame=frame), SegmentParams(k=3))
    assert set(result.labels[:10]) <= {0, 1, 2}
    assert len(result.fit_labels) == int(frame["in_fit"].sum()) <= len(frame) - 10


def test_too_few_distinct_customers_is_a_data_error(table):
    frame = table.frame.head(3).copy()
    with pytest.raises(DataError, match="distinct customers"):
        segment(replace(table, frame=frame), SegmentParams())


def test_categorical_features_are_one_hot_encoded(table):
    result = segment(table, SegmentParams(k=3, categorical=("education", "living_with")))
    education, living_with = result.scorer.categorical
    assert {"Graduate", "Postgraduate"} <= set(education.categories)
    assert {"Partner", "Alone"} <= set(living_with.categories)
    assert len(set(result.labels)) == 3


def test_pca_by_count_or_by_variance_and_components_named_by_features(table):
    by_count = segment(table, SegmentParams(k=3, pca_components=2))
    assert len(by_count.components) == 2
    by_variance = segment(table, SegmentParams(k=3, pca_components=0.8))
    assert sum(by_variance.explained_variance) >= 0.8
    first = by_variance.components[0]
    assert len(first.loadings) == 3
    assert all(name in first.label for name, _ in first.loadings)
    assert "PC1" not in first.label and "of variance" in first.label
    with pytest.raises(ConfigError, match="pca_components is 40"):
        segment(table, SegmentParams(k=3, pca_components=40))


@pytest.mark.parametrize("algorithm", ["kmeans", "agglomerative", "gmm"])
def test_every_engine_recovers_clear_groups(algorithm):
    table = blobs(4, seed=7)
    result = segment(table, SegmentParams(algorithm=algorithm, k=4))
    assert result.algorithm == algorithm
    assert adjusted_rand_score(table.frame["truth"], result.labels) > 0.95


def test_agglomerative_on_a_sample_assigns_everybody_to_the_nearest_centre():
    table = blobs(3, per_group=400, seed=9)
    result = segment(table, SegmentParams(algorithm="agglomerative", k=3),
                     ComparisonParams(max_rows=300))
    assert result.scorer.algorithm == "agglomerative" and result.scorer.centres.shape[0] == 3
    assert len(result.labels) == 1200
    assert adjusted_rand_score(table.frame["truth"], result.labels) > 0.95


def test_ward_centroids_fit_on_a_sample_of_at_most_max_rows():
    table = blobs(3, per_group=400, seed=9)
    ward = WardCentroids(n_clusters=3, max_rows=300).fit(table.frame[list(SegmentParams().features)])
    assert ward.fitted_rows_ == 300 and ward.cluster_centers_.shape[0] == 3


def test_large_table_takes_the_sampled_path(tmp_path):
    """Above the thresholds k is searched on a sample and silhouettes are sampled. The
    thresholds are lowered so a 30,000-row table takes the path; 200,000 rows and more are
    timed in benchmarks/, not here."""
    table = features_from_sample(tmp_path, rows=30_000, seed=11)
    settings = SegmentParams(selection_sample_size=4000, silhouette_sample_size=1500)
    result = segment(table, settings)
    choice = result.k_choice
    assert choice.sampled and choice.rows_searched == settings.selection_sample_size
    assert choice.rows_total == int(table.frame["in_fit"].sum())
    assert result.silhouette.sample_size == settings.silhouette_sample_size
    assert result.silhouette.repeats == settings.silhouette_repeats
    assert 3 <= result.k <= 10
    sizes = np.bincount(result.labels)
    assert len(sizes) == result.k and sizes.sum() == 30_000 and sizes.min() > 150
