"""Assess: is the segmentation worth believing? Stability under resampling, and agreement with
two other clustering methods on the same PCA space (the seed project's "Hierarchical vs KMeans").

Both work on the fitted customers in PCA space and cost O(n·k) per fit; the resamples are capped
at `stability.max_rows` customers so a large table stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reporter.progress import advance
from reporter.segmentation.align import overlap
from reporter.segmentation.kselect import Silhouette, one_thread, silhouettes
from reporter.segmentation.params import ComparisonParams, SegmentParams, StabilityParams
from reporter.segmentation.result import Segmentation

ALGORITHMS = ("kmeans", "agglomerative", "gmm")
RESAMPLE_N_INIT = 3


@dataclass(frozen=True)
class Stability:
    resamples: int
    rows_per_resample: int
    mean_ari: float
    worst_ari: float
    verdict: str  # "stable", "moderately stable" or "unstable: treat segment sizes with care"
    kept_share: float = 0.0  # customers whose group a refit keeps, on average (0: not measured)


@dataclass(frozen=True)
class EngineScore:
    algorithm: str
    silhouette: float
    calinski_harabasz: float
    davies_bouldin: float
    ari_with_kmeans: float
    chosen: bool


@dataclass(frozen=True)
class Assessment:
    stability: Stability | None
    engines: tuple[EngineScore, ...]


def assess(result: Segmentation, seg: SegmentParams, resampling: StabilityParams,
           comparison: ComparisonParams) -> Assessment:
    """Every fit here runs on at most tens of thousands of customers: one thread each."""
    with one_thread():
        return Assessment(
            stability=stability(result, seg, resampling, comparison),
            engines=compare_engines(result, seg, comparison),
        )


def stability(result: Segmentation, seg: SegmentParams, settings: StabilityParams,
              comparison: ComparisonParams) -> Stability | None:
    """Refit on random subsamples; compare each refit's labels with the chosen segments (ARI)."""
    if settings.resamples == 0:
        return None
    from sklearn.metrics import adjusted_rand_score  # assessing is fitting: scoring never imports it

    from reporter.segmentation.segment import engine

    points, labels = result.fit_points, result.fit_labels
    rng = np.random.default_rng(seg.seed)
    size = min(int(len(points) * settings.fraction), settings.max_rows)
    scores, kept = [], []
    for repeat in range(settings.resamples):
        keep = np.sort(rng.choice(len(points), size=size, replace=False))
        refit = engine(result.algorithm, result.k, seg.seed + 1 + repeat, comparison)
        if hasattr(refit, "n_init"):
            refit.set_params(n_init=RESAMPLE_N_INIT)
        predicted = refit.fit(points[keep]).predict(points[keep])
        scores.append(adjusted_rand_score(labels[keep], predicted))
        kept.append(kept_together(labels[keep], predicted, result.k))
        advance(repeat + 1, settings.resamples)
    mean, worst = float(np.mean(scores)), float(np.min(scores))
    return Stability(settings.resamples, size, mean, worst, stability_words(mean, settings),
                     float(np.mean(kept)))


def kept_together(original: np.ndarray, refitted: np.ndarray, k: int) -> float:
    """Share of customers a refit puts in the same group, once its groups are matched one to one
    with the original ones (the matching that keeps the most customers): the figure a manager
    can read where the ARI is a statistician's."""
    from scipy.optimize import linear_sum_assignment

    counts = overlap(refitted, original, k, k)
    rows, columns = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, columns].sum() / max(len(original), 1))


def stability_words(mean_ari: float, settings: StabilityParams) -> str:
    if mean_ari >= settings.stable_from:
        return "stable"
    if mean_ari >= settings.moderate_from:
        return "moderately stable"
    return "unstable: treat segment sizes with care"


def compare_engines(result: Segmentation, seg: SegmentParams,
                    comparison: ComparisonParams) -> tuple[EngineScore, ...]:
    """All three algorithms with the chosen k, scored on the same PCA space."""
    if not comparison.enabled:
        return ()
    from reporter.segmentation.segment import engine

    points, labels = result.fit_points, result.fit_labels
    if len(points) > comparison.sample_rows:
        keep = np.sort(np.random.default_rng(seg.seed).choice(len(points), comparison.sample_rows,
                                                              replace=False))
        points, labels = points[keep], labels[keep]
    labelled = {result.algorithm: labels}
    for algorithm in ALGORITHMS:
        if algorithm not in labelled:
            model = engine(algorithm, result.k, seg.seed, comparison).fit(points)
            labelled[algorithm] = model.predict(points)
    reference = labelled["kmeans"]
    # the chosen engine's silhouette was computed with the segmentation; not again. The other
    # two share each sample's distances.
    others = [a for a in ALGORITHMS if a != result.algorithm]
    scores = dict(zip(others, silhouettes(points, [labelled[a] for a in others], seg), strict=True))
    scores[result.algorithm] = result.silhouette
    return tuple(_score(a, points, labelled[a], reference, result, scores[a]) for a in ALGORITHMS)


def _score(algorithm: str, points: np.ndarray, labels: np.ndarray, reference: np.ndarray,
           result: Segmentation, silhouette: Silhouette) -> EngineScore:
    from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score

    separable = 2 <= len(np.unique(labels)) < len(points)
    chosen = algorithm == result.algorithm
    return EngineScore(
        algorithm=algorithm,
        silhouette=silhouette.mean,
        calinski_harabasz=float(calinski_harabasz_score(points, labels)) if separable else 0.0,
        davies_bouldin=float(davies_bouldin_score(points, labels)) if separable else 0.0,
        ari_with_kmeans=float(adjusted_rand_score(reference, labels)),
        chosen=chosen,
    )
