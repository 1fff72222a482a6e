"""The saved propensity model: plain numbers that turn a customer's features into
`p_response`, and the code that scores them (the only scoring code: the fitting run scores
its own customers with it too, so a later run answers exactly as the fitting run did).

1. Design columns (design.py), each clipped to [clip_low, clip_high] and standardised:
   z = (clip(x) - scale_mean) / scale_std.
2. A raw score (log-odds): logistic `z @ coef + intercept`, or boosting `baseline` plus the
   leaf value each tree gives (a node sends z[feature] <= threshold left, else right).
3. Calibration maps the raw score to a probability: `none` (1 / (1 + e^-s)), `sigmoid`
   (1 / (1 + e^-(slope * s + intercept))) or `isotonic` (linear interpolation of s over the
   points x -> y, held flat beyond both ends).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reporter.data.features import CATEGORICAL, REGISTRY
from reporter.predict.design import DERIVED, Design

KINDS = ("logistic", "boosting")
CALIBRATIONS = ("none", "sigmoid", "isotonic")
SCORE_CHUNK = 250_000  # customers scored at a time: the design matrix stays small


@dataclass(frozen=True)
class Tree:
    """One regression tree, as arrays over its nodes (node 0 is the root). A leaf has
    feature -1; `value` is a leaf's contribution to the raw score."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class Calibration:
    method: str  # none, sigmoid or isotonic
    slope: float = 1.0
    intercept: float = 0.0
    x: np.ndarray | None = None  # isotonic: raw scores, ascending
    y: np.ndarray | None = None  # isotonic: the probability at each

    def apply(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.interp(raw, self.x, self.y)
        return _sigmoid(self.slope * raw + self.intercept)


@dataclass(frozen=True)
class Bin:
    """A reliability bin of out-of-sample predictions: their mean and what happened."""

    customers: int
    predicted: float
    observed: float


@dataclass(frozen=True)
class Driver:
    name: str  # a feature table column
    auc_drop: float  # out-of-sample ROC AUC lost when it is shuffled
    sentence: str  # what it means, in plain words


@dataclass(frozen=True)
class Grades:
    """How the model did on customers it never saw (stratified cross-validation)."""

    folds: int
    auc_folds: tuple[float, ...]
    brier: float
    base_rate: float  # share of the fitted customers who answered
    reliability: tuple[Bin, ...]  # deciles of the out-of-sample predictions
    drivers: tuple[Driver, ...]
    compared: tuple[tuple[str, float, float], ...]  # kind, mean AUC, spread
    calibration_brier: tuple[tuple[str, float], ...]  # method, out-of-sample Brier score

    @property
    def auc(self) -> float:
        return float(np.mean(self.auc_folds))

    @property
    def auc_spread(self) -> float:
        return float(np.std(self.auc_folds))


@dataclass(frozen=True)
class SavedPropensity:
    kind: str  # logistic or boosting
    design: Design
    clip_low: np.ndarray
    clip_high: np.ndarray
    scale_mean: np.ndarray
    scale_std: np.ndarray
    intercept: float  # logistic: the intercept; boosting: the baseline score
    coef: np.ndarray | None  # logistic only
    trees: tuple[Tree, ...]  # boosting only
    calibration: Calibration
    grades: Grades
    rows_fitted: int
    responders: int


def _sigmoid(score: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-score))


def standardised(model: SavedPropensity, frame) -> np.ndarray:
    """The design rows of `frame`, clipped and standardised, built column by column in
    column order (a split reads one column; no full-width temporary copies)."""
    rows = len(next(iter(frame.values()))) if isinstance(frame, dict) else len(frame)
    z = np.empty((rows, len(model.design.names)), order="F")
    for index, values in enumerate(_design_columns(model.design, frame)):
        z[:, index] = _scaled(model, index, values)
    return z


def _scaled(model: SavedPropensity, index: int, values: np.ndarray) -> np.ndarray:
    return (np.clip(values, model.clip_low[index], model.clip_high[index])
            - model.scale_mean[index]) / model.scale_std[index]


