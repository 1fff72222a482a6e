"""The rule language of personas.yaml: one condition per line, parsed, never evaluated.

A condition is `<metric> <op> <value>`, where the value is a number (`recency >= 60`), a
multiple of the population mean (`total_spending >= 1.5x population`) or a population
percentile (`income >= p75`). Anything else is rejected with a reason and an example.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reporter.data.features import REGISTRY

GROUP_METRICS = {"share": "Share of customers", "spend_share": "Share of total spend"}
OPERATORS: dict[str, Callable] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
CONDITION_PATTERN = (
    r"^\s*(?P<metric>[a-z_]+)\s*(?P<op>>=|<=|>|<)\s*"
    r"(?:(?P<multiple>\d+(?:\.\d+)?)\s*x\s+population"
    r"|p(?P<percentile>\d{1,2}|100)"
    r"|(?P<number>-?\d+(?:\.\d+)?))\s*$"
)
CONDITION = re.compile(CONDITION_PATTERN)
EXAMPLES = "`recency >= 60`, `total_spending >= 1.5x population` or `income >= p75`"


class RuleError(ValueError):
    """A condition that cannot be read; the message says why and shows the forms."""


@dataclass(frozen=True)
class Condition:
    text: str
    metric: str
    op: str
    kind: str  # "number", "multiple" or "percentile"
    value: float

    def threshold(self, population: Population) -> float:
        if self.kind == "multiple":
            return self.value * population.mean(self.metric)
        if self.kind == "percentile":
            return population.percentile(self.metric, self.value)
        return self.value

    def holds(self, observed, population: Population):
        """Works on one value (a segment's mean) or a column (every customer at once)."""
        return OPERATORS[self.op](observed, self.threshold(population))

    def implies(self, other: Condition) -> bool:
        """True when this condition holding guarantees `other` holds (same metric and form)."""
        if (self.metric, self.kind) != (other.metric, other.kind):
            return False
        if self.op in (">=", ">") and other.op in (">=", ">"):
            return self.value > other.value or (self.value == other.value and
                                                 (self.op == other.op or self.op == ">"))
        if self.op in ("<=", "<") and other.op in ("<=", "<"):
            return self.value < other.value or (self.value == other.value and
                                                 (self.op == other.op or self.op == "<"))
        return False


@dataclass(frozen=True)
class Population:
    """What conditions compare against: means and percentiles over all customers."""

    frame: pd.DataFrame

    def mean(self, metric: str) -> float:
        if metric in GROUP_METRICS:
            return 1.0  # shares are already relative to the whole population
        return float(self.frame[metric].mean())

    def percentile(self, metric: str, p: float) -> float:
        return float(np.percentile(self.frame[metric], p))

    def freeze(self, conditions: Sequence[Condition]) -> FrozenPopulation:
        """The thresholds these conditions use, kept so customers scored later (`reporter
        assign`) are judged against this population, not against their own small batch."""
        means = {c.metric: self.mean(c.metric) for c in conditions if c.kind == "multiple"}
        percentiles = {(c.metric, c.value): self.percentile(c.metric, c.value)
                       for c in conditions if c.kind == "percentile"}
        return FrozenPopulation(means, percentiles)


@dataclass(frozen=True)
class FrozenPopulation:
    """A population reduced to the means and percentiles a rulebook needs."""

    means: dict[str, float]
    percentiles: dict[tuple[str, float], float]

    def mean(self, metric: str) -> float:
        if metric in GROUP_METRICS:
            return 1.0
        return self._known(self.means, metric, metric)

    def percentile(self, metric: str, p: float) -> float:
        return self._known(self.percentiles, (metric, p), f"p{p:g} of {metric}")

    @staticmethod
    def _known(table: dict, key, what: str) -> float:
        if key not in table:
            raise RuleError(f"the archived run did not use {what}; the persona rules changed "
                            "since, so score with a newer run")
        return table[key]


def parse_condition(text: object, segment_level: bool = True) -> Condition:
    if not isinstance(text, str):
        raise RuleError(f"a condition must be text like {EXAMPLES}, not {text!r}")
    match = CONDITION.match(text)
    if not match:
        raise RuleError(f'cannot read condition "{text}"; write it as {EXAMPLES}')
    metric = match["metric"]
    _check_metric(metric, text, segment_level)
    if match["multiple"] is not None:
        return Condition(text, metric, match["op"], "multiple", float(match["multiple"]))
    if match["percentile"] is not None:
        if metric in GROUP_METRICS:
            raise RuleError(f'"{metric}" is a share of the segment and has no percentiles ("{text}")')
        return Condition(text, metric, match["op"], "percentile", float(match["percentile"]))
    return Condition(text, metric, match["op"], "number", float(match["number"]))


def _check_metric(metric: str, text: str, segment_level: bool) -> None:
    if metric in GROUP_METRICS and not segment_level:
        raise RuleError(f'"{metric}" describes a whole segment and cannot flag single customers '
                        f'("{text}"); use it in a segment persona')
    if metric in REGISTRY or metric in GROUP_METRICS:
        return
    known = [*REGISTRY, *GROUP_METRICS]
    close = difflib.get_close_matches(metric, known, n=1, cutoff=0.6)
    hint = f'did you mean "{close[0]}"?' if close else "see the list of metrics at the top of the file"
    raise RuleError(f'unknown metric "{metric}"; {hint}')


def matches(conditions: Sequence[Condition], mode: str, observed, population: Population):
    """all/any of the conditions, for one segment (a dict) or every customer (a DataFrame)."""
    results = [c.holds(observed[c.metric], population) for c in conditions]
    combine = np.logical_and.reduce if mode == "all" else np.logical_or.reduce
    return combine(results) if results else False


def rule_set_implies(premise: Sequence[Condition], premise_mode: str,
                     conclusion: Sequence[Condition], conclusion_mode: str) -> bool:
    """Whenever `premise` holds, does `conclusion` hold too? Sound, not complete: it only
    reasons about conditions on the same metric in the same form."""
    if not premise or not conclusion:
        return False

    def follows_from(facts: Sequence[Condition]) -> bool:
        def proved(c: Condition) -> bool:
            return any(fact.implies(c) for fact in facts)
        return all(map(proved, conclusion)) if conclusion_mode == "all" else any(map(proved, conclusion))

    if premise_mode == "all":
        return follows_from(premise)
    return all(follows_from([single]) for single in premise)
