"""Segment: encode, scale, PCA and KMeans in one scikit-learn Pipeline, with k chosen from the
elbow of inertia and the silhouette score.

The model is fitted on the customers marked `in_fit` and then assigns every customer, so an
excluded customer (implausible age, extreme income) still gets a segment but cannot pull one.
Cluster numbers are ordered by size, largest first, so the same data always gives the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from reporter.config import SegmentationConfig
from reporter.errors import DataError
from reporter.features import FeatureTable

N_INIT = 10
CLIP_QUANTILES = (0.005, 0.995)


class QuantileClipper(TransformerMixin, BaseEstimator):
    """Clip each column to quantiles learned at fit, so a handful of extreme customers
    (a huge basket from a single purchase) cannot claim a segment of their own."""

    def __init__(self, quantiles: tuple[float, float] = CLIP_QUANTILES):
        self.quantiles = quantiles

    def fit(self, X, y=None):
        values = np.asarray(X, dtype=float)
        self.low_, self.high_ = np.nanquantile(values, self.quantiles, axis=0)
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=float), self.low_, self.high_)


@dataclass(frozen=True)
class KChoice:
    """The evidence behind k: one entry per k tried, and the rule's verdict in words."""

    ks: tuple[int, ...]
    inertias: tuple[float, ...]
    silhouettes: tuple[float, ...]
    elbow_k: int
    best_silhouette_k: int
    chosen_k: int
    reason: str


@dataclass(frozen=True)
class Segmentation:
    labels: np.ndarray  # cluster per customer, aligned with FeatureTable.frame
    k: int
    silhouette: float
    k_choice: KChoice
    pca_coordinates: np.ndarray  # first two components per customer, for the scatter
    explained_variance: tuple[float, ...]
    model: Pipeline


def segment(table: FeatureTable, settings: SegmentationConfig) -> Segmentation:
    columns = [*settings.features, *settings.categorical]
    fit_rows = table.frame.loc[table.frame["in_fit"], columns]
    _check_enough_customers(fit_rows, settings)
    reducer = _reducer(settings).fit(fit_rows)
    reduced = reducer.transform(fit_rows)
    k_choice = choose_k(reduced, settings)
    model = Pipeline([*reducer.steps, ("kmeans", _kmeans(k_choice.chosen_k, settings.seed))])
    model.fit(fit_rows)
    every_customer = table.frame[columns]
    labels = _order_by_size(model.predict(every_customer))
    fit_labels = labels[table.frame["in_fit"].to_numpy()]
    coordinates = model[:-1].transform(every_customer)
    return Segmentation(
        labels=labels,
        k=k_choice.chosen_k,
        silhouette=_silhouette(model[:-1].transform(fit_rows), fit_labels, settings),
        k_choice=k_choice,
        pca_coordinates=_first_two(coordinates),
        explained_variance=tuple(float(v) for v in model.named_steps["pca"].explained_variance_ratio_),
        model=model,
    )


def _reducer(settings: SegmentationConfig) -> Pipeline:
    encode_scale = ColumnTransformer(
        [
            ("numeric", Pipeline([("clip", QuantileClipper()), ("scale", StandardScaler())]),
             list(settings.features)),
            ("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
             list(settings.categorical)),
        ]
    )
    pca = PCA(n_components=settings.pca_variance, svd_solver="full", random_state=settings.seed)
    return Pipeline([("encode_scale", encode_scale), ("pca", pca)])


def _kmeans(k: int, seed: int) -> KMeans:
    return KMeans(n_clusters=k, n_init=N_INIT, random_state=seed)


def _check_enough_customers(rows: pd.DataFrame, settings: SegmentationConfig) -> None:
    smallest_k = settings.k if isinstance(settings.k, int) else settings.k_min
    distinct = len(rows.drop_duplicates())
    if distinct <= smallest_k:
        raise DataError(
            f"only {distinct} distinct customers can be used to fit the segments, but at least "
            f"{smallest_k + 1} are needed for k={smallest_k}; use a fuller export or lower "
            "segmentation.k_min in reporter.yaml"
        )


def choose_k(reduced: np.ndarray, settings: SegmentationConfig) -> KChoice:
    """Elbow of inertia (largest distance below the chord) checked against the silhouette.

    The rule: take the elbow unless its silhouette is more than `elbow_silhouette_tolerance`
    below the best silhouette in the range; then take the best-silhouette k instead.
    """
    if isinstance(settings.k, int):
        return _fixed_k(reduced, settings)
    distinct = len(np.unique(reduced, axis=0))
    ks = tuple(k for k in range(settings.k_min, settings.k_max + 1) if k < distinct)
    inertias, silhouettes = [], []
    for k in ks:
        labels = _kmeans(k, settings.seed).fit(reduced)
        inertias.append(float(labels.inertia_))
        silhouettes.append(_silhouette(reduced, labels.labels_, settings))
    elbow = ks[_elbow_index(inertias)]
    best = ks[int(np.argmax(silhouettes))]
    gap = max(silhouettes) - silhouettes[ks.index(elbow)]
    if gap <= settings.elbow_silhouette_tolerance:
        chosen = elbow
        reason = (f"k={elbow} is the elbow of the inertia curve and its silhouette is within "
                  f"{settings.elbow_silhouette_tolerance:.2f} of the best in {ks[0]}-{ks[-1]}.")
    else:
        chosen = best
        reason = (f"the elbow (k={elbow}) separates customers {gap:.2f} worse than k={best} "
                  f"by silhouette, so k={best}, the best silhouette in {ks[0]}-{ks[-1]}, is used.")
    return KChoice(ks, tuple(inertias), tuple(silhouettes), elbow, best, chosen, reason)


def _fixed_k(reduced: np.ndarray, settings: SegmentationConfig) -> KChoice:
    k = int(settings.k)
    fitted = _kmeans(k, settings.seed).fit(reduced)
    silhouette = _silhouette(reduced, fitted.labels_, settings)
    return KChoice((k,), (float(fitted.inertia_),), (silhouette,), k, k, k,
                   f"k={k} is fixed in reporter.yaml (segmentation.k).")


def _elbow_index(inertias: list[float]) -> int:
    """Index of the point farthest below the straight line from the first to the last point."""
    if len(inertias) < 3:
        return 0
    y = np.asarray(inertias)
    x = np.linspace(0.0, 1.0, len(y))
    spread = y.max() - y.min()
    y_norm = (y - y.min()) / spread if spread > 0 else np.zeros_like(y)
    chord = 1.0 - x  # the line from (0, 1) to (1, 0)
    return int(np.argmax(chord - y_norm))


def _silhouette(points: np.ndarray, labels: np.ndarray, settings: SegmentationConfig) -> float:
    """Exact for small tables, on a fixed-seed sample above the threshold (it is O(n^2))."""
    if len(np.unique(labels)) < 2:
        return 0.0
    sample = settings.silhouette_sample_size if len(points) > settings.silhouette_sample_size else None
    return float(silhouette_score(points, labels, sample_size=sample, random_state=settings.seed))


def _order_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..k-1 from largest to smallest (ties by old id)."""
    ids, counts = np.unique(labels, return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    new_id = np.empty(int(ids.max()) + 1, dtype=int)
    new_id[order] = np.arange(len(order))
    return new_id[labels]


def _first_two(coordinates: np.ndarray) -> np.ndarray:
    if coordinates.shape[1] >= 2:
        return coordinates[:, :2]
    return np.column_stack([coordinates[:, 0], np.zeros(len(coordinates))])
