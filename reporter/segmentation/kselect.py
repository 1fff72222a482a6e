"""Choice of k: diagnostics for every k in the range, the elbow by Kneedle, and the rule that
settles elbow against silhouette.

Every step is linear in the number of customers: KMeans is O(n·k), Calinski-Harabasz and
Davies-Bouldin are O(n·k), and the silhouette (O(n²)) is computed exactly only up to
`silhouette_sample_size` customers, above that as the mean over repeated fixed-seed samples.
Above `selection_sample_size` customers the whole search runs on one random sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from reporter.progress import advance
from reporter.segmentation.params import SegmentParams

if TYPE_CHECKING:
    from sklearn.cluster import KMeans

N_INIT = 10  # k-means++ starts per fit; fewer made the inertia curve noisy enough to move
            # the elbow (k=6 instead of 5 on the 600-customer sample with 3 starts)


@dataclass(frozen=True)
class Silhouette:
    mean: float
    spread: float  # standard deviation over repeated samples; 0 when exact
    sample_size: int | None  # None: exact, on every customer
    repeats: int


@dataclass(frozen=True)
class KDiagnostics:
    k: int
    inertia: float
    silhouette: Silhouette
    calinski_harabasz: float
    davies_bouldin: float


@dataclass(frozen=True)
class KChoice:
    """The evidence behind k and the rule's verdict in words."""

    diagnostics: tuple[KDiagnostics, ...]
    elbow_k: int
    best_silhouette_k: int
    chosen_k: int
    reason: str
    rows_searched: int  # customers the search ran on (a sample above selection_sample_size)
    rows_total: int
    centres: np.ndarray | None = field(default=None, compare=False)  # chosen k's, on the searched rows

    @property
    def ks(self) -> tuple[int, ...]:
        return tuple(d.k for d in self.diagnostics)

    @property
    def sampled(self) -> bool:
        return self.rows_searched < self.rows_total

    def at(self, k: int) -> KDiagnostics:
        return next(d for d in self.diagnostics if d.k == k)


def kmeans(k: int, seed: int, n_init: int = N_INIT) -> KMeans:
    from sklearn.cluster import KMeans  # only fitting pays for scikit-learn's import

    return KMeans(n_clusters=k, n_init=n_init, random_state=seed)


def one_thread():
    """Native code (OpenMP in KMeans, OpenBLAS) on one thread, for work on samples of at most
    tens of thousands of customers: split over two threads it pays a synchronisation per
    Lloyd iteration that costs more than it saves, and on a busy machine a waiting thread
    spins (a 20,000-customer KMeans with ten starts: 0.4 s on one thread, 9.7 s on two
    while five other processes ran). Whole-table steps keep every thread."""
    import sklearn.cluster  # noqa: F401  (loads the OpenMP runtime the limit must see)
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    return threadpool_limits(limits=1)


def silhouette(points: np.ndarray, labels: np.ndarray, settings: SegmentParams) -> Silhouette:
    """Exact for small tables; above the threshold the mean of repeated fixed-seed samples."""
    return silhouettes(points, [labels], settings)[0]


def silhouettes(points: np.ndarray, labelings: list[np.ndarray],
                settings: SegmentParams) -> list[Silhouette]:
    """The silhouette of several segmentations of the same customers (one per k): each
    sample's distances are computed once and shared by every segmentation."""
    size = settings.silhouette_sample_size
    if len(points) <= size:
        samples, sample_size = [np.arange(len(points))], None
    else:  # the same samples scikit-learn's silhouette_score(sample_size=, random_state=) draws
        samples = [np.random.RandomState(settings.seed + repeat).permutation(len(points))[:size]
                   for repeat in range(settings.silhouette_repeats)]
        sample_size = size
    scores = np.array([silhouette_means(points[chosen], [labels[chosen] for labels in labelings])
                       for chosen in samples])  # (samples, segmentations)
    return [Silhouette(0.0, 0.0, None, 1) if len(np.unique(labels)) < 2 else
            Silhouette(float(scores[:, i].mean()), float(scores[:, i].std()), sample_size, len(samples))
            for i, labels in enumerate(labelings)]


def silhouette_mean(points: np.ndarray, labels: np.ndarray, block: int = 1000) -> float:
    return float(silhouette_means(points, [labels], block)[0])


def silhouette_means(points: np.ndarray, labelings: list[np.ndarray], block: int = 1000) -> np.ndarray:
    """Mean silhouettes as scikit-learn's silhouette_score computes them, from one distance
    block at a time summed per segment by a matrix product (3.5x faster than scikit-learn on
    5,000 customers in 7 dimensions), each block shared by every segmentation: the one-hot
    columns of all of them side by side make one product per block instead of one per
    segmentation (the k search's nine in a third of the time, the same sums)."""
    n = len(points)
    widths = [int(labels.max()) + 1 for labels in labelings]
    edges = np.concatenate([[0], np.cumsum(widths)])
    onehot = np.zeros((n, int(edges[-1])))
    for labels, first in zip(labelings, edges[:-1], strict=True):
        onehot[np.arange(n), first + labels] = 1.0
    counts = onehot.sum(axis=0)
    sums = _distance_sums(points, onehot, block)
    totals = np.zeros(len(labelings))
    for i, labels in enumerate(labelings):
        columns = slice(edges[i], edges[i + 1])
        totals[i] = _block_silhouette_sum(sums[:, columns], labels, counts[columns])
    return totals / n


