"""The brief's view of alive probability and customer value: each persona's 12-month value
and value at risk, the rule conditions left out in a week without the model, and, for the
appendix, what the model was fitted on and how it was checked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reporter.data.features import FeatureTable
from reporter.personas.rulebook import PersonaAssignment, Rulebook
from reporter.predict.lifetime import Lifetime

EXPLANATION = ("Value at risk is a persona's expected spend over the next 12 months weighted by the "
               "chance each of its customers has stopped buying (1 - p_alive): the part of its value "
               "the model thinks may already be gone.")


@dataclass(frozen=True)
class ValueRow:
    persona: str
    color: str
    customers: int
    p_alive: float  # mean chance of still buying
    value: float  # 12-month value, summed
    at_risk: float  # the same weighted by 1 - p_alive


@dataclass(frozen=True)
class LifetimeGrading:
    rows_fitted: int
    repeaters: int
    parameters: str  # "r 0.80, alpha 8.0 weeks, ..."
    repeat_predicted: float
    repeat_observed: float
    spend_predicted: float
    spend_observed: float
    fitted_here: bool


@dataclass(frozen=True)
class LifetimeView:
    note: str = ""  # why there is no alive probability this week; the rest is empty then
    explanation: str = EXPLANATION
    personas: tuple[ValueRow, ...] = ()
    total_value: float = 0.0
    total_at_risk: float = 0.0
    rule_notes: tuple[str, ...] = ()  # conditions on p_alive or clv left out this week
    grading: LifetimeGrading | None = None


def lifetime_view(lifetime: Lifetime | None, table: FeatureTable, assignment: PersonaAssignment,
                  rulebook: Rulebook) -> LifetimeView | None:
    """None when the stage did not run; a note alone when it has no scores this week."""
    if lifetime is None:
        return None
    notes = tuple(assignment.notes)
    if lifetime.scores is None or lifetime.model is None or "clv_12m" not in table.frame:
        return LifetimeView(note=lifetime.note, rule_notes=notes)
    value = table.frame["clv_12m"].to_numpy(float)
    alive = table.frame["p_alive"].to_numpy(float)
    rows = _rows(value, alive, np.asarray(assignment.customer_persona, dtype=object), rulebook)
    return LifetimeView(personas=rows, total_value=float(value.sum()),
                        total_at_risk=float((value * (1 - alive)).sum()), rule_notes=notes,
                        grading=_grading(lifetime))


def _rows(value: np.ndarray, alive: np.ndarray, persona: np.ndarray,
          rulebook: Rulebook) -> tuple[ValueRow, ...]:
    rows = []
    for p in rulebook.personas:
        mine = persona == p.name
        if mine.any():
            rows.append(ValueRow(p.name, p.color, int(mine.sum()), float(alive[mine].mean()),
                                 float(value[mine].sum()), float((value[mine] * (1 - alive[mine])).sum())))
    return tuple(rows)


def _grading(lifetime: Lifetime) -> LifetimeGrading:
    m, check = lifetime.model, lifetime.model.check
    parameters = (f"BG/NBD r {m.r:.3g}, alpha {m.alpha:.3g} weeks, a {m.a:.3g}, b {m.b:.3g}; "
                  f"Gamma-Gamma p {m.p:.3g}, q {m.q:.3g}, v {m.v:.3g}")
    return LifetimeGrading(m.rows_fitted, m.repeaters, parameters, check.repeat_predicted,
                           check.repeat_observed, check.spend_predicted, check.spend_observed,
                           lifetime.fitted)
