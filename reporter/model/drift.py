"""Drift: has this week's data moved away from the data the model was fitted on?

The population stability index (PSI) compares the share of customers in each decile bin of the
fitted data with the share in the same bins now: sum((now - then) * ln(now / then)). Below
`psi_watch` the data is stable, up to `psi_refit` worth watching, above it the model is refitted.
Each prediction the fit made (p_response, ...: predict/columns.py) is kept and watched the
same way as the features; a model saved before it was kept simply has none to compare.
The persona mix is compared the same way, with personas as the bins. Its baseline follows
the rules: the fitted data's share of each segment is kept (`segment_mix`), and the persona mix
it is compared with is re-derived under this week's naming of the segments, so an edit of
personas.yaml (a rename, a merge) is never mistaken for drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from reporter.model.params import ModelParams

DRIFT_FEATURES = ("income", "total_spending", "recency", "total_purchases", "web_visits")
PERSONA_MIX = "persona mix"
DECILES = np.linspace(0.1, 0.9, 9)
FLOOR = 1e-4  # an empty bin counts as this share, so the logarithm stays finite


@dataclass(frozen=True)
class Baseline:
    """The fitted data, summarised: decile edges and bin shares per feature, and the persona mix."""

    edges: dict[str, tuple[float, ...]]
    shares: dict[str, tuple[float, ...]]
    persona_mix: dict[str, float]  # under the rules of the fit (kept for models without segment_mix)
    segment_mix: dict[int, float] = field(default_factory=dict)  # segment -> share when fitted

    @classmethod
    def of(cls, frame: pd.DataFrame, personas: np.ndarray, labels: np.ndarray | None = None,
           predictions: dict[str, np.ndarray] | None = None) -> Baseline:
        """`predictions`: each prediction of the fitted customers, kept beside the features."""
        watched = {**{name: frame[name].to_numpy() for name in DRIFT_FEATURES}, **(predictions or {})}
        edges = {name: tuple(float(e) for e in np.unique(np.quantile(values, DECILES)))
                 for name, values in watched.items()}
        shares = {name: tuple(_bin_shares(values, edges[name])) for name, values in watched.items()}
        return cls(edges, shares, _mix(personas), _segment_shares(labels) if labels is not None else {})

    def mix_under(self, cluster_persona: dict[int, str] | None) -> dict[str, float]:
        """The fitted persona mix as this week's rules name the segments (the saved mix when
        there are no segment shares or no naming to follow)."""
        if not self.segment_mix or not cluster_persona:
            return self.persona_mix
        mix: dict[str, float] = {}
        for cluster, share in self.segment_mix.items():
            name = cluster_persona.get(cluster, "")
            mix[name] = mix.get(name, 0.0) + share
        return mix

    def with_segments(self, cluster_persona: dict[int, str], labels: np.ndarray) -> Baseline:
        """For a model saved before segment shares were kept: each segment's fitted share
        estimated from its persona's fitted share, split as this week's customers split it."""
        if self.segment_mix or not len(labels):
            return self
        now = _segment_shares(labels)
        by_persona: dict[str, float] = {}
        for cluster, share in now.items():
            name = cluster_persona.get(cluster, "")
            by_persona[name] = by_persona.get(name, 0.0) + share
        estimate = {cluster: (self.persona_mix[name] * share / by_persona[name]
                              if (name := cluster_persona.get(cluster, "")) in self.persona_mix
                              else share)
                    for cluster, share in now.items()}
        total = sum(estimate.values()) or 1.0  # a fitted persona no segment carries now
        return replace(self, segment_mix={c: share / total for c, share in estimate.items()})


@dataclass(frozen=True)
class DriftRow:
    name: str
    psi: float
    verdict: str  # "stable", "watch" or "refit"


@dataclass(frozen=True)
class Drift:
    rows: tuple[DriftRow, ...]
    worst: DriftRow

    @property
    def trips(self) -> bool:
        return self.worst.verdict == "refit"


def measure(baseline: Baseline, frame: pd.DataFrame, personas: np.ndarray | None,
            settings: ModelParams, naming: dict[int, str] | None = None,
            predictions: dict[str, np.ndarray] | None = None) -> Drift:
    """PSI per feature, per prediction the baseline kept (of `predictions`, this week's), and of
    the persona mix unless `personas` is None (the rules changed and the baseline keeps no
    segment shares to follow them with). With `naming` (this week's persona of each segment)
    the fitted mix is re-derived under it: renaming is not drift."""
    watched = {**{name: frame[name].to_numpy() for name in DRIFT_FEATURES},
               **{name: values for name, values in (predictions or {}).items() if name in baseline.edges}}
    pairs = [(name, psi(np.asarray(baseline.shares[name]), _bin_shares(values, baseline.edges[name])))
             for name, values in watched.items()]
    if personas is not None:
        pairs.append((PERSONA_MIX, _mix_psi(baseline.mix_under(naming), _mix(personas))))
    rows = [DriftRow(name, value, verdict(value, settings)) for name, value in pairs]
    return Drift(tuple(rows), max(rows, key=lambda row: row.psi))


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected, actual = np.maximum(expected, FLOOR), np.maximum(actual, FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def verdict(value: float, settings: ModelParams) -> str:
    if value > settings.psi_refit:
        return "refit"
    return "watch" if value >= settings.psi_watch else "stable"


def _bin_shares(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    bins = np.searchsorted(np.asarray(edges), values, side="right")
    return np.bincount(bins, minlength=len(edges) + 1) / max(len(values), 1)


def _mix(personas: np.ndarray) -> dict[str, float]:
    names, counts = np.unique(np.asarray(personas, dtype=str), return_counts=True)
    return {str(n): float(c) / counts.sum() for n, c in zip(names, counts, strict=True)}


def _segment_shares(labels: np.ndarray) -> dict[int, float]:
    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    return {int(c): float(n) / counts.sum() for c, n in enumerate(counts) if n}


def _mix_psi(then: dict[str, float], now: dict[str, float]) -> float:
    names = sorted(set(then) | set(now))
    return psi(np.array([then.get(n, 0.0) for n in names]), np.array([now.get(n, 0.0) for n in names]))
