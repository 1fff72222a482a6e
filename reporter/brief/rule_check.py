"""`reporter validate --data`: the rules tried on real customers before anyone relies on them.

A rule can be valid and still useless: a persona that names nobody (`recency > 600` where
recency stops at 99), a flag that catches everybody, or an edit that moves a persona's size
far from the last brief people received. Each becomes one warning in plain words. A persona
the edit renames is compared under its new name, and said to be a rename; one the edit
empties is named with where its customers would go.
"""

from __future__ import annotations

import numpy as np

from reporter.brief.rule_edits import rule_edit_lines
from reporter.brief.view import Units
from reporter.data.features import REGISTRY
from reporter.history.record import RunRecord
from reporter.model.lifecycle import Analysis
from reporter.personas.reach import OutOfReach, out_of_reach
from reporter.personas.rules import Population

EVERYBODY = 0.999  # a flag on (nearly) every customer tells nobody what to do


def data_warnings(analysis: Analysis, previous: RunRecord | None, max_points: float,
                  currency: str = "$") -> list[str]:
    """Thresholds outside the data, personas and flags that match nobody or everybody, and
    sizes that moved more than `max_points` since the last delivered brief."""
    return [*_out_of_range(analysis), *_empty_or_full(analysis, Units(currency)), *_edited(analysis),
            *_moved(analysis, previous, max_points)]


def data_summary(analysis: Analysis) -> str:
    """One line on what the rules were tried on, so a check with no warnings still says what it
    looked at: 'tried on 2,058 customers (model: scored): Premium 24%, ...; flags: Churn Risk 401'."""
    customers = len(analysis.table.frame)
    names, counts = np.unique(analysis.assignment.customer_persona.astype(str), return_counts=True)
    by_name = dict(zip(names.tolist(), counts.tolist(), strict=True))
    order = [*analysis.assignment.present, analysis.rulebook.fallback.name]
    shares = ", ".join(f"{name} {by_name[name] / (customers or 1):.0%}"
                       for name in dict.fromkeys(order) if by_name.get(name))
    flags = ", ".join(f"{name} {int(flagged.sum()):,}" for name, flagged in analysis.assignment.flags.items())
    action = analysis.decision.action
    return (f"tried on {customers:,} customers (model {action}): {shares or 'no personas'}"
            + (f"; flags: {flags}" if flags else ""))


def unmatched_sentences(analysis: Analysis, units: Units) -> dict[str, str]:
    """Why each persona that names no segment does not, when a bar is beyond every segment's
    average: segment rules test the average customer, so say so and what to write instead."""
    found = out_of_reach(analysis.rulebook, analysis.assignment, analysis.cluster_profiles,
                         Population(analysis.table.frame))
    sentences: dict[str, str] = {}
    for item in found:
        sentences.setdefault(item.persona, _out_of_reach_sentence(item, units))
    return sentences


def _out_of_reach_sentence(item: OutOfReach, units: Units) -> str:
    """'persona "Premium" matches no segment: segment rules test a segment's average customer, and no
    segment averages p90 of total_spending ($1,537; the highest segment averages $1,425); ...'"""
    condition, metric = item.condition, item.condition.metric
    figure, best = _figure(metric, item.threshold, units), _figure(metric, item.best, units)
    bar = (f"p{condition.value:g} of {metric} ({figure}; " if condition.kind == "percentile"
           else f"{condition.value:g}x the population's {metric} ({figure}; "
           if condition.kind == "multiple" else f"a {metric} of {figure} (")
    reach, edge = ("", "highest") if item.upward else ("as little as ", "lowest")
    lower = "lower" if item.upward else "higher"
    instead = f"use a {lower} bar such as {item.suggestion}, or " if item.suggestion else "relax the bar, or "
    return (f'persona "{item.persona}" matches no segment: segment rules test a segment\'s average '
            f"customer, and no segment averages {reach}{bar}the {edge} segment averages {best}); "
            f"{instead}make it a customer-level flag (level: customer)")


def _figure(metric: str, value: float, units: Units) -> str:
    return units.quantity(metric, value) if metric in REGISTRY else f"{value:.0%}"


