"""Plain parameters of the segmentation stage, made from reporter.yaml at the edge (app), so
a stage and its tests need no configuration model. Defaults equal the config's (tested)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_FEATURES = ("income", "total_spending", "total_purchases", "recency", "age", "tenure_days",
                    "children", "deal_share", "web_visits", "spend_per_purchase")


@dataclass(frozen=True)
class SegmentParams:
    algorithm: str = "kmeans"  # "kmeans", "agglomerative" or "gmm"
    k: int | str = "auto"
    k_min: int = 2
    k_max: int = 10
    min_useful_k: int = 3  # "auto" never chooses fewer segments
    seed: int = 42
    pca_components: float | int = 0.9  # below 1: share of variance; 1 or more: a count
    silhouette_sample_size: int = 5000
    silhouette_repeats: int = 5
    selection_sample_size: int = 20_000  # above this many customers, k is chosen on a sample
    elbow_silhouette_tolerance: float = 0.05
    features: tuple[str, ...] = DEFAULT_FEATURES
    categorical: tuple[str, ...] = ()


@dataclass(frozen=True)
class StabilityParams:
    resamples: int = 10  # 0 turns the check off
    fraction: float = 0.8
    max_rows: int = 20_000
    stable_from: float = 0.8
    moderate_from: float = 0.6


@dataclass(frozen=True)
class ComparisonParams:
    enabled: bool = True
    max_rows: int = 5_000  # agglomerative clustering is fitted on at most this many
    sample_rows: int = 20_000  # the three methods are compared on at most this many
