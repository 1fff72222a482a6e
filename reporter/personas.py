"""Personas: the rule language of personas.yaml, its validation, and the naming of clusters.

A condition is one line a manager can read: `<metric> <op> <value>`, where the value is a
number (`recency >= 60`), a multiple of the population mean (`total_spending >= 1.5x population`)
or a population percentile (`income >= p75`). Conditions are parsed with a regular expression
and compared in Python; user text is never evaluated.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reporter.config import PersonasFile, PersonaSpec
from reporter.errors import ConfigError
from reporter.features import REGISTRY, FeatureTable
from reporter.profile import Profiles
from reporter.yamlsource import line_of

GROUP_METRICS = {"share": "Share of customers", "spend_share": "Share of total spend"}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
CONDITION = re.compile(
    r"^\s*(?P<metric>[a-z_]+)\s*(?P<op>>=|<=|>|<)\s*"
    r"(?:(?P<multiple>\d+(?:\.\d+)?)\s*x\s+population"
    r"|p(?P<percentile>\d{1,2}|100)"
    r"|(?P<number>-?\d+(?:\.\d+)?))\s*$"
)


@dataclass(frozen=True)
class Condition:
    text: str
    metric: str
    op: str
    kind: str  # "number", "multiple" or "percentile"
    value: float

    def threshold(self, population: PopulationView) -> float:
        if self.kind == "multiple":
            return self.value * population.mean(self.metric)
        if self.kind == "percentile":
            return population.percentile(self.metric, self.value)
        return self.value

    def holds(self, observed: float, population: PopulationView) -> bool:
        return OPERATORS[self.op](observed, self.threshold(population))


@dataclass(frozen=True)
class Persona:
    spec: PersonaSpec
    mode: str  # "all", "any", or "fallback"
    conditions: tuple[Condition, ...]

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Rulebook:
    personas: tuple[Persona, ...]  # in priority order, fallback last
    fallback: Persona


@dataclass(frozen=True)
class PopulationView:
    """Population figures the conditions compare against (means and customer percentiles)."""

    frame: pd.DataFrame

    def mean(self, metric: str) -> float:
        if metric in GROUP_METRICS:
            return 1.0
        return float(self.frame[metric].mean())

    def percentile(self, metric: str, p: float) -> float:
        if metric in GROUP_METRICS:
            raise ValueError("percentiles of share are not defined")
        return float(np.percentile(self.frame[metric], p))


@dataclass(frozen=True)
class PersonaAssignment:
    cluster_persona: dict[int, str]
    customer_persona: np.ndarray  # persona name per customer, aligned with the feature table
    reasons: dict[int, str]  # why each cluster got its persona, in words
    present: tuple[str, ...]  # personas with customers this week, in priority order
    absent: tuple[str, ...]


def compile_rulebook(personas_file: PersonasFile, path: Path) -> Rulebook:
    """Parse every condition; collect all problems with their lines before failing."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    problems: list[str] = []
    compiled = []
    for index, spec in enumerate(personas_file.personas):
        if spec.name == personas_file.fallback:
            if spec.rules is not None:
                line = line_of(text, ("personas", index, "rules"))
                problems.append(f"line {line}: the fallback persona '{spec.name}' cannot have rules")
            compiled.append(Persona(spec, "fallback", ()))
            continue
        if spec.rules is None:
            line = line_of(text, ("personas", index))
            problems.append(f"line {line}: persona '{spec.name}' has no rules; add `rules:`")
            continue
        conditions = []
        for position, condition in enumerate(spec.rules.conditions):
            try:
                conditions.append(parse_condition(condition))
            except ValueError as exc:
                line = line_of(text, ("personas", index, "rules", spec.rules.mode, position))
                problems.append(f"line {line}: persona '{spec.name}': {exc}")
        compiled.append(Persona(spec, spec.rules.mode, tuple(conditions)))
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems[:5]) + "; fix and run `reporter validate`")
    ordered = sorted(compiled, key=lambda p: (p.mode == "fallback", p.spec.priority))
    fallback = next(p for p in compiled if p.mode == "fallback")
    return Rulebook(tuple(ordered), fallback)


def parse_condition(text: str) -> Condition:
    match = CONDITION.match(str(text))
    if not match:
        raise ValueError(
            f"cannot read condition {text!r}; write it as `metric >= 60`, "
            "`metric >= 1.5x population` or `metric >= p75`"
        )
    metric = match["metric"]
    if metric not in REGISTRY and metric not in GROUP_METRICS:
        known = [*REGISTRY, *GROUP_METRICS]
        close = difflib.get_close_matches(metric, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known metrics: {', '.join(known)}"
        raise ValueError(f"unknown metric '{metric}' in {text!r}; {hint}")
    if match["multiple"] is not None:
        return Condition(text, metric, match["op"], "multiple", float(match["multiple"]))
    if match["percentile"] is not None:
        if metric in GROUP_METRICS:
            raise ValueError(f"{metric} cannot be compared with a percentile in {text!r}")
        return Condition(text, metric, match["op"], "percentile", float(match["percentile"]))
    return Condition(text, metric, match["op"], "number", float(match["number"]))


def assign(rulebook: Rulebook, cluster_profiles: Profiles, table: FeatureTable,
           labels: np.ndarray) -> PersonaAssignment:
    """Each cluster gets the first persona (by priority) whose rules hold, else the fallback."""
    population = PopulationView(table.frame)
    cluster_persona: dict[int, str] = {}
    reasons: dict[int, str] = {}
    for group in cluster_profiles.groups:
        observed = {**group.means, "share": group.share, "spend_share": group.spend_share}
        persona, why = _first_match(rulebook, observed, population)
        cluster_persona[int(group.key)] = persona.name
        reasons[int(group.key)] = why
    names = np.array([cluster_persona[int(c)] for c in range(max(cluster_persona) + 1)],
                     dtype=object)
    customer_persona = names[labels]
    present = tuple(p.name for p in rulebook.personas if p.name in cluster_persona.values())
    absent = tuple(p.name for p in rulebook.personas if p.name not in present)
    return PersonaAssignment(cluster_persona, customer_persona, reasons, present, absent)


def _first_match(rulebook: Rulebook, observed: dict[str, float],
                 population: PopulationView) -> tuple[Persona, str]:
    for persona in rulebook.personas:
        if persona.mode == "fallback":
            continue
        results = [c.holds(observed[c.metric], population) for c in persona.conditions]
        matched = all(results) if persona.mode == "all" else any(results)
        if matched:
            held = [c for c, ok in zip(persona.conditions, results, strict=True) if ok]
            return persona, "; ".join(_explain(c, observed, population) for c in held)
    return rulebook.fallback, "no persona rule matched"


def _explain(condition: Condition, observed: dict[str, float], population: PopulationView) -> str:
    value = observed[condition.metric]
    threshold = condition.threshold(population)
    return f"{condition.metric} {value:,.2f} {condition.op} {threshold:,.2f} ({condition.text})"
