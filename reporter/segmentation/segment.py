"""Segment: encode, scale, PCA and a clustering engine fitted with scikit-learn, with k chosen
by `kselect`; the fit is kept as a `Scorer` (plain numbers), which assigns every customer.
Only fitting needs this module (and scikit-learn); scoring with a saved model is `result.score`.

The model is fitted on the customers marked `in_fit` and then assigns every customer, so an
excluded customer (implausible age, extreme income) still gets a segment but cannot pull one.
Segment numbers are ordered by mean total spending, highest first, so the same data gives the
same ids (and colours) in every chart and every run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from reporter.data.features import REGISTRY, FeatureTable
from reporter.errors import ConfigError, DataError
from reporter.segmentation.align import align
from reporter.segmentation.kselect import KChoice, kmeans, one_thread, search_k
from reporter.segmentation.params import ComparisonParams, SegmentParams
from reporter.segmentation.result import Component, Segmentation, segmentation_of
from reporter.segmentation.scorer import Categorical, Scorer, nearest_centre

CLIP_QUANTILES = (0.005, 0.995)
TOP_LOADINGS = 3


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

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


class WardCentroids(ClusterMixin, BaseEstimator):
    """Agglomerative (Ward) clustering that scales: fitted on a fixed-seed sample (Ward needs
    O(n²) memory), then every customer joins the nearest segment centre."""

    def __init__(self, n_clusters: int = 3, max_rows: int = 5000, random_state: int = 0):
        self.n_clusters = n_clusters
        self.max_rows = max_rows
        self.random_state = random_state

    def fit(self, X, y=None):
        points = np.asarray(X, dtype=float)
        if len(points) > self.max_rows:
            rng = np.random.default_rng(self.random_state)
            points = points[np.sort(rng.choice(len(points), self.max_rows, replace=False))]
        labels = AgglomerativeClustering(n_clusters=self.n_clusters, linkage="ward").fit_predict(points)
        self.cluster_centers_ = np.vstack([points[labels == c].mean(axis=0)
                                           for c in range(self.n_clusters)])
        self.fitted_rows_ = len(points)
        return self

    def predict(self, X):
        return nearest_centre(np.asarray(X, dtype=float), self.cluster_centers_)


def engine(algorithm: str, k: int, seed: int, comparison: ComparisonParams):
    """A fresh clustering estimator with fit/predict for the configured algorithm."""
    if algorithm == "agglomerative":
        return WardCentroids(n_clusters=k, max_rows=comparison.max_rows, random_state=seed)
    if algorithm == "gmm":
        return GaussianMixture(n_components=k, covariance_type="full", n_init=2, random_state=seed)
    return kmeans(k, seed)


def segment(table: FeatureTable, settings: SegmentParams,
            comparison: ComparisonParams | None = None, previous: np.ndarray | None = None,
            warm_start_tolerance: float = 0.01) -> Segmentation:
    """Fit a new model. `previous` (the old model's segment per customer of this table) makes
    it a refit: start from the old segments' centres when that fits as well as a fresh start,
    and number the new segments after the old ones."""
    comparison = comparison or ComparisonParams()
    columns = [*settings.features, *settings.categorical]
    in_fit = table.frame["in_fit"].to_numpy()
    fit_rows = table.frame.loc[in_fit, columns]
    _check_enough_customers(fit_rows, settings)
    reducer = _reducer(settings).fit(fit_rows)
    every_point = reducer.transform(table.frame[columns])  # once for everybody
    fit_points = every_point[in_fit]
    k_choice, searched = search_k(fit_points, settings)
    clusterer = _final_engine(settings, k_choice, searched, comparison)
    if clusterer is not searched:
        clusterer = clusterer.fit(fit_points)
    clusterer, warm = _maybe_warm_start(clusterer, fit_points, previous, in_fit,
                                        warm_start_tolerance)
    raw_labels = clusterer.predict(every_point)
    spend = table.frame["total_spending"].to_numpy()
    alignment = None
    if previous is None:
        mapping = spend_order(raw_labels, spend, k_choice.chosen_k)
    else:
        alignment = align(raw_labels[in_fit], previous[in_fit], k_choice.chosen_k,
                          int(previous.max()) + 1, spend[in_fit])
        mapping = alignment.segment_of_cluster
    scorer = scorer_of(reducer, clusterer, mapping)
    known = None
    if clusterer is searched:  # its silhouette was computed in the search, on these rows
        known = (mapping[searched.labels_], k_choice.at(k_choice.chosen_k).silhouette)
    return segmentation_of(scorer, table, k_choice, _components(reducer), settings,
                           alignment=alignment, warm_started=warm, known=known, limit=one_thread)


def _final_engine(settings: SegmentParams, k_choice: KChoice, searched: KMeans,
                  comparison: ComparisonParams):
    """The model to fit on every customer used to fit. When the k search ran on all of them,
    its KMeans for the chosen k is that model already (same estimator, seed and rows); when it
    ran on a sample, its centres start one refinement on everybody instead of ten fresh starts."""
    if settings.algorithm != "kmeans":
        return engine(settings.algorithm, k_choice.chosen_k, settings.seed, comparison)
    if not k_choice.sampled:
        return searched
    return kmeans(k_choice.chosen_k, settings.seed).set_params(init=k_choice.centres, n_init=1)


def scorer_of(reducer: Pipeline, clusterer, segment_of_cluster: np.ndarray) -> Scorer:
    """The fitted scikit-learn steps as the numbers that reproduce them."""
    encode = reducer.named_steps["encode_scale"]
    numeric = encode.named_transformers_["numeric"]
    clip, scale = numeric.named_steps["clip"], numeric.named_steps["scale"]
    columns = dict((name, cols) for name, _, cols in encode.transformers_)
    categorical = ()
    if columns.get("categories"):
        onehot = encode.named_transformers_["categories"]
        categorical = tuple(Categorical(column, tuple(str(c) for c in cats))
                            for column, cats in zip(columns["categories"], onehot.categories_, strict=True))
    pca = reducer.named_steps["pca"]
    gmm = isinstance(clusterer, GaussianMixture)
    return Scorer(
        numeric=tuple(columns["numeric"]), categorical=categorical,
        clip_low=np.asarray(clip.low_, dtype=float), clip_high=np.asarray(clip.high_, dtype=float),
        scale_mean=scale.mean_.copy(), scale_std=scale.scale_.copy(),
        pca_mean=pca.mean_.copy(), pca_components=pca.components_.copy(),
        algorithm=algorithm_name(clusterer),
        centres=(clusterer.means_ if gmm else clusterer.cluster_centers_).copy(),
        segment_of_cluster=np.asarray(segment_of_cluster, dtype=int),
        gmm_weights=clusterer.weights_.copy() if gmm else None,
        gmm_precisions_cholesky=clusterer.precisions_cholesky_.copy() if gmm else None,
    )


def algorithm_name(clusterer) -> str:
    if isinstance(clusterer, WardCentroids):
        return "agglomerative"
    return "gmm" if isinstance(clusterer, GaussianMixture) else "kmeans"


def _maybe_warm_start(fresh, points: np.ndarray, previous: np.ndarray | None, in_fit: np.ndarray,
                      tolerance: float):
    """KMeans started from the old segments' centres (in the new space), kept when it fits
    within `tolerance` of the fresh multi-start fit: continuity when the data allows it."""
    if previous is None or not isinstance(fresh, KMeans):
        return fresh, False
    old = previous[in_fit]
    if set(np.unique(old)) != set(range(fresh.n_clusters)):
        return fresh, False
    centres = np.vstack([points[old == s].mean(axis=0) for s in range(fresh.n_clusters)])
    warm = KMeans(n_clusters=fresh.n_clusters, init=centres, n_init=1,
                  random_state=fresh.random_state).fit(points)
    if warm.inertia_ <= fresh.inertia_ * (1 + tolerance):
        return warm, True
    return fresh, False


def _reducer(settings: SegmentParams) -> Pipeline:
    encode_scale = ColumnTransformer(
        [
            ("numeric", Pipeline([("clip", QuantileClipper()), ("scale", StandardScaler())]),
             list(settings.features)),
            ("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
             list(settings.categorical)),
        ],
        verbose_feature_names_out=False,
    )
    components = settings.pca_components
    n_components = int(components) if components >= 1 else float(components)
    pca = PCA(n_components=n_components, svd_solver="full", random_state=settings.seed)
    return Pipeline([("encode_scale", encode_scale), ("pca", pca)])


def _check_enough_customers(rows: pd.DataFrame, settings: SegmentParams) -> None:
    smallest_k = settings.k if isinstance(settings.k, int) else settings.min_useful_k
    distinct = len(rows.drop_duplicates())
    if distinct <= smallest_k:
        raise DataError(
            f"only {distinct} distinct customers can be used to fit the segments, but at least "
            f"{smallest_k + 1} are needed for k={smallest_k}; use a fuller export or lower "
            "segmentation.min_useful_k in reporter.yaml"
        )
    columns = len(settings.features) + len(settings.categorical)
    if isinstance(settings.pca_components, int) and settings.pca_components > columns:
        raise ConfigError(
            f"segmentation.pca_components is {settings.pca_components}, more than the {columns} "
            "model features; lower it in reporter.yaml or give a share of variance such as 0.9"
        )


def spend_order(labels: np.ndarray, spend: np.ndarray, k: int | None = None) -> np.ndarray:
    """Cluster id -> segment id 0..k-1 by mean spend, highest first (ties by cluster id; a
    cluster nobody was assigned to goes last)."""
    ids = np.arange(k or int(labels.max()) + 1)
    means = np.array([spend[labels == i].mean() if (labels == i).any() else -np.inf for i in ids])
    order = ids[np.lexsort((ids, -means))]
    new_id = np.empty(len(ids), dtype=int)
    new_id[order] = np.arange(len(ids))
    return new_id


def order_by_spend(labels: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """Renumber segments 0..k-1 by mean spend, highest first (ties by old id)."""
    return spend_order(labels, spend)[labels]


def _components(reducer: Pipeline) -> tuple[Component, ...]:
    names = [_readable(n) for n in reducer.named_steps["encode_scale"].get_feature_names_out()]
    pca = reducer.named_steps["pca"]
    components = []
    for number, (weights, explained) in enumerate(
        zip(pca.components_, pca.explained_variance_ratio_, strict=True), start=1
    ):
        top = np.argsort(-np.abs(weights), kind="stable")[:TOP_LOADINGS]
        loadings = tuple((names[i], round(float(weights[i]), 3)) for i in top)
        components.append(Component(number, float(explained), loadings))
    return tuple(components)


def _readable(feature: str) -> str:
    if feature in REGISTRY:
        return REGISTRY[feature].label.lower()
    return feature.replace("_", " ", 1)  # one-hot columns: "education Graduate"
