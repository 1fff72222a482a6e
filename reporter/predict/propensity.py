"""The propensity stage's record, and scoring with a saved model (no scikit-learn needed:
a scored week never imports it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reporter.data.features import FeatureTable
from reporter.predict.saved import SavedPropensity, score_frame


@dataclass(frozen=True)
class Propensity:
    """p_response of every customer of the table, or why there is none (`note`)."""

    p_response: np.ndarray | None
    model: SavedPropensity | None
    note: str = ""
    fitted: bool = False  # fitted this run (else scored with a saved model)
    estimators: tuple = field(default=(), compare=False, repr=False)  # the scikit-learn fit


def score_propensity(model: SavedPropensity | None, table: FeatureTable) -> Propensity:
    """A scored week: the saved model's numbers, or a note when the model has none."""
    if model is None:
        return Propensity(None, None, "No response propensity this week: the saved segmentation "
                                      "has none (fitted by an older version, or with too few "
                                      "responders to learn from); the next refit fits one.")
    return Propensity(score_frame(model, table.frame), model)
