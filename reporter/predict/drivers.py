"""The main drivers: permutation importance on customers the model never saw. Each input of
the feature table is shuffled within each held-out fold (the derived columns follow it), and
the ROC AUC the fold model loses is that input's weight; the sentence says which way it pulls."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from reporter.data.features import REGISTRY
from reporter.predict.design import CATEGORY_INPUTS

ENOUGH_HELD_OUT = 2_000  # held-out customers the shuffles are measured on (whole folds)


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by ranks (Mann-Whitney, ties counted half): the same number as scikit-learn's,
    without its input checks, which cost more than the sum on a few thousand rows."""
    positive = y > 0
    n1, n0 = int(positive.sum()), int((~positive).sum())
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def drivers(shell, fold_models: list, folds, sample: pd.DataFrame, y: np.ndarray, top: int,
            seed: int) -> tuple:
    """The `top` inputs whose shuffling costs the most out-of-sample ROC AUC, measured on
    the first held-out folds that hold ENOUGH_HELD_OUT customers."""
    from reporter.predict.saved import Driver

    rng = np.random.default_rng(seed)
    inputs = shell.design.inputs()
    drops, used, seen = np.zeros(len(inputs)), 0, 0
    for model, (_, test) in zip(fold_models, folds, strict=True):
        if seen >= ENOUGH_HELD_OUT:
            break
        held = sample.iloc[test]
        base = _auc(shell, model, held, y[test])
        for index, name in enumerate(inputs):
            shuffled = held.assign(**{name: rng.permutation(held[name].to_numpy())})
            drops[index] += base - _auc(shell, model, shuffled, y[test])
        used, seen = used + 1, seen + len(test)
    drops /= used
    ranked = [i for i in np.argsort(-drops, kind="stable") if drops[i] > 0][:top]
    return tuple(Driver(inputs[i], float(drops[i]), _sentence(inputs[i], sample, y, drops[i]))
                 for i in ranked)


def _auc(shell, model, frame: pd.DataFrame, y: np.ndarray) -> float:
    from reporter.predict.saved import standardised

    return auc(y, model.decision_function(standardised(shell, frame)))


def _sentence(name: str, sample: pd.DataFrame, y: np.ndarray, drop: float) -> str:
    cost = f"(without it the ROC AUC falls by {drop:.3f})"
    if name in CATEGORY_INPUTS:
        rates = pd.Series(y).groupby(sample[name].astype(str).to_numpy()).mean()
        label = name.replace("_", " ").capitalize()
        return (f"{label}: {rates.idxmax()} answered most often ({rates.max():.0%}, against "
                f"{y.mean():.0%} over all) {cost}")
    values = sample[name].to_numpy(float)
    ranks = pd.Series(values).rank().to_numpy()
    direction = np.corrcoef(ranks, y)[0, 1] if np.std(ranks) > 0 else 0.0
    feature = REGISTRY[name]
    way = "higher" if direction >= 0 else "lower"
    return f"{feature.label}: the {way}, the likelier to answer {cost}"
