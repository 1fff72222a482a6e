"""`reporter validate --data`: the rules tried on real customers before anyone relies on them.

A rule can be valid and still useless: a persona that names nobody (`recency > 600` where
recency stops at 99), a flag that catches everybody, or an edit that moves a persona's size
far from the last brief people received. Each becomes one warning in plain words. A persona
the edit renames is compared under its new name, and said to be a rename; one the edit
empties is named with where its customers would go.
"""

from __future__ import annotations

from reporter.brief.rule_edits import rule_edit_lines
from reporter.history.record import RunRecord
from reporter.model.lifecycle import Analysis

EVERYBODY = 0.999  # a flag on (nearly) every customer tells nobody what to do


def data_warnings(analysis: Analysis, previous: RunRecord | None, max_points: float) -> list[str]:
    """Thresholds outside the data, personas and flags that match nobody or everybody, and
    sizes that moved more than `max_points` since the last delivered brief."""
    return [*_out_of_range(analysis), *_empty_or_full(analysis), *_edited(analysis),
            *_moved(analysis, previous, max_points)]


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


def _empty_or_full(analysis: Analysis) -> list[str]:
    warnings = []
    customers = len(analysis.table.frame)
    for name in analysis.assignment.absent:
        if name != analysis.rulebook.fallback.name:
            warnings.append(f'persona "{name}" matches no segment this week: nobody would carry it')
    for name, flagged in analysis.assignment.flags.items():
        count = int(flagged.sum())
        if count == 0:
            warnings.append(f'customer flag "{name}" matches nobody in this data')
        elif count >= EVERYBODY * customers:
            warnings.append(f'customer flag "{name}" matches all {customers:,} customers: it tells '
                            "the team nothing; tighten its rules")
    return warnings


def _moved(analysis: Analysis, previous: RunRecord | None, max_points: float) -> list[str]:
    if previous is None:
        return []
    customers = len(analysis.table.frame) or 1
    renamed, change = analysis.decision.renamed, analysis.decision.rule_change
    emptied = set(change.vanished) if change is not None else set()  # said by _edited
    before = {**{renamed.get(n, n): f.share for n, f in previous.personas.items() if n not in emptied},
              **{n: f.share for n, f in previous.flags.items()}}
    now = {name: float((analysis.assignment.customer_persona == name).mean()) for name in before}
    now.update({name: float(flagged.sum() / customers)
                for name, flagged in analysis.assignment.flags.items()})
    warnings = []
    for name, share in before.items():
        points = (now.get(name, 0.0) - share) * 100
        if abs(points) > max_points:
            warnings.append(f'"{name}" would hold {now.get(name, 0.0):.0%} of customers, against '
                            f"{share:.0%} in the brief of run {previous.run_id} ({points:+.0f} "
                            f"points, more than the {max_points:g} allowed by checks.share_move)")
    return warnings