class _Reads(dict):
    """A stand-in table that notes which columns a design formula reads."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()

    def __missing__(self, name: str) -> np.ndarray:
        self.read.add(name)
        return np.ones(1)


def column_readers(design: Design) -> tuple[frozenset[str], ...]:
    """The feature table's columns each design column is computed from, in column order."""
    readers = [frozenset((name,)) for name in design.numeric]
    for name in design.derived:
        probe = _Reads()
        DERIVED[name](probe)
        readers.append(frozenset(probe.read))
    return (*readers, *(frozenset((c.column,)) for c in design.categorical for _ in c.categories))


def restandardised(model: SavedPropensity, z: np.ndarray, frame: Mapping[str, np.ndarray],
                   readers: tuple[frozenset[str], ...], changed: set[str]) -> np.ndarray:
    """`standardised(model, frame)` for a `frame` that differs from the one `z` was made of
    only in the `changed` columns: only the design columns read from them are recomputed
    (the same formulas, so the same numbers; the drivers' shuffles change one input each)."""
    again = [index for index, reads in enumerate(readers) if reads & changed]
    if not again:
        return z
    moved = z.copy(order="F")
    for index in again:
        moved[:, index] = _scaled(model, index, _design_column(model.design, index, frame))
    return moved


def _design_column(design: Design, index: int, frame) -> np.ndarray:
    """Design column `index` of `frame`, by the formula _design_columns uses for it."""
    if index < len(design.numeric):
        return np.asarray(frame[design.numeric[index]], dtype=float)
    index -= len(design.numeric)
    if index < len(design.derived):
        return DERIVED[design.derived[index]](frame)
    index -= len(design.derived)
    for category in design.categorical:
        if index < len(category.categories):
            values = np.asarray(frame[category.column]).astype(str)
            return (values == category.categories[index]).astype(float)
        index -= len(category.categories)
    raise IndexError("no such design column")


def _design_columns(design: Design, frame):
    """Each design column of `frame` in `design.names` order (as design_matrix has them)."""
    for name in design.numeric:
        yield np.asarray(frame[name], dtype=float)
    for name in design.derived:
        yield DERIVED[name](frame)
    for category in design.categorical:
        values = np.asarray(frame[category.column]).astype(str)
        for value in category.categories:
            yield (values == value).astype(float)


def raw_score(model: SavedPropensity, z: np.ndarray) -> np.ndarray:
    """Log-odds before calibration, for standardised rows `z`."""
    if model.kind == "logistic":
        return z @ model.coef + model.intercept
    total = np.full(len(z), model.intercept)
    columns = np.asfortranarray(z)  # each split reads one column: keep it contiguous
    for tree in model.trees:
        _add_leaves(tree, columns, total)
    return total


def _add_leaves(tree: Tree, z: np.ndarray, total: np.ndarray) -> None:
    """Send the rows down `tree` node by node (each row visits one node per level) and add
    each leaf's value to its rows."""
    pending = [(0, np.arange(len(z)))]
    while pending:
        node, rows = pending.pop()
        if tree.feature[node] < 0:
            total[rows] += tree.value[node]
            continue
        left = z[:, tree.feature[node]].take(rows) <= tree.threshold[node]
        pending += [(int(tree.left[node]), rows[left]), (int(tree.right[node]), rows[~left])]


def score_frame(model: SavedPropensity, frame: pd.DataFrame | Mapping[str, np.ndarray]) -> np.ndarray:
    """p_response of every customer of `frame` (a table, or columns by name: the array path):
    a logistic model column by column (no design matrix of every customer: a million
    customers score in about a second), trees a chunk of customers at a time."""
    if model.kind == "logistic":
        return model.calibration.apply(_linear_score(model, frame))
    if not isinstance(frame, pd.DataFrame):
        return model.calibration.apply(raw_score(model, standardised(model, dict(frame))))
    parts = [model.calibration.apply(raw_score(model, standardised(model, frame.iloc[at:at + SCORE_CHUNK])))
             for at in range(0, len(frame), SCORE_CHUNK)]
    return np.concatenate(parts) if parts else np.empty(0)


