"""Feature tables with a known structure, for the segmentation tests."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from reporter.data.features import FeatureTable, RfmCuts
from reporter.segmentation.params import SegmentParams


def blobs(groups: int, per_group: int = 150, seed: int = 0, spread: float = 1.0) -> FeatureTable:
    """`groups` well-separated groups in the model's feature space (centres 8 sd apart)."""
    rng = np.random.default_rng(seed)
    features = SegmentParams().features
    centres = rng.normal(0, 1, size=(groups, len(features)))
    centres = centres / np.linalg.norm(centres, axis=1, keepdims=True) * 8
    rows = np.vstack([c + rng.normal(0, spread, size=(per_group, len(features))) for c in centres])
    frame = pd.DataFrame(rows * 100 + 1000, columns=features)
    frame.insert(0, "ID", np.arange(len(frame)))
    frame["in_fit"] = True
    frame["truth"] = np.repeat(np.arange(groups), per_group)
    return FeatureTable(frame, date(2014, 6, 29), RfmCuts.fit(frame))
