"""What fitting pays (issue 36, the 50,000-customer fit run): every k fitted once, every
silhouette pass paid once, native code on one thread for work on samples. Counted by spies
around the real scikit-learn and silhouette code (each call still runs), never timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from threadpoolctl import threadpool_info

from reporter.data import sample
from reporter.data.features import FeatureTable
from reporter.segmentation import kselect
from reporter.segmentation.assess import compare_engines
from reporter.segmentation.params import ComparisonParams, SegmentParams
from reporter.segmentation.segment import WardCentroids, segment
from tests.helpers import features_from_sample
from tests.support import memo


@pytest.fixture(autouse=True)
def computed(monkeypatch) -> None:
    """The spies below count real calls: no answer from the suite's memo (tests/support/memo.py)."""
    memo.computed_every_time(monkeypatch)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> FeatureTable:
    return features_from_sample(tmp_path_factory.mktemp("fitcost"), rows=500, seed=4)


@pytest.fixture
def fits(monkeypatch) -> list[tuple[int, int, int]]:
    """(k, rows, OpenMP threads) of every KMeans fit while the test runs."""
    seen: list[tuple[int, int, int]] = []
    original = KMeans.fit

    def recording(self, X, *args, **kwargs):
        threads = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"),
                      default=1)
        seen.append((self.n_clusters, len(X), threads))
        return original(self, X, *args, **kwargs)

    monkeypatch.setattr(KMeans, "fit", recording)
    return seen


@pytest.fixture
def passes(monkeypatch) -> list[int]:
    """How many segmentations each silhouette pass (one distance pass per sample) served."""
    seen: list[int] = []
    original = kselect.silhouette_means

    def counting(points, labelings, block=1000):
        seen.append(len(labelings))
        return original(points, labelings, block)

    monkeypatch.setattr(kselect, "silhouette_means", counting)
    return seen


def test_a_table_searched_whole_fits_each_k_once(table, fits):
    result = segment(table, SegmentParams())
    assert not result.k_choice.sampled
    assert sorted((k, rows) for k, rows, _ in fits) == [(k, len(result.fit_points))
                                                        for k in result.k_choice.ks]
    # the search's model is the one a fresh fit of the chosen k gives: the same segments
    fresh = KMeans(result.k, n_init=kselect.N_INIT, random_state=SegmentParams().seed)
    assert adjusted_rand_score(fresh.fit_predict(result.fit_points), result.fit_labels) == 1.0


def test_each_silhouette_pass_is_paid_once(table, passes):
    result = segment(table, SegmentParams())
    assert passes == [len(result.k_choice.ks)]  # the search's pass: the final segments' too
    assert result.silhouette == result.k_choice.at(result.k).silhouette
    assert result.silhouette.mean == pytest.approx(
        silhouette_score(result.fit_points, result.fit_labels), abs=1e-9)
    passes.clear()
    engines = {e.algorithm: e for e in compare_engines(result, SegmentParams(), ComparisonParams())}
    assert passes == [2]  # agglomerative and GMM in one pass
    ward = WardCentroids(result.k, ComparisonParams().max_rows, SegmentParams().seed)
    ward_labels = ward.fit(result.fit_points).predict(result.fit_points)
    assert engines["agglomerative"].silhouette == pytest.approx(
        silhouette_score(result.fit_points, ward_labels), abs=1e-9)


FIT_THREADS = """
import json, sys
from pathlib import Path
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_info
from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import load
from reporter.data.params import CleanParams
from reporter.segmentation.assess import assess
from reporter.segmentation.params import ComparisonParams, SegmentParams, StabilityParams
from reporter.segmentation.segment import segment

seen, original = [], KMeans.fit
def recording(self, X, *args, **kwargs):
    seen.append(max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"))
    return original(self, X, *args, **kwargs)
KMeans.fit = recording
raw = load(Path(sys.argv[1]))
table = build_features(clean(raw, CleanParams(), raw.frame["Dt_Customer"].max().date()))
free = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp")
result = segment(table, SegmentParams(k_max=4))
assess(result, SegmentParams(k_max=4), StabilityParams(resamples=2), ComparisonParams())
print(json.dumps({"free": free, "fits": seen}))
"""


@pytest.mark.e2e
def test_fits_on_samples_run_on_one_thread(tmp_path):
    """In a process of its own without the suite's one-thread environment (tests/__init__.py),
    as `reporter run` starts: every fit of the search and the assessment on one thread."""
    data = tmp_path / "customers.csv"
    sample.write(sample.generate(300, seed=4), data)
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", FIT_THREADS, str(data)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if found["free"] < 2:
        pytest.skip("one core: nothing to limit")
    # the search (k 2-4), two resamples, and the KMeans that starts each of the GMM's two fits
    assert len(found["fits"]) == 3 + 2 + 2
    assert set(found["fits"]) == {1}
