"""The main drivers: permutation importance on customers the model never saw. Each input of
the feature table is shuffled within each held-out fold (the derived columns follow it), and
the ROC AUC the fold model loses is that input's weight; the sentence says which way it pulls."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from reporter.data.features import REGISTRY
from reporter.predict.design import CATEGORY_INPUTS
from reporter.predict.saved import column_readers, restandardised, standardised

ENOUGH_HELD_OUT = 1_000  # held-out customers the shuffles are measured on (whole folds)
SPEND_PARTS = ("wines", "fruits", "meat", "fish", "sweets", "gold")
CHANNEL_PARTS = ("web_purchases", "catalog_purchases", "store_purchases")
# sums and ratios of other inputs: they follow the inputs they are made of, never shuffled alone
FOLLOWERS = ("total_spending", "total_purchases", "spend_per_purchase", "family_size")


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
    readers = column_readers(shell.design)
    inputs = tuple(name for name in shell.design.inputs() if name not in FOLLOWERS)
    drops, pulls, used, seen = np.zeros(len(inputs)), np.zeros(len(inputs)), 0, 0
    for model, (_, test) in zip(fold_models, folds, strict=True):
        if seen >= ENOUGH_HELD_OUT:
            break
        held = {name: sample[name].to_numpy()[test]
                for name in dict.fromkeys((*shell.design.inputs(), *FOLLOWERS, "web_visits"))}
        z = standardised(shell, held)
        score = _scores(model, z)
        base = auc(y[test], score)
        for index, name in enumerate(inputs):
            shuffled = shuffle(held, name, rng.permutation(len(test)))
            moved = _scores(model, restandardised(shell, z, shuffled, readers, _changed(held, shuffled)))
            drops[index] += base - auc(y[test], moved)
            pulls[index] += _pull(held[name], shuffled[name], moved - score)
        used, seen = used + 1, seen + len(test)
    drops /= used
    ranked = [i for i in np.argsort(-drops, kind="stable") if drops[i] > 0][:top]
    return tuple(Driver(inputs[i], float(drops[i]), _sentence(inputs[i], sample, y, drops[i], pulls[i]))
                 for i in ranked)


def _pull(before: np.ndarray, after: np.ndarray, change: np.ndarray) -> float:
    """Which way the model moves with a numeric input, others held (the correlation of the
    input's change with the score's change under the shuffle); 0 for a category."""
    if before.dtype.kind not in "iuf":
        return 0.0
    delta = after.astype(float) - before.astype(float)
    if np.std(delta) == 0 or np.std(change) == 0:
        return 0.0
    return float(np.corrcoef(delta, change)[0, 1])


def shuffle(frame: dict[str, np.ndarray], name: str, order: np.ndarray) -> dict[str, np.ndarray]:
    """`frame` with column `name` in `order`, and the sums and ratios made of it recomputed,
    so a customer's totals still add up (a model of parts and their total otherwise loses
    more than the part is worth)."""
    changed = {name: frame[name][order]}
    parts = {**{k: np.asarray(frame[k], dtype=float) for k in (*SPEND_PARTS, *CHANNEL_PARTS)},
             **changed}
    purchases = np.asarray(frame["total_purchases"], dtype=float)
    if name in SPEND_PARTS:
        changed["total_spending"] = sum(parts[k] for k in SPEND_PARTS)
    if name in CHANNEL_PARTS:
        changed["total_purchases"] = sum(parts[k] for k in CHANNEL_PARTS)
        deals = np.asarray(frame["deal_share"], dtype=float) * np.maximum(purchases, 1)
        changed["deal_share"] = np.clip(deals / np.maximum(changed["total_purchases"], 1), 0, 1)
    if name == "web_purchases":
        changed["web_visits_per_purchase"] = (np.asarray(frame["web_visits"], dtype=float)
                                              / np.maximum(changed["web_purchases"], 1))
    if name in SPEND_PARTS or name in CHANNEL_PARTS:
        spend = changed.get("total_spending", np.asarray(frame["total_spending"], dtype=float))
        count = changed.get("total_purchases", purchases)
        changed["spend_per_purchase"] = spend / np.maximum(count, 1)
    if name == "children":
        changed["family_size"] = (np.asarray(frame["family_size"], dtype=float)
                                  - np.asarray(frame["children"], dtype=float) + changed["children"])
    return {**frame, **changed}


def _scores(model, z: np.ndarray) -> np.ndarray:
    return np.asarray(model.decision_function(z), dtype=float)


def _changed(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> set[str]:
    """The columns `shuffle` replaced (it keeps the others' arrays as they were)."""
    return {name for name, values in after.items() if values is not before.get(name)}


def _sentence(name: str, sample: pd.DataFrame, y: np.ndarray, drop: float, pull: float) -> str:
    cost = f"(ROC AUC {drop:.3f} lower without it)"
    if name in CATEGORY_INPUTS:
        rates = pd.Series(y).groupby(sample[name].astype(str).to_numpy()).mean()
        label = name.replace("_", " ").capitalize()
        return (f"{label}: {rates.idxmax()} answered most often ({rates.max():.0%}, against "
                f"{y.mean():.0%} over all) {cost}")
    way = "higher" if pull >= 0 else "lower"
    return f"{REGISTRY[name].label}: the {way}, the likelier to answer, other things equal {cost}"
