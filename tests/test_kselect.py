from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from reporter.segmentation.kselect import choose_k, kneedle_index, silhouette, silhouette_mean, silhouettes
from reporter.segmentation.params import SegmentParams
from reporter.segmentation.segment import segment
from tests.segment_data import blobs


def test_kneedle_finds_the_knee():
    assert kneedle_index([100, 40, 30, 25, 22, 20]) == 1
    assert kneedle_index([100, 90, 80, 30, 25, 22]) == 3
    assert kneedle_index([10, 9]) == 0
    assert kneedle_index([5, 5, 5]) == 0


@pytest.mark.parametrize("groups", [3, 4, 6])
def test_well_separated_groups_are_recovered(groups):
    table = blobs(groups, seed=groups)
    result = segment(table, SegmentParams())
    assert result.k == groups
    assert result.k_choice.ks == tuple(range(2, 11))


def test_never_fewer_segments_than_useful():
    result = segment(blobs(2, seed=1), SegmentParams(min_useful_k=3))
    assert result.k >= 3
    assert result.k_choice.at(2).silhouette.mean > result.k_choice.at(3).silhouette.mean


def test_every_k_has_all_four_diagnostics():
    choice = choose_k(np.random.default_rng(0).normal(size=(400, 4)), SegmentParams())
    for d in choice.diagnostics:
        assert d.inertia > 0 and -1 <= d.silhouette.mean <= 1
        assert d.calinski_harabasz > 0 and d.davies_bouldin > 0
    inertias = [d.inertia for d in choice.diagnostics]
    assert inertias == sorted(inertias, reverse=True)
    assert choice.chosen_k in choice.ks and choice.chosen_k >= 3
    assert f"k={choice.chosen_k}" in choice.reason


def test_silhouette_exact_below_the_threshold_sampled_above():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(3000, 3))
    labels = (points[:, 0] > 0).astype(int)
    exact = silhouette(points, labels, SegmentParams(silhouette_sample_size=5000))
    assert exact.sample_size is None and exact.spread == 0
    sampled = silhouette(points, labels, SegmentParams(silhouette_sample_size=500,
                                                            silhouette_repeats=6))
    assert sampled.sample_size == 500 and sampled.repeats == 6
    assert 0 < sampled.spread < 0.05
    assert sampled.mean == pytest.approx(exact.mean, abs=0.03)


def test_large_tables_search_k_on_a_sample():
    points = np.random.default_rng(2).normal(size=(3000, 3))
    choice = choose_k(points, SegmentParams(selection_sample_size=1000, k_max=5))
    assert choice.sampled and choice.rows_searched == 1000 and choice.rows_total == 3000


def test_tolerance_zero_takes_the_best_silhouette():
    points = np.random.default_rng(3).normal(size=(600, 4))
    choice = choose_k(points, SegmentParams(elbow_silhouette_tolerance=0.0))
    candidates = [d for d in choice.diagnostics if d.k >= 3]
    assert choice.chosen_k == max(candidates, key=lambda d: d.silhouette.mean).k


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_silhouette_mean_equals_scikit_learn(seed):
    """Our blockwise silhouette is a speed-up, not another measure: scikit-learn's value,
    singleton segments and unused segment numbers included."""
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(1200, 5))
    labels = rng.integers(0, 6, 1200)
    labels[0] = 9  # a segment of one customer, and numbers 6-8 unused
    assert silhouette_mean(points, labels, block=256) == pytest.approx(
        silhouette_score(points, labels), abs=1e-12)


def test_sampled_silhouette_uses_the_samples_scikit_learn_would():
    rng = np.random.default_rng(3)
    points = rng.normal(size=(900, 4))
    labels = rng.integers(0, 4, 900)
    settings = SegmentParams(silhouette_sample_size=300, silhouette_repeats=2)
    expected = np.mean([silhouette_score(points, labels, sample_size=300, random_state=settings.seed + r)
                        for r in range(2)])
    assert silhouette(points, labels, settings).mean == pytest.approx(expected, abs=1e-12)


def test_silhouettes_of_several_segmentations_share_samples_but_not_results():
    rng = np.random.default_rng(4)
    points = rng.normal(size=(700, 3))
    labelings = [rng.integers(0, k, 700) for k in (2, 3, 5)]
    settings = SegmentParams(silhouette_sample_size=250, silhouette_repeats=3)
    together = silhouettes(points, labelings, settings)
    alone = [silhouette(points, labels, settings) for labels in labelings]
    # one matrix product for all three sums in another order than one product each: equal
    # to the last bits of a double, not bit for bit
    assert np.allclose([(s.mean, s.spread) for s in together], [(s.mean, s.spread) for s in alone],
                       rtol=0, atol=1e-12)
    assert [(s.sample_size, s.repeats) for s in together] == [(s.sample_size, s.repeats) for s in alone]
    assert len({s.mean for s in together}) == 3 and all(s.sample_size == 250 for s in together)
