"""The segments of one run as the brief uses them, and scoring with a saved model.

Nothing here needs scikit-learn: a weekly run that scores with the saved model (most weeks)
imports only NumPy and pandas for its segments; fitting lives in `segment`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np

from reporter.data.features import FeatureTable
from reporter.segmentation.align import Alignment
from reporter.segmentation.kselect import KChoice, Silhouette, silhouette
from reporter.segmentation.params import SegmentParams
from reporter.segmentation.scorer import Scorer


@dataclass(frozen=True)
class Component:
    number: int
    explained: float
    loadings: tuple[tuple[str, float], ...]  # the original features that load most, signed

    @property
    def label(self) -> str:
        """Axis label in features, not 'PC1': what moves customers along this axis."""
        up = [name for name, weight in self.loadings if weight > 0]
        down = [name for name, weight in self.loadings if weight < 0]
        parts = []
        if up:
            parts.append("more " + ", ".join(up))
        if down:
            parts.append("less " + ", ".join(down))
        return f"{'; '.join(parts)} ({self.explained:.0%} of variance)"


@dataclass(frozen=True)
class Segmentation:
    labels: np.ndarray  # segment per customer, aligned with FeatureTable.frame
    k: int
    algorithm: str
    silhouette: Silhouette  # of the final segments, on the customers used to fit
    k_choice: KChoice
    pca_coordinates: np.ndarray  # first two components per customer, for the scatter
    components: tuple[Component, ...]
    fit_points: np.ndarray  # the fitted customers in PCA space, for stability and comparison
    fit_labels: np.ndarray
    scorer: Scorer  # the fitted model as numbers: what scored these customers and is saved
    alignment: Alignment | None = None  # set when a refit was matched to the previous model
    warm_started: bool = False  # the refit started from the previous segments' centres

    @property
    def segment_of_cluster(self) -> np.ndarray:
        return self.scorer.segment_of_cluster

    @property
    def explained_variance(self) -> tuple[float, ...]:
        return tuple(c.explained for c in self.components)


def score(scorer: Scorer, table: FeatureTable, settings: SegmentParams, k_choice: KChoice,
          components: tuple[Component, ...]) -> Segmentation:
    """Assign this table's customers with an already fitted model: no refit, same segments."""
    return segmentation_of(scorer, table, k_choice, components, settings)


def segmentation_of(scorer: Scorer, table: FeatureTable, k_choice: KChoice,
                  components: tuple[Component, ...], settings: SegmentParams,
                  known: tuple[np.ndarray, Silhouette] | None = None,
                  limit: Callable[[], AbstractContextManager] = nullcontext, **refit) -> Segmentation:
    """Every customer assigned by `scorer`, with what the brief and the checks need. `known`:
    the segments of the customers used to fit and their silhouette, when the fit computed it
    (used only if the scorer assigns exactly those); `limit`: the threads the silhouette gets."""
    in_fit = table.frame["in_fit"].to_numpy()
    every_point = scorer.project(table.frame)
    labels = scorer.segment_of_cluster[scorer.clusters(every_point)]
    if known is not None and np.array_equal(known[0], labels[in_fit]):
        fit_silhouette = known[1]
    else:
        with limit():
            fit_silhouette = silhouette(every_point[in_fit], labels[in_fit], settings)
    return Segmentation(
        labels=labels,
        k=scorer.k,
        algorithm=scorer.algorithm,
        silhouette=fit_silhouette,
        k_choice=k_choice,
        pca_coordinates=first_two(every_point),
        components=components,
        fit_points=every_point[in_fit],
        fit_labels=labels[in_fit],
        scorer=scorer,
        **refit,
    )


def first_two(points: np.ndarray) -> np.ndarray:
    if points.shape[1] >= 2:
        return points[:, :2]
    return np.column_stack([points[:, 0], np.zeros(len(points))])
