"""Plain parameters of the propensity stage (made at the edge; the defaults suit a weekly
brief)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PropensityParams:
    """How the propensity model is fitted: plain values (the defaults suit a weekly brief)."""

    folds: int = 5
    seed: int = 0
    max_fit_rows: int = 5_000  # a stratified sample above this: the 1M fit stays in budget
    min_each: int = 30  # responders and non-responders needed to learn from
    c: float = 1.0  # logistic regression: inverse L2 strength on standardised columns
    boosting_iterations: int = 40
    boosting_margin: float = 0.005  # boosting is kept only when its mean AUC is this much higher
    drivers: int = 5


@dataclass(frozen=True)
class LifetimeParams:
    """How BG/NBD and Gamma-Gamma are fitted (the defaults suit a weekly brief)."""

    seed: int = 0
    max_fit_rows: int = 20_000  # a seeded sample above this: the 1M fit stays in budget
    min_repeaters: int = 100  # customers with a repeat purchase needed to learn from
