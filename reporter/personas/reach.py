"""Bars no segment can meet: segment personas test a segment's AVERAGE customer, so a bar set
where only single customers reach (`total_spending >= p90`) names no segment, however many
customers clear it. Found here, worded by `validate --data` and `personas preview`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reporter.personas.rulebook import PersonaAssignment, Rulebook
from reporter.personas.rules import GROUP_METRICS, Condition, Population
from reporter.segmentation.profile import Profiles

STEP = 5  # percentiles are suggested in steps of 5 (p75, p80 ...)


@dataclass(frozen=True)
class OutOfReach:
    """One condition of a persona that names no segment, beyond every segment's average."""

    persona: str
    condition: Condition
    threshold: float
    best: float  # the segment average nearest the bar (highest for >=, lowest for <=)
    suggestion: str  # a bar the best segment meets, in the condition's form ("p75"), or ""

    @property
    def upward(self) -> bool:
        return self.condition.op in (">=", ">")


def out_of_reach(rulebook: Rulebook, assignment: PersonaAssignment, profiles: Profiles,
                 population: Population) -> list[OutOfReach]:
    """For each persona that names no segment, the conditions no segment's average meets."""
    found = []
    for persona in rulebook.personas:
        if persona.name not in assignment.absent or persona.mode == "fallback":
            continue
        for condition in persona.conditions:
            item = _beyond(persona.name, condition, profiles, population)
            if item is not None:
                found.append(item)
    return found


def _beyond(persona: str, condition: Condition, profiles: Profiles,
            population: Population) -> OutOfReach | None:
    if condition.metric in GROUP_METRICS or not profiles.groups:
        return None
    averages = [g.means[condition.metric] for g in profiles.groups if condition.metric in g.means]
    if not averages:
        return None
    threshold = condition.threshold(population)
    upward = condition.op in (">=", ">")
    best = max(averages) if upward else min(averages)
    if condition.holds(best, population):
        return None
    return OutOfReach(persona, condition, threshold, float(best),
                      _suggest(condition, best, population, upward))


def _suggest(condition: Condition, best: float, population: Population, upward: bool) -> str:
    """The nearest bar in the same form that the best segment meets: p75 for a p90 no segment
    reaches, 1.3x for a 2x, 0.58 for 0.6."""
    if condition.kind == "percentile":
        rank = float(np.mean(population.frame[condition.metric].to_numpy() < best)) * 100
        step = math.floor(rank / STEP) * STEP if upward else math.ceil(rank / STEP) * STEP
        return f"p{step:g}" if 0 < step < 100 and step != condition.value else ""
    if condition.kind == "multiple":
        mean = population.mean(condition.metric)
        if mean <= 0:
            return ""
        ratio = best / mean
        step = math.floor(ratio * 10) / 10 if upward else math.ceil(ratio * 10) / 10
        return f"{step:g}x population" if step > 0 and step != condition.value else ""
    return _plain_bar(condition, best, upward)


def _plain_bar(condition: Condition, best: float, upward: bool) -> str:
    """A plain number the best segment meets, rounded to two significant figures toward it."""
    if best == 0:
        return ""
    scale = 10 ** (math.floor(math.log10(abs(best))) - 1)
    step = (math.floor(best / scale) if upward else math.ceil(best / scale)) * scale
    return f"{condition.metric} {condition.op} {step:g}"
