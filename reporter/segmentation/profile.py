"""Profile: each group's size, share and key figures in original units, with the lift over the
whole population and the traits that lift implies in plain words.

The same function profiles clusters (for the model appendix) and personas (for the brief), so a
persona that merges clusters is described from its own customers, not averaged averages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reporter.data.features import REGISTRY, FeatureTable

PROFILE_FEATURES = tuple(name for name, f in REGISTRY.items() if f.unit != "category")
TRAIT_FEATURES = tuple(name for name, f in REGISTRY.items() if f.high and f.low)
HIGH_LIFT = 1.25
LOW_LIFT = 0.8
MAX_TRAITS = 3
SUMMARY_FEATURES = (
    "total_spending", "income", "total_purchases", "recency", "web_visits", "deal_share",
    "children", "spend_per_purchase", "catalog_purchases", "web_purchases", "store_purchases",
    "wines", "meat", "gold", "age", "tenure_days",
)
MAX_SUMMARY_FEATURES = 3
MIN_STANDARDISED = 0.25  # smaller differences are noise to a reader


@dataclass(frozen=True)
class GroupProfile:
    key: str  # cluster number as text, or persona name
    size: int
    share: float  # of customers
    spend_share: float  # of total spending
    means: dict[str, float]
    lifts: dict[str, float]  # group mean / population mean
    standardised: dict[str, float]  # (group mean - population mean) / population std
    traits: tuple[str, ...]
    summary: str  # the top distinguishing features in one sentence


@dataclass(frozen=True)
class Profiles:
    population_means: dict[str, float]
    groups: tuple[GroupProfile, ...]

    def by_key(self) -> dict[str, GroupProfile]:
        return {g.key: g for g in self.groups}


@dataclass(frozen=True)
class Aggregates:
    """What a profile needs from the customers, whichever engine summed them (pandas here,
    Spark in spark/segments.py): only these come back, never the customers themselves."""

    rows: int
    population_means: pd.Series  # per feature, over the customers fitted on (`in_fit`)
    population_std: pd.Series  # per feature, ddof 0; 0 is given as NaN
    means: pd.DataFrame  # group key x feature, over the group's customers fitted on
    sizes: pd.Series  # customers per group key
    spend: pd.Series  # total spending per group key
    total_spend: float


def profile(table: FeatureTable, labels: np.ndarray | pd.Series) -> Profiles:
    """Every registry feature the table has (campaign history only when the export has it).

    Sizes and spend count every customer; the averages only those the segments were fitted on
    (`in_fit`), so one implausible row (an income of 99,999,999, an age of 130) cannot move a
    group's averages, and with them the rules that name it."""
    frame = table.numeric([name for name in PROFILE_FEATURES if name in table.frame])
    # group by category codes, not text: the same groups, a fraction of the hashing on 1M rows
    keys = pd.Series(pd.Categorical(pd.Series(np.asarray(labels)).astype(str)), index=frame.index)
    in_fit = table.frame["in_fit"].to_numpy(dtype=bool)
    everyone_or_none = in_fit.all() or not in_fit.any()
    fitted = frame if everyone_or_none else frame.where(np.broadcast_to(in_fit[:, None], frame.shape))
    means = fitted.groupby(keys, sort=True, observed=True).mean()
    if means.isna().any().any():  # a group of none but left-out customers: their own averages
        means = means.fillna(frame.groupby(keys, sort=True, observed=True).mean())
    return profiles_from(Aggregates(
        rows=len(frame), population_means=fitted.mean(),
        population_std=fitted.std(ddof=0).replace(0, np.nan), means=means, sizes=keys.value_counts(),
        spend=frame["total_spending"].groupby(keys, observed=True).sum(),
        total_spend=float(frame["total_spending"].sum()) or 1.0))


def profiles_from(summed: Aggregates) -> Profiles:
    """Sizes, shares, lifts, traits and the summary sentence of each group, from its sums."""
    groups = []
    for key in summed.means.index:
        means = summed.means.loc[key]
        lifts = _lifts(means, summed.population_means)
        standardised = ((means - summed.population_means) / summed.population_std).fillna(0.0)
        groups.append(
            GroupProfile(
                key=str(key),
                size=int(summed.sizes[key]),
                share=float(summed.sizes[key] / summed.rows),
                spend_share=float(summed.spend[key] / summed.total_spend),
                means=_floats(means),
                lifts=lifts,
                standardised=_floats(standardised),
                traits=traits_from_lifts(lifts),
                summary=summary_sentence(lifts, _floats(standardised)),
            )
        )
    groups.sort(key=lambda g: (-g.size, g.key))
    return Profiles(_floats(summed.population_means), tuple(groups))


def _lifts(group_means: pd.Series, population_means: pd.Series) -> dict[str, float]:
    ratio = group_means / population_means.replace(0, np.nan)
    return {name: float(value) if pd.notna(value) else 1.0 for name, value in ratio.items()}


def traits_from_lifts(lifts: dict[str, float]) -> tuple[str, ...]:
    """The few features furthest from the population, in the registry's plain words."""
    notable = []
    for name in TRAIT_FEATURES:
        lift = lifts.get(name, 1.0)
        if lift >= HIGH_LIFT:
            notable.append((abs(np.log(lift)), REGISTRY[name].high))
        elif 0 < lift <= LOW_LIFT:
            notable.append((abs(np.log(lift)), REGISTRY[name].low))
    notable.sort(key=lambda item: -item[0])
    return tuple(words for _, words in notable[:MAX_TRAITS]) or ("close to the average customer",)


def summary_sentence(lifts: dict[str, float], standardised: dict[str, float]) -> str:
    """'Total spend 2.3× the average; deal share 75% below average; ...': the features that set
    the group apart most, ranked by standardised difference so units do not matter."""
    ranked = sorted(SUMMARY_FEATURES, key=lambda name: -abs(standardised.get(name, 0.0)))
    phrases = []
    for name in ranked[:MAX_SUMMARY_FEATURES]:
        if abs(standardised.get(name, 0.0)) < MIN_STANDARDISED:
            break
        phrases.append(_phrase(REGISTRY[name].label, lifts.get(name, 1.0)))
    if not phrases:
        return "Close to the average customer on every measure."
    sentence = "; ".join(phrases) + "."
    return sentence[0].upper() + sentence[1:]


def _phrase(label: str, lift: float) -> str:
    label = label.lower()
    if lift >= 1:
        return f"{label} {lift:.1f}× the average"
    return f"{label} {1 - lift:.0%} below average"


def _floats(series: pd.Series) -> dict[str, float]:
    return {str(k): float(v) for k, v in series.items()}