STACKED_MAX = 1000  # customers whose design columns are clipped and weighted as one matrix


def _linear_score(model: SavedPropensity, frame: pd.DataFrame) -> np.ndarray:
    """`standardised(frame) @ coef + intercept`, summed one design column at a time with the
    scaling folded into the weights; a category adds its looked-up weight."""
    design, (weight, start, categories) = model.design, _weights(model)
    rows = len(frame) if isinstance(frame, pd.DataFrame) else len(next(iter(frame.values())))
    total = np.full(rows, start)
    columns = [(name, lambda n=name: np.asarray(frame[n], dtype=float)) for name in design.numeric]
    columns += [(name, lambda n=name: DERIVED[n](frame)) for name in design.derived]
    if rows <= STACKED_MAX:  # a few customers: one clip and product over all columns at once
        width = len(columns)
        stacked = np.array([values() for _, values in columns], dtype=float).reshape(width, rows)
        low, high = model.clip_low[:width, None], model.clip_high[:width, None]
        for part in weight[:width, None] * np.minimum(np.maximum(stacked, low), high):
            total += part  # column after column, as below: the same sums to the last bit
    else:
        for index, (_, values) in enumerate(columns):
            total += weight[index] * _clipped(values(), model.clip_low[index], model.clip_high[index])
    for category, looked_up in zip(design.categorical, categories, strict=True):
        total += looked_up[_codes(frame[category.column], category.categories)]
    return total


_WEIGHTS: dict[int, tuple] = {}  # id(model) -> (model, its weights): a model's are worked out once


def _weights(model: SavedPropensity) -> tuple[np.ndarray, float, list[np.ndarray]]:
    """What `_linear_score` needs of the model alone: the weights with the scaling folded in,
    the score every customer starts from, and each category's looked-up weights."""
    found = _WEIGHTS.get(id(model))
    if found is not None and found[0] is model:
        return found[1]
    weight = np.asarray(model.coef) / model.scale_std
    index, categories = len(model.design.numeric) + len(model.design.derived), []
    for category in model.design.categorical:
        span = slice(index, index + len(category.categories))
        categories.append(_category_weights(weight[span], model.clip_low[span], model.clip_high[span]))
        index = span.stop
    if len(_WEIGHTS) >= 8:  # the models of the last few swaps
        _WEIGHTS.clear()
    found = (model, (weight, model.intercept - float(np.dot(weight, model.scale_mean)), categories))
    _WEIGHTS[id(model)] = found
    return found[1]


