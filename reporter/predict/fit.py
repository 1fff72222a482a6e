"""Fitting the propensity model: a regularised logistic regression and gradient boosting
compared by seeded, stratified cross-validation on a sample of at most `max_fit_rows`
customers; the better one (boosting must win on the same folds by `boosting_margin` plus
the folds' noise: it costs more to score, and a flexible model that wins by luck
memorises the customers it is fitted on) is refitted on the whole sample, and calibrated by
the map that held up best out of sample, fitted on every customer's out-of-sample score (a
map fitted on the refitted model's own scores of its customers learns its memory: on weak
data the top customers came out at 100%).

Every grade is measured on customers the model being graded never saw: the fold models
score their held-out fold (ROC AUC, reliability, Brier score, permutation importance), and
the calibration map of each fold is fitted on the other folds' predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from reporter.data.features import FeatureTable
from reporter.predict.design import choose_design, design_matrix
from reporter.predict.drivers import auc, drivers
from reporter.predict.params import PropensityParams
from reporter.predict.propensity import Propensity
from reporter.predict.saved import (
    Bin,
    Calibration,
    Grades,
    SavedPropensity,
    Tree,
    score_frame,
)

CLIP_QUANTILES = (0.005, 0.995)
TARGET = "responded"


def fit_propensity(table: FeatureTable, params: PropensityParams) -> Propensity:
    """A fit week: learn who answered the last campaign, grade it out of sample, score all."""
    frame = table.frame
    if TARGET not in frame:
        return Propensity(None, None, "No response propensity: the export has no Response column.")
    in_fit = frame["in_fit"].to_numpy(bool)
    rows = np.flatnonzero(in_fit) if in_fit.any() else np.arange(len(frame))
    answered = frame[TARGET].to_numpy()[rows] > 0
    refused = _too_few(int(answered.sum()), int((~answered).sum()), params.min_each)
    if refused:
        return Propensity(None, None, refused)
    sample = frame.iloc[_stratified_sample(rows, answered, params.max_fit_rows, params.seed)]
    with threadpool_limits(1):  # OpenMP threads on a busy machine made boosting 40x slower
        model, estimators = _fit_sample(sample, params)
    return Propensity(score_frame(model, frame), model, fitted=True, estimators=estimators)


def _too_few(responders: int, others: int, least: int) -> str:
    if min(responders, others) >= least:
        return ""
    return (f"No response propensity this week: the last campaign (Response) has {responders:,} "
            f"responders and {others:,} non-responders among the customers fitted; at least "
            f"{least} of each are needed to learn who answers.")


def _stratified_sample(rows: np.ndarray, answered: np.ndarray, most: int, seed: int) -> np.ndarray:
    """All `rows`, or `most` of them with the same share of responders, chosen by the seed."""
    if len(rows) <= most:
        return rows
    rng = np.random.default_rng(seed)
    keep = [rng.choice(group, size=max(1, round(most * len(group) / len(rows))), replace=False)
            for group in (rows[answered], rows[~answered])]
    return np.sort(np.concatenate(keep))


def _fit_sample(sample: pd.DataFrame, params: PropensityParams) -> tuple[SavedPropensity, tuple]:
    y = (sample[TARGET].to_numpy() > 0).astype(int)
    design = choose_design(sample)
    matrix = design_matrix(sample, design)
    low, high = np.quantile(matrix, CLIP_QUANTILES, axis=0)
    clipped = np.clip(matrix, low, high)
    mean, std = clipped.mean(axis=0), clipped.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    z = (clipped - mean) / std
    folds = list(StratifiedKFold(params.folds, shuffle=True, random_state=params.seed).split(z, y))
    runs = {kind: _cross_validate(kind, z, y, folds, params) for kind in ("logistic", "boosting")}
    kind = _chosen_kind(runs, params.boosting_margin)
    chosen = runs[kind]
    method, briers, calibrated = _choose_calibration(chosen.oof, y, folds)
    final = _estimator(kind, params).fit(z, y)
    calibration, calibrator = _calibration(method, chosen.oof, y)
    shell = SavedPropensity(kind, design, low, high, mean, std, *_numbers_of(final), calibration,
                            grades=None, rows_fitted=len(y), responders=int(y.sum()))
    grades = Grades(
        folds=params.folds, auc_folds=tuple(chosen.aucs), brier=float(np.mean((calibrated - y) ** 2)),
        base_rate=float(y.mean()), reliability=_reliability(calibrated, y),
        drivers=drivers(shell, chosen.models, folds, sample, y, params.drivers, params.seed),
        compared=tuple((k, run.auc, float(np.std(run.aucs))) for k, run in runs.items()),
        calibration_brier=tuple(briers.items()))
    return replace(shell, grades=grades), (final, calibrator)


@dataclass(frozen=True)
class _Run:
    aucs: list[float]
    oof: np.ndarray  # each customer's raw score from the fold model that did not see it
    models: list

    @property
    def auc(self) -> float:
        return float(np.mean(self.aucs))


def _chosen_kind(runs: dict[str, _Run], margin: float) -> str:
    """Boosting only when its AUC beats logistic's on the same folds by more than `margin` plus
    one standard error of the fold-by-fold differences; else logistic."""
    differences = np.subtract(runs["boosting"].aucs, runs["logistic"].aucs)
    noise = float(np.std(differences, ddof=1) / np.sqrt(len(differences))) if len(differences) > 1 else 0.0
    return "boosting" if float(differences.mean()) > margin + noise else "logistic"


def _estimator(kind: str, params: PropensityParams):
    if kind == "logistic":
        return LogisticRegression(C=params.c, max_iter=5000)
    return HistGradientBoostingClassifier(
        max_iter=params.boosting_iterations, learning_rate=0.15, max_leaf_nodes=8,
        min_samples_leaf=40, l2_regularization=1.0, max_bins=63, early_stopping=False,
        random_state=params.seed)


def _raw(estimator, z: np.ndarray) -> np.ndarray:
    return np.asarray(estimator.decision_function(z), dtype=float)


def _cross_validate(kind: str, z: np.ndarray, y: np.ndarray, folds, params: PropensityParams) -> _Run:
    oof, aucs, models = np.zeros(len(y)), [], []
    for train, test in folds:
        model = _estimator(kind, params).fit(z[train], y[train])
        oof[test] = _raw(model, z[test])
        aucs.append(auc(y[test], oof[test]))
        models.append(model)
    return _Run(aucs, oof, models)


def _choose_calibration(raw: np.ndarray, y: np.ndarray, folds) -> tuple[str, dict[str, float], np.ndarray]:
    """Each map fitted on the other folds' out-of-sample scores and graded on this fold's;
    the lowest Brier score wins. Returns it, every method's score and its predictions."""
    predictions = {}
    for method in ("none", "sigmoid", "isotonic"):
        p = np.zeros(len(y))
        for train, test in folds:
            p[test] = _calibration(method, raw[train], y[train])[0].apply(raw[test])
        predictions[method] = p
    briers = {m: float(np.mean((p - y) ** 2)) for m, p in predictions.items()}
    best = min(briers, key=briers.get)
    return best, briers, predictions[best]


