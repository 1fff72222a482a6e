"""The rule language of personas.yaml: one condition per line, parsed, never evaluated.

A condition is `<metric> <op> <value>`, where the value is a number (`recency >= 60`), a
multiple of the population mean (`total_spending >= 1.5x population`) or a population
percentile (`income >= p75`, or in words `income >= top 25%`, `recency <= bottom 10%`).
Anything else is rejected with a reason and an example; a comparison with another metric
("wines >= 60% of total_spending") is pointed at the share metric that says it.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reporter.data.features import PREDICTED_FEATURES, REGISTRY
from reporter.data.formulas import SHARE_OF

GROUP_METRICS = {"share": "Share of customers", "spend_share": "Share of total spend"}
OPERATORS: dict[str, Callable] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
# A condition is read in two linear passes, never by one backtracking pattern: `TOKEN` cuts the
# text into words, numbers, operators and symbols (each alternative either consumes its run or
# fails at once), then `_read` checks the short token list against the three forms.
TOKEN = re.compile(r"(?P<space>\s+)|(?P<op>>=|<=|>|<)|(?P<number>-?\d+(?:,\d+)*(?:\.\d+)?)"
                   r"|(?P<word>[^\W\d]\w*)|(?P<symbol>[$€£%])|(?P<other>.)", re.DOTALL)
METRIC = re.compile(r"[a-z_]+")
PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")
PERCENTILE = re.compile(r"p(\d{1,2}|100)")
SPEND_PARTS = ("wines", "fruits", "meat", "fish", "sweets", "gold")
RANKS = ("top", "bottom")  # "top 10%" is at or above p90, "bottom 25%" at or below p25
CURRENCIES = ("$", "€", "£")
UNITS = ("%", "k", "day", "days")
MAX_CONDITION_CHARS = 500  # one comparison; longer text is refused before it is read
EXAMPLES = "`recency >= 60`, `total_spending >= 1.5x population` or `income >= p75`"
# What a plain threshold may be, by the metric's unit; shares are written 0-1 or as a percent.
UNIT_RANGES = {"ratio": (0.0, 1.0), "score": (1.0, 5.0), "years": (0.0, 120.0)}
EXAMPLE_VALUE = {"money": "50000", "ratio": "0.5", "days": "60", "count": "10", "people": "2",
                 "years": "40", "score": "4"}
UNIT_WORDS = {"money": "an amount of money", "ratio": "a share between 0 and 1",
              "days": "a number of days", "count": "a count", "people": "a number of people",
              "years": "years", "score": "a score from 1 to 5"}


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
        assign`) are judged against this population, not against their own small batch. A
        metric this week has none of (a prediction without its model) keeps no threshold."""
        known = [c for c in conditions if c.metric in self.frame or c.metric in GROUP_METRICS]
        means = {c.metric: self.mean(c.metric) for c in known if c.kind == "multiple"}
        percentiles = {(c.metric, c.value): self.percentile(c.metric, c.value)
                       for c in known if c.kind == "percentile"}
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


@dataclass(frozen=True)
class Reading:
    """What a condition's text says, before its meaning is checked: the parts as written."""

    metric: str
    op: str
    multiple: str | None = None
    percentile: str | None = None
    currency: str | None = None
    number: str | None = None
    unit: str | None = None
    rank: str | None = None  # "top" or "bottom", with `number` the percent


def read_condition(text: str) -> Reading | None:
    """The parts of `metric op value`, or None when the text has another shape. Linear in the
    length of the text whatever it holds (no backtracking pattern ever sees the whole text)."""
    tokens = [(m.lastgroup, m.group()) for m in TOKEN.finditer(text) if m.lastgroup != "space"]
    if len(tokens) < 3 or tokens[0][0] != "word" or tokens[1][0] != "op":
        return None
    (_, metric), (_, op), value = tokens[0], tokens[1], tokens[2:]
    if not METRIC.fullmatch(metric):
        return None
    return _read_value(metric, op, value)