def _clipped(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """np.clip; on a few customers np.minimum(np.maximum()), the same numbers without the
    wrapper's fixed cost (which is what a request of one customer pays)."""
    if len(values) > 1000:
        return np.clip(values, low, high)
    return np.minimum(np.maximum(values, low), high)


def _codes(values, categories: tuple[str, ...]) -> np.ndarray:
    """1 + the position of each customer's category; 0 for one the model never saw."""
    codes = np.zeros(len(values), dtype=np.int64)
    if not isinstance(values, pd.Series):  # the array path: text objects already
        text = np.asarray(values, dtype=object)
        for position, category in enumerate(categories, start=1):
            codes[text == category] = position
        return codes
    text = values.astype(str) if values.dtype == object else values
    for position, category in enumerate(categories, start=1):
        codes[(text == category).to_numpy(dtype=bool, na_value=False)] = position
    return codes


def _category_weights(weight: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """What a customer of each category adds (position 0: a category the model never saw)."""
    off, on = np.clip(0.0, low, high), np.clip(1.0, low, high)
    base = float(np.dot(weight, off))
    return np.concatenate([[base], base + weight * (on - off)])


def propensity_problems(model: SavedPropensity) -> list[str]:
    """What would make scoring fail or answer NaN; [] when nothing would."""
    problems = [f"propensity.design: {name!r} is not a feature" for name in model.design.numeric
                if name not in REGISTRY]
    problems += [f"propensity.design: {name!r} is not a derived column" for name in model.design.derived
                 if name not in DERIVED]
    problems += [f"propensity.design: {c.column!r} is not a category column"
                 for c in model.design.categorical if c.column not in CATEGORICAL]
    if model.kind not in KINDS:
        problems.append(f"propensity.kind: {model.kind!r}, expected one of {', '.join(KINDS)}")
    if problems:
        return problems
    width = len(model.design.names)
    for name in ("clip_low", "clip_high", "scale_mean", "scale_std"):
        problems += _numbers(name, getattr(model, name), (width,))
    problems += _numbers("intercept", model.intercept, ())
    if model.kind == "logistic":
        problems += _numbers("coef", model.coef, (width,))
    problems += [p for i, tree in enumerate(model.trees) for p in _tree_problems(i, tree, width)]
    problems += _calibration_problems(model.calibration)
    if not problems and not (np.asarray(model.scale_std) > 0).all():
        problems.append("propensity.scale_std: every scale must be above 0")
    if not problems and (np.asarray(model.clip_low) > np.asarray(model.clip_high)).any():
        problems.append("propensity.clip_low: above clip_high for some column")
    return problems


def _numbers(name: str, value, shape: tuple[int, ...]) -> list[str]:
    array = np.asarray(value if value is not None else [])
    if array.dtype.kind not in "iuf":
        return [f"propensity.{name}: expected numbers"]
    if array.shape != shape:
        return [f"propensity.{name}: shape {list(array.shape)}, expected {list(shape)}"]
    if not np.isfinite(array).all():
        return [f"propensity.{name}: holds a value that is not a finite number"]
    return []


def _tree_problems(index: int, tree: Tree, width: int) -> list[str]:
    """Arrays of one length; splits on real columns; children after their parent (so every
    path ends at a leaf)."""
    name = f"trees[{index}]"
    nodes = np.shape(tree.feature)[0] if np.ndim(tree.feature) == 1 else 0
    problems = [p for field in ("feature", "threshold", "left", "right", "value")
                for p in _numbers(f"{name}.{field}", getattr(tree, field), (nodes,))]
    if problems or not nodes:
        return problems or [f"propensity.{name}: no nodes"]
    feature, left, right = (np.asarray(getattr(tree, f)) for f in ("feature", "left", "right"))
    inner, order = feature >= 0, np.arange(nodes)
    if (feature >= width).any() or (feature < -1).any():
        problems.append(f"propensity.{name}.feature: a column outside 0 to {width - 1}")
    if ((left[inner] <= order[inner]) | (right[inner] <= order[inner]) | (left[inner] >= nodes)
            | (right[inner] >= nodes)).any():
        problems.append(f"propensity.{name}: a child that is not a later node")
    return problems


def _calibration_problems(calibration: Calibration) -> list[str]:
    if calibration.method not in CALIBRATIONS:
        return [f"propensity.calibration.method: {calibration.method!r}, expected one of "
                f"{', '.join(CALIBRATIONS)}"]
    if calibration.method != "isotonic":
        return (_numbers("calibration.slope", calibration.slope, ())
                + _numbers("calibration.intercept", calibration.intercept, ()))
    points = np.shape(calibration.x)[0] if np.ndim(calibration.x) == 1 else 0
    problems = (_numbers("calibration.x", calibration.x, (points,))
                + _numbers("calibration.y", calibration.y, (points,)))
    if not problems and (points == 0 or (np.diff(calibration.x) < 0).any()):
        problems.append("propensity.calibration.x: expected ascending scores")
    if not problems and ((np.asarray(calibration.y) < 0) | (np.asarray(calibration.y) > 1)).any():
        problems.append("propensity.calibration.y: probabilities must lie in 0 to 1")
    return problems
