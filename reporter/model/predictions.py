"""The saved predictors a new customer is scored with, besides the segmentation: one list,
read by both ways of scoring new customers (score_new's table path and the array path), so a
predictor added here (a lifetime model, say) reaches `reporter assign` and `reporter serve`
at once. Each takes the saved model and the customers' features (a table, or columns by
name) and gives its columns; a model without that predictor gives none."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from reporter.model.artefact import SavedModel
from reporter.predict.saved import score_frame

Predictor = Callable[[SavedModel, Mapping[str, np.ndarray]], dict[str, np.ndarray]]


def _response(model: SavedModel, features) -> dict[str, np.ndarray]:
    """p_response: the chance of answering the next campaign (predict/saved.py)."""
    if model.propensity is None:
        return {}
    return {"p_response": score_frame(model.propensity, features)}


PREDICTORS: tuple[Predictor, ...] = (_response,)


def predictions(model: SavedModel, features) -> dict[str, np.ndarray]:
    """Every saved predictor's columns for these customers, in PREDICTORS order."""
    found: dict[str, np.ndarray] = {}
    for predictor in PREDICTORS:
        found.update(predictor(model, features))
    return found