def _read_value(metric: str, op: str, value: list[tuple[str, str]]) -> Reading | None:
    """A multiple (`1.5x population`), a percentile (`p75`) or a number with its currency and
    unit (`$50,000`, `60 days`, `50%`, `50k`)."""
    kinds = [kind for kind, _ in value]
    texts = [text for _, text in value]
    if kinds == ["number", "word", "word"] and texts[1:] == ["x", "population"]:
        return Reading(metric, op, multiple=texts[0]) if PLAIN_NUMBER.fullmatch(texts[0]) else None
    if kinds == ["word"]:
        return Reading(metric, op, percentile=found[1]) if (found := PERCENTILE.fullmatch(texts[0])) \
            else None
    if kinds == ["word", "number", "symbol"] and texts[0].lower() in RANKS and texts[2] == "%":
        return Reading(metric, op, rank=texts[0].lower(), number=texts[1])
    currency = None
    if kinds[:1] == ["symbol"] and texts[0] in CURRENCIES:
        currency, kinds, texts = texts[0], kinds[1:], texts[1:]
    if not kinds or kinds[0] != "number" or not NUMBER.fullmatch(texts[0]):
        return None
    unit = texts[1] if len(texts) == 2 and kinds[1] in ("symbol", "word") else None
    if len(texts) > 2 or (len(texts) == 2 and unit not in UNITS):
        return None
    return Reading(metric, op, currency=currency, number=texts[0], unit=unit)


def parse_condition(text: object, segment_level: bool = True) -> Condition:
    if not isinstance(text, str):
        raise RuleError(f"a condition must be text like {EXAMPLES}, not {text!r}")
    if len(text) > MAX_CONDITION_CHARS:
        start = " ".join(text.split())[:40]
        raise RuleError(f'condition "{start} ..." is {len(text):,} characters long, more than the '
                        f"{MAX_CONDITION_CHARS} a condition may have; write one comparison per line, "
                        f"such as {EXAMPLES}")
    reading = read_condition(text)
    if reading is None:
        raise RuleError(_unread(text))
    metric = reading.metric
    _check_metric(metric, text, segment_level)
    if reading.multiple is not None:
        return Condition(text, metric, reading.op, "multiple", float(reading.multiple))
    if reading.percentile is not None or reading.rank is not None:
        if metric in GROUP_METRICS:
            raise RuleError(f'"{metric}" is a share of the segment and has no percentiles ("{text}")')
        percentile = float(reading.percentile) if reading.percentile is not None else _ranked(reading, text)
        return Condition(text, metric, reading.op, "percentile", percentile)
    return Condition(text, metric, reading.op, "number", _threshold(reading, text))


def _ranked(reading: Reading, text: str) -> float:
    """"top 10%" is p90 and above, "bottom 25%" p25 and below; an operator pointing the other
    way is refused, saying what the words mean."""
    percent = float(reading.number.replace(",", ""))
    if not 0 < percent < 100:
        raise RuleError(f'"{reading.rank} {reading.number}%" needs a percent between 0 and 100 '
                        f'("{text}"); write for example `{reading.metric} >= top 10%`')
    top = reading.rank == "top"
    percentile = 100 - percent if top else percent
    if (reading.op in (">=", ">")) != top:
        want, other = (">=", "<=") if top else ("<=", ">=")
        side = "at or above" if top else "at or below"
        raise RuleError(f'"{reading.rank} {percent:g}%" means {side} p{percentile:g}, but the operator '
                        f'is {reading.op} ("{text}"); write `{reading.metric} {want} {reading.rank} '
                        f'{percent:g}%`, or `{reading.metric} {other} p{percentile:g}` for the rest')
    return percentile