def _distance_sums(points: np.ndarray, onehot: np.ndarray, block: int) -> np.ndarray:
    """Each customer's summed distance to every segment's members. Distances are symmetric, so
    each pair of blocks is computed once and serves both (0.6 of the distances of a full pass)."""
    sums = np.zeros_like(onehot)
    starts = range(0, len(points), block)
    for a in starts:
        rows = slice(a, a + block)
        for b in (b for b in starts if b >= a):
            others = slice(b, b + block)
            distances = _cdist(points[rows], points[others])
            sums[rows] += distances @ onehot[others]
            if b != a:
                sums[others] += distances.T @ onehot[rows]
    return sums


def _cdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances, imported when first needed (scoring a small table never does)."""
    from scipy.spatial.distance import cdist

    return cdist(a, b)


def _block_silhouette_sum(sums: np.ndarray, own: np.ndarray, counts: np.ndarray) -> float:
    """Sum of the silhouettes of one block of customers, from their distance sums per segment."""
    rows = np.arange(len(own))
    inside = sums[rows, own] / np.maximum(counts[own] - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        others = sums / counts
        others[:, counts == 0] = np.inf
        others[rows, own] = np.inf
        nearest = others.min(axis=1)
        scores = np.nan_to_num((nearest - inside) / np.maximum(inside, nearest))
    scores[counts[own] == 1] = 0.0  # a customer alone in a segment scores 0
    return float(scores.sum())


def diagnose(points: np.ndarray, labels: np.ndarray, inertia: float,
             silhouette_: Silhouette) -> KDiagnostics:
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    k = len(np.unique(labels))
    separable = 2 <= k < len(points)
    return KDiagnostics(
        k=k,
        inertia=float(inertia),
        silhouette=silhouette_,
        calinski_harabasz=float(calinski_harabasz_score(points, labels)) if separable else 0.0,
        davies_bouldin=float(davies_bouldin_score(points, labels)) if separable else 0.0,
    )


def search_sample(points: np.ndarray, settings: SegmentParams) -> np.ndarray:
    """Rows the k search runs on: all of them, or a fixed-seed sample of large tables."""
    if len(points) <= settings.selection_sample_size:
        return points
    rng = np.random.default_rng(settings.seed)
    keep = np.sort(rng.choice(len(points), size=settings.selection_sample_size, replace=False))
    return points[keep]


def choose_k(points: np.ndarray, settings: SegmentParams) -> KChoice:
    return search_k(points, settings)[0]


def search_k(points: np.ndarray, settings: SegmentParams) -> tuple[KChoice, KMeans]:
    """The choice of k, and the chosen k's KMeans fitted on the searched rows: when those are
    every customer it is the final model (the same estimator, seed and rows would fit it again)."""
    searched = search_sample(points, settings)
    distinct = len(np.unique(searched, axis=0))
    if isinstance(settings.k, int):
        ks: tuple[int, ...] = (settings.k,)
    else:
        ks = tuple(k for k in range(settings.k_min, settings.k_max + 1) if k < distinct)
    models = []
    with one_thread():
        for done, k in enumerate(ks, start=1):
            models.append(kmeans(k, settings.seed).fit(searched))
            advance(done, len(ks))
        scores = silhouettes(searched, [model.labels_ for model in models], settings)
    diagnostics = [diagnose(searched, model.labels_, model.inertia_, score)
                   for model, score in zip(models, scores, strict=True)]
    fitted = dict(zip(ks, models, strict=True))
    chosen, elbow, best, reason = _apply_rule(tuple(diagnostics), settings)
    return (KChoice(tuple(diagnostics), elbow, best, chosen, reason, len(searched), len(points),
                    fitted[chosen].cluster_centers_), fitted[chosen])


def _apply_rule(diagnostics: tuple[KDiagnostics, ...],
                settings: SegmentParams) -> tuple[int, int, int, str]:
    """The elbow, unless its silhouette is more than the tolerance below the best one.

    Only k of at least `min_useful_k` can be chosen; the diagnostics of smaller k are still
    computed and shown, because a reader may ask why two segments were not enough.
    """
    if isinstance(settings.k, int):
        k = settings.k
        return k, k, k, f"k={k} is fixed in reporter.yaml (segmentation.k)."
    ks = [d.k for d in diagnostics]
    elbow = ks[kneedle_index([d.inertia for d in diagnostics])]
    candidates = [d for d in diagnostics if d.k >= settings.min_useful_k] or list(diagnostics)
    best = max(candidates, key=lambda d: d.silhouette.mean)
    elbow = max(elbow, candidates[0].k)
    gap = best.silhouette.mean - next(d for d in diagnostics if d.k == elbow).silhouette.mean
    span = f"{candidates[0].k}-{candidates[-1].k}"
    if gap <= settings.elbow_silhouette_tolerance:
        reason = (f"k={elbow} is the elbow of the inertia curve and its silhouette is within "
                  f"{settings.elbow_silhouette_tolerance:.2f} of the best for k in {span}.")
        return elbow, elbow, best.k, reason
    reason = (f"the elbow (k={elbow}) separates customers {gap:.2f} worse by silhouette than "
              f"k={best.k}, the best for k in {span}, so k={best.k} is used.")
    return best.k, elbow, best.k, reason


def kneedle_index(values: list[float]) -> int:
    """Kneedle (Satopää et al., 2011) for a decreasing convex curve: normalise both axes to
    [0, 1], and take the point where the curve lies furthest below the straight line from the
    first to the last point (the maximum of the difference curve)."""
    if len(values) < 3:
        return 0
    y = np.asarray(values, dtype=float)
    x = np.linspace(0.0, 1.0, len(y))
    spread = y.max() - y.min()
    y_norm = (y - y.min()) / spread if spread > 0 else np.zeros_like(y)
    difference = (1.0 - x) - y_norm
    return int(np.argmax(difference))