def _calibration(method: str, raw: np.ndarray, y: np.ndarray) -> tuple[Calibration, object]:
    """The map as plain numbers, and the scikit-learn object it came from (None for none)."""
    if method == "sigmoid":
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(raw[:, None], y)
        return Calibration("sigmoid", float(platt.coef_[0, 0]), float(platt.intercept_[0])), platt
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        return Calibration("isotonic", x=np.asarray(iso.X_thresholds_, float),
                           y=np.asarray(iso.y_thresholds_, float)), iso
    return Calibration("none"), None


def _numbers_of(estimator) -> tuple[float, np.ndarray | None, tuple[Tree, ...]]:
    """intercept, coef, trees of a fitted estimator."""
    if isinstance(estimator, LogisticRegression):
        return float(estimator.intercept_[0]), estimator.coef_[0].astype(float), ()
    trees = tuple(_tree(predictors[0].nodes) for predictors in estimator._predictors)
    return float(np.ravel(estimator._baseline_prediction)[0]), None, trees


def _tree(nodes: np.ndarray) -> Tree:
    leaf = nodes["is_leaf"].astype(bool)
    return Tree(feature=np.where(leaf, -1, nodes["feature_idx"]).astype(np.int64),
                threshold=np.where(leaf, 0.0, nodes["num_threshold"]).astype(float),
                left=np.where(leaf, 0, nodes["left"]).astype(np.int64),
                right=np.where(leaf, 0, nodes["right"]).astype(np.int64),
                value=np.where(leaf, nodes["value"], 0.0).astype(float))


def _reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> tuple[Bin, ...]:
    order = np.argsort(p, kind="stable")
    return tuple(Bin(len(part), float(p[part].mean()), float(y[part].mean()))
                 for part in np.array_split(order, bins) if len(part))