def _unread(text: str) -> str:
    """Why a condition cannot be read: a typo is named where it is one a manager makes (an
    unknown metric, `=>`, `x populaton`); a comparison with another metric ("wines >= 60% of
    total_spending") gets the share metric that says it; anything else the three forms."""
    typo = _typo(text)
    if typo:
        return typo
    words = [m.group() for m in TOKEN.finditer(text) if m.lastgroup == "word"]
    compares = len(words) >= 2 and words[0] in REGISTRY and (words[-1] in REGISTRY or "of" in words[1:])
    if not compares:
        return f'cannot read condition "{text}"; write it as {EXAMPLES}'
    share = SHARE_OF.get(words[0])
    if share is None:
        return (f'cannot compare "{words[0]}" with another metric ("{text}"); a rule compares one '
                f"metric with one threshold: write it as {EXAMPLES}")
    whole = "total spend" if words[0] in SPEND_PARTS else "web, catalog and store purchases"
    return (f'cannot compare "{words[0]}" with another metric ("{text}"); for its share of {whole} '
            f"use {share} (0 to 1): write for example `{share} >= 0.6` or `{share} >= 60%`")


def _typo(text: str) -> str:
    """The first of the common slips in `text`, said with its fix; "" when there is none."""
    tokens = [(m.lastgroup, m.group()) for m in TOKEN.finditer(text) if m.lastgroup != "space"]
    looks_like = len(tokens) >= 3 and tokens[0][0] == "word" and (tokens[1][0] == "op" or tokens[1][1] == "=")
    if looks_like and METRIC.fullmatch(tokens[0][1]) and \
            tokens[0][1] not in REGISTRY and tokens[0][1] not in GROUP_METRICS:
        return f'unknown metric "{tokens[0][1]}" in "{text}"; {metric_hint(tokens[0][1], True)}'
    texts = [t for _, t in tokens]
    if len(tokens) >= 3 and tokens[0][0] == "word":
        base = _baseline_slip(texts, text)
        if base:
            return base
    for wrong, right in (("=>", ">="), ("=<", "<=")):
        if looks_like and wrong in "".join(texts[1:3]):
            return f'"{wrong}" is not an operator ("{text}"); write "{right}"'
    if looks_like and "x" in texts[2:]:
        after = texts[texts.index("x", 2) + 1:]
        if len(after) <= 1 and after != ["population"]:  # a slip in the word, or none there
            close = difflib.get_close_matches(" ".join(after), ["population"], n=1, cutoff=0.6)
            shown = 'did you mean "x population"?' if close else 'a multiple is written "1.5x population"'
            what = f'"{" ".join(after)}" after "x"' if after else 'what "x" is a multiple of'
            return f'cannot read {what} in "{text}"; {shown}'
    if looks_like and len(texts) == 4 and tokens[2][0] == "number" and tokens[3][0] == "word":
        close = difflib.get_close_matches(texts[3].lower(), ["days", "day", "k"], n=1, cutoff=0.6)
        if close:  # "60 dyas": a unit misspelt
            return f'cannot read "{texts[3]}" after the number in "{text}"; did you mean "{close[0]}"?'
    return ""


AVERAGE_WORDS = ("population", "average", "mean", "avg")
MULTIPLE_SLIP = re.compile(r"(?P<times>\d+(?:\.\d+)?)?\s*(?:x|times|\*)?\s*(?:the\s+)?"
                           r"(?:population|average|mean|avg)(?:\s+\w+)?")
PERCENTILE_OF = re.compile(r"(?P<rank>p\d{1,3}|(?:top|bottom)\s*\d+(?:\.\d+)?\s*%)\s+of\b.*")


def _baseline_slip(texts: list[str], text: str) -> str:
    """How "all customers" is written, slipped: `population` as the metric, `income >= average`,
    `1.5 times population`, `2x median`, `p75 of population`; "" when the text has none."""
    if texts[0].lower() in (*AVERAGE_WORDS, "median"):
        return _not_a_metric(texts[0], text)
    metric, op, value = texts[0], texts[1], " ".join(texts[2:]).lower()
    if "median" in value.split():
        return (f'for the median of all customers write `{metric} {op} p50` ("{text}"); a '
                f"multiple is of the average: `{metric} {op} 1.5x population`")
    percentile = PERCENTILE_OF.fullmatch(value)
    if percentile:
        return (f'percentiles are always of all customers: write `{metric} {op} '
                f'{percentile["rank"].replace(" %", "%")}` ("{text}")')
    multiple = MULTIPLE_SLIP.fullmatch(value.replace("xpopulation", "x population"))
    if multiple:
        times = multiple["times"] or "1"
        return (f'write `{metric} {op} {times}x population` ("{text}"): "population" stands for '
                "the average over all customers")
    return ""


