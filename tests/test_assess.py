from __future__ import annotations

from dataclasses import replace

import numpy as np

from reporter.segmentation.assess import compare_engines, stability, stability_words
from reporter.segmentation.params import ComparisonParams, SegmentParams, StabilityParams
from reporter.segmentation.segment import segment
from tests.segment_data import blobs


def test_clear_groups_are_stable_and_all_methods_agree():
    result = segment(blobs(4, seed=3), SegmentParams(k=4))
    check = stability(result, SegmentParams(), StabilityParams(resamples=5), ComparisonParams())
    assert check.resamples == 5 and check.verdict == "stable"
    assert check.worst_ari > 0.95 and check.mean_ari >= check.worst_ari
    engines = compare_engines(result, SegmentParams(), ComparisonParams())
    assert [e.algorithm for e in engines] == ["kmeans", "agglomerative", "gmm"]
    assert engines[0].chosen and engines[0].ari_with_kmeans == 1.0
    assert all(e.ari_with_kmeans > 0.95 for e in engines)
    assert all(e.calinski_harabasz > 0 and e.davies_bouldin > 0 for e in engines)


def test_structureless_data_is_less_stable_than_clear_groups():
    rng = np.random.default_rng(5)
    noise = blobs(1, per_group=800, seed=5)
    frame = noise.frame.copy()
    features = list(SegmentParams().features)
    frame[features] = rng.uniform(0, 1, size=(800, len(features)))
    result = segment(replace(noise, frame=frame), SegmentParams(k=6))
    check = stability(result, SegmentParams(), StabilityParams(resamples=5), ComparisonParams())
    clear = segment(blobs(6, seed=5), SegmentParams(k=6))
    clear_check = stability(clear, SegmentParams(), StabilityParams(resamples=5), ComparisonParams())
    assert check.mean_ari < clear_check.mean_ari


def test_verdict_words_follow_the_thresholds():
    settings = StabilityParams(stable_from=0.8, moderate_from=0.6)
    assert stability_words(0.85, settings) == "stable"
    assert stability_words(0.7, settings) == "moderately stable"
    assert stability_words(0.3, settings) == "unstable: treat segment sizes with care"


def test_checks_can_be_switched_off():
    result = segment(blobs(3, seed=2), SegmentParams(k=3))
    assert stability(result, SegmentParams(), StabilityParams(resamples=0), ComparisonParams()) is None
    assert compare_engines(result, SegmentParams(), ComparisonParams(enabled=False)) == ()


def test_the_chosen_engine_is_marked():
    settings = SegmentParams(k=3, algorithm="gmm")
    result = segment(blobs(3, seed=4), settings)
    engines = compare_engines(result, settings, ComparisonParams())
    assert [e.algorithm for e in engines if e.chosen] == ["gmm"]