def _edited(analysis: Analysis) -> list[str]:
    """Against the saved model's rules: renames, merges, emptied personas, moves, in words."""
    return [f"personas.yaml edit: {line}" for line in rule_edit_lines(analysis.decision.rule_change)]


def _out_of_range(analysis: Analysis) -> list[str]:
    frame = analysis.table.frame
    warnings = []
    for persona in (*analysis.rulebook.personas, *analysis.rulebook.flags):
        for condition in persona.conditions:
            if condition.kind != "number" or condition.metric not in frame:
                continue
            low, high = float(frame[condition.metric].min()), float(frame[condition.metric].max())
            above = condition.op in (">", ">=") and condition.value > high
            below = condition.op in ("<", "<=") and condition.value < low
            if above or below:
                edge = f"above {high:,.4g}" if above else f"below {low:,.4g}"
                warnings.append(f'persona "{persona.name}": "{condition.text}" can never hold: no '
                                f"customer has {condition.metric} {edge} in this data")
    return warnings


def _empty_or_full(analysis: Analysis, units: Units) -> list[str]:
    warnings = []
    customers = len(analysis.table.frame)
    beyond = unmatched_sentences(analysis, units)
    for name in analysis.assignment.absent:
        if name in beyond:
            warnings.append(beyond[name])
        elif name != analysis.rulebook.fallback.name:
            warnings.append(f'persona "{name}" matches no segment this week: nobody would carry it '
                            "(segment rules test each segment's average customer; `reporter personas "
                            "preview` shows each segment's figures beside the bars)")
    for name, flagged in analysis.assignment.flags.items():
        count = int(flagged.sum())
        if count == 0:
            warnings.append(f'customer flag "{name}" matches nobody in this data')
        elif count >= EVERYBODY * customers:
            warnings.append(f'customer flag "{name}" matches all {customers:,} customers: it tells '
                            "the team nothing; tighten its rules")
    return warnings


def _moved(analysis: Analysis, previous: RunRecord | None, max_points: float) -> list[str]:
    """Shares against the last brief. A persona is judged as the run's share_move check will
    judge it, on the data's own movement less what this edit moves (validate said "more than
    allowed" of an edit the run then passed); the edit's own movement is said as the edit's.
    A flag, which no check judges, is named when it moves as far."""
    if previous is None:
        return []
    customers = len(analysis.table.frame) or 1
    renamed, change = analysis.decision.renamed, analysis.decision.rule_change
    emptied = set(change.vanished) if change is not None else set()  # said by _edited
    shift = change.shift() if change is not None else {}
    warnings = []
    for old, figures in previous.personas.items():
        name = renamed.get(old, old)
        if old in emptied:
            continue
        now = float((analysis.assignment.customer_persona == name).mean())
        said = (f'"{name}" would hold {now:.0%} of customers, against {figures.share:.0%} in the '
                f"brief of run {previous.run_id}")
        warnings.extend(_share_words(said, (now - figures.share) * 100, shift.get(name, 0.0), max_points))
    for name, figures in previous.flags.items():
        flagged = analysis.assignment.flags.get(name)
        now = float(flagged.sum() / customers) if flagged is not None else 0.0
        points = (now - figures.share) * 100
        if abs(points) > max_points:
            warnings.append(f'customer flag "{name}" would list {now:.0%} of customers, against '
                            f"{figures.share:.0%} in the brief of run {previous.run_id} "
                            f"({points:+.0f} points)")
    return warnings


def _share_words(said: str, points: float, edit: float, max_points: float) -> list[str]:
    """A persona's move in points, `edit` of them moved by the rules: over the check's limit
    on the data's own part, or large only because of the edit, or nothing."""
    if abs(points - edit) > max_points:
        by_edit = f", {edit:+.0f} of them moved by this edit" if round(edit) else ""
        return [f"{said} ({points:+.0f} points{by_edit}; more than the {max_points:g} allowed by "
                "checks.share_move)"]
    if abs(points) > max_points:
        return [f"{said} ({points:+.0f} points, {edit:+.0f} of them moved by this edit, which "
                "checks.share_move does not count)"]
    return []