def _not_a_metric(word: str, text: str) -> str:
    return (f'"{word}" is not a metric ("{text}"): a rule starts with a metric, and `population` '
            "on the right stands for the average customer, as in `total_spending >= 1.5x population`")


def unit_of(metric: str) -> str:
    return "ratio" if metric in GROUP_METRICS else REGISTRY[metric].unit


def _threshold(reading: Reading, text: str) -> float:
    """The number as written, read in the metric's own unit: "60 days", "50%", "$50,000",
    "50k". A unit that does not fit the metric is refused, naming the metric's unit."""
    metric, op = reading.metric, reading.op
    value = float(reading.number.replace(",", ""))
    unit, written = unit_of(metric), (reading.unit or "").rstrip("s")
    if reading.currency and unit != "money":
        raise RuleError(f'{metric} is {UNIT_WORDS[unit]}, not money ("{text}"); write it without '
                        f'"{reading.currency}"')
    example = f"write for example `{metric} {op} {EXAMPLE_VALUE[unit]}`"
    if written == "day" and unit != "days":
        raise RuleError(f'{metric} is {UNIT_WORDS[unit]}, not days ("{text}"); {example}')
    if written == "%":
        if unit != "ratio":
            raise RuleError(f'{metric} is {UNIT_WORDS[unit]}, not a percentage ("{text}"); {example}')
        value /= 100
    if written == "k":
        if unit != "money":
            raise RuleError(f'"k" (thousands) is for money; {metric} is {UNIT_WORDS[unit]} ("{text}")')
        value *= 1000
    _check_range(value, metric, op, text, written == "%")
    return value


def _check_range(value: float, metric: str, op: str, text: str, percent: bool = False) -> None:
    """`percent`: written with %, so `value` is already the share (150% is 1.5)."""
    unit = unit_of(metric)
    low, high = UNIT_RANGES.get(unit, (0.0, None))
    if value < low or (high is not None and value > high):
        span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        example = ""
        if unit == "ratio" and percent and value > 1:
            example = (f"; for {value:g} times the population's share write "
                       f"`{metric} {op} {value:g}x population`")
        elif unit == "ratio" and 1 < value <= 100:
            example = f"; for {value:g}% write {metric} {op} {value / 100:g} or {metric} {op} {value:g}%"
        raise RuleError(f'{metric} is {UNIT_WORDS[unit]}, so its threshold must be {span}, not '
                        f'{value:g} ("{text}"){example}')


def _check_metric(metric: str, text: str, segment_level: bool) -> None:
    if metric in GROUP_METRICS and not segment_level:
        raise RuleError(f'"{metric}" describes a whole segment and cannot flag single customers '
                        f'("{text}"); use it in a segment persona')
    if metric in REGISTRY or metric in GROUP_METRICS:
        return
    if metric in (*AVERAGE_WORDS, "median"):
        raise RuleError(_not_a_metric(metric, text))
    raise RuleError(f'unknown metric "{metric}"; {metric_hint(metric, segment_level)}')


def metric_hint(word: str, segment_level: bool = False, predicted: bool = True) -> str:
    """'did you mean "total_spending"?' for a metric name that is nearly right, or a word of
    its label ("spend" -> total_spending); `predicted=False` leaves out p_alive and clv."""
    metrics = [m for m in REGISTRY if predicted or m not in PREDICTED_FEATURES]
    known = [*metrics, *(GROUP_METRICS if segment_level else ())]
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if not close and len(word) >= 4:
        close = [m for m in metrics if m.startswith(word) or word in REGISTRY[m].label.lower()][:1]
    return f'did you mean "{close[0]}"?' if close else "see the list of metrics at the top of the file"


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
