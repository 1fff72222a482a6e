"""Scorer: a fitted segmentation as plain numbers, and the arithmetic that applies it.

Fitting uses scikit-learn; scoring does not. Every customer (of the fitting run, of a later
week, of `reporter assign`) goes through `Scorer.segments`, so what the archive saves is
exactly what made the brief, and another engine (SQL, Spark, an HTTP service) can score with
the same numbers by following docs/reference/model-format.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class Categorical:
    column: str
    categories: tuple[str, ...]  # one 0/1 column each, in this order; an unknown value is all 0


@dataclass(frozen=True)
class Scorer:
    """clip -> standardise -> one-hot -> PCA -> nearest centre (or Gaussian mixture) -> segment."""

    numeric: tuple[str, ...]
    categorical: tuple[Categorical, ...]
    clip_low: np.ndarray  # per numeric feature
    clip_high: np.ndarray
    scale_mean: np.ndarray
    scale_std: np.ndarray  # a constant feature has 1 here, as scikit-learn keeps it
    pca_mean: np.ndarray  # per encoded column (numeric first, then one-hot)
    pca_components: np.ndarray  # components x encoded columns
    algorithm: str  # "kmeans", "agglomerative" (Ward centres) or "gmm"
    centres: np.ndarray  # clusters x components
    segment_of_cluster: np.ndarray  # cluster index -> segment number
    gmm_weights: np.ndarray | None = None  # gmm only: mixture weights
    gmm_precisions_cholesky: np.ndarray | None = None  # gmm only: clusters x comp x comp

    @property
    def columns(self) -> list[str]:
        """The feature columns read, in order."""
        return [*self.numeric, *(c.column for c in self.categorical)]

    @property
    def k(self) -> int:
        return len(self.segment_of_cluster)

    def encode(self, frame: pd.DataFrame | Mapping[str, np.ndarray]) -> np.ndarray:
        """A table, or columns by name (the array path): the same arithmetic either way."""
        if isinstance(frame, pd.DataFrame):  # one block: no copy per column at a million rows
            numeric = frame[list(self.numeric)].to_numpy(dtype=float)
        else:
            numeric = np.column_stack([np.asarray(frame[c], dtype=float) for c in self.numeric])
        scaled = (np.clip(numeric, self.clip_low, self.clip_high) - self.scale_mean) / self.scale_std
        hot = [_one_hot(frame[c.column], c.categories) for c in self.categorical]
        return np.hstack([scaled, *hot])

    def project(self, frame: pd.DataFrame | Mapping[str, np.ndarray]) -> np.ndarray:
        """Each customer's coordinates on the principal components."""
        return (self.encode(frame) - self.pca_mean) @ self.pca_components.T

    def clusters(self, points: np.ndarray) -> np.ndarray:
        """Cluster index per point (before numbering as segments)."""
        if self.algorithm == "gmm":
            return _most_likely_component(points, self.gmm_weights, self.centres,
                                          self.gmm_precisions_cholesky)
        return nearest_centre(points, self.centres)

    def segments(self, frame: pd.DataFrame | Mapping[str, np.ndarray]) -> np.ndarray:
        return self.segment_of_cluster[self.clusters(self.project(frame))]


def _one_hot(values, categories: tuple[str, ...]) -> np.ndarray:
    """One 0/1 column per category, for a Series (as text objects: the fastest at a million
    rows) or an array of the array path; the same 0s and 1s either way."""
    if isinstance(values, pd.Series):
        text = values.astype(str).to_numpy()
    else:
        text = np.asarray(values, dtype=object)
    return (text[:, None] == np.asarray(categories, dtype=object)[None, :]).astype(float)


def nearest_centre(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for each point, in chunks: O(n·k) time, bounded memory."""
    labels = np.empty(len(points), dtype=int)
    for start in range(0, len(points), CHUNK_ROWS):
        block = points[start:start + CHUNK_ROWS]
        distances = ((block[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        labels[start:start + CHUNK_ROWS] = distances.argmin(axis=1)
    return labels


def _most_likely_component(points: np.ndarray, weights: np.ndarray, means: np.ndarray,
                           precisions_cholesky: np.ndarray) -> np.ndarray:
    """argmax over components of log weight + log Gaussian density (full covariances)."""
    scores = np.empty((len(points), len(weights)))
    for index, (mean, chol) in enumerate(zip(means, precisions_cholesky, strict=True)):
        y = (points - mean) @ chol
        log_det = np.log(np.diag(chol)).sum()
        scores[:, index] = (-0.5 * (points.shape[1] * np.log(2 * np.pi) + (y ** 2).sum(axis=1))
                            + log_det + np.log(weights[index]))
    return scores.argmax(axis=1)
