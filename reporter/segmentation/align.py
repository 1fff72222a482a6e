"""Align: give a refitted model's clusters the segment numbers of the model they replace.

KMeans numbers its clusters arbitrarily, so without alignment "segment 2" could be a different
group of customers after every refit. The old model assigns this week's customers to its
segments; each new cluster is matched to the old segment it shares most customers with
(Hungarian assignment on the overlap, `scipy.optimize.linear_sum_assignment`). A new cluster
without a partner is reported as new; an old segment without one as dissolved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Alignment:
    segment_of_cluster: np.ndarray  # new raw cluster id -> segment id (0..k-1)
    kept: tuple[tuple[int, int, float], ...]  # (old segment, new segment, share of old kept)
    new: tuple[int, ...]  # segment ids (new numbering) without a partner last time
    dissolved: tuple[int, ...]  # old segment ids without a partner now

    @property
    def sentence(self) -> str:
        parts = [f"{len(self.kept)} segment{'s' if len(self.kept) != 1 else ''} carried over"]
        if self.new:
            parts.append("new: " + ", ".join(f"segment {s}" for s in self.new))
        if self.dissolved:
            parts.append("dissolved: " + ", ".join(f"old segment {s}" for s in self.dissolved))
        return "; ".join(parts)


def overlap(new_clusters: np.ndarray, old_segments: np.ndarray, k_new: int, k_old: int) -> np.ndarray:
    """Customers in each (new cluster, old segment) pair."""
    counts = np.zeros((k_new, k_old), dtype=np.int64)
    np.add.at(counts, (new_clusters, old_segments), 1)
    return counts


def align(new_clusters: np.ndarray, old_segments: np.ndarray, k_new: int, k_old: int,
          spend: np.ndarray) -> Alignment:
    """Matched clusters take their old segment's number; unmatched ones follow, by spend."""
    counts = overlap(new_clusters, old_segments, k_new, k_old)
    from scipy.optimize import linear_sum_assignment  # refits only: scoring never imports scipy

    rows, cols = linear_sum_assignment(-counts)
    matched = {int(r): int(c) for r, c in zip(rows, cols, strict=True) if counts[r, c] > 0}
    unmatched = [c for c in range(k_new) if c not in matched]
    means = {c: spend[new_clusters == c].mean() if (new_clusters == c).any() else 0.0 for c in unmatched}
    provisional = dict(matched)
    for rank, cluster in enumerate(sorted(unmatched, key=lambda c: (-means[c], c))):
        provisional[cluster] = k_old + rank
    order = sorted(provisional, key=provisional.get)  # old numbers first, then the new ones
    segment_of_cluster = np.empty(k_new, dtype=int)
    segment_of_cluster[order] = np.arange(k_new)
    old_sizes = counts.sum(axis=0)
    kept = tuple(sorted(
        (old, int(segment_of_cluster[new]), float(counts[new, old] / max(old_sizes[old], 1)))
        for new, old in matched.items()))
    return Alignment(
        segment_of_cluster=segment_of_cluster,
        kept=kept,
        new=tuple(sorted(int(segment_of_cluster[c]) for c in unmatched)),
        dissolved=tuple(o for o in range(k_old) if o not in matched.values()),
    )
