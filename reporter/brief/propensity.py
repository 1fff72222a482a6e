"""The brief's view of the response propensity: a lift chart by decile, expected responders
per persona and the next campaign's list on page 1; ROC AUC, reliability and drivers in the
appendix. Computed here from the stage's record, stored in brief.json, drawn by the templates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reporter.personas.exports import NEXT_CAMPAIGN_FILE, next_campaign_size
from reporter.personas.rulebook import Rulebook
from reporter.predict.propensity import Propensity
from reporter.predict.saved import Bin

DECILES = 10
KIND_WORDS = {"logistic": "regularised logistic regression", "boosting": "gradient boosting"}
CALIBRATION_WORDS = {"none": "no calibration map (the raw model held up best)",
                     "sigmoid": "a sigmoid (Platt) calibration map",
                     "isotonic": "an isotonic calibration map"}


@dataclass(frozen=True)
class LiftBar:
    decile: int  # 1 = the tenth of customers likeliest to answer
    expected: float  # mean p_response of this week's customers in the decile
    observed: float | None  # what customers of that decile did, out of sample, when fitted
    lift: float  # expected against all customers


@dataclass(frozen=True)
class PersonaExpectation:
    persona: str
    color: str
    customers: int
    expected: float  # responders expected if every customer of the persona is reached
    rate: float


@dataclass(frozen=True)
class NextCustomer:
    customer_id: int
    persona: str
    p_response: float


@dataclass(frozen=True)
class Grading:
    """The appendix's evidence: every figure is on customers the model never saw."""

    model: str
    calibration: str
    folds: int
    rows_fitted: int
    responders: int
    auc: float
    auc_spread: float
    brier: float
    base_rate: float
    reliability: tuple[Bin, ...]
    drivers: tuple[str, ...]
    compared: tuple[str, ...]
    fitted_here: bool


@dataclass(frozen=True)
class PropensityView:
    note: str = ""  # why there is no propensity this week; the rest is empty then
    expected_rate: float = 0.0
    expected_responders: float = 0.0
    lift: tuple[LiftBar, ...] = ()
    personas: tuple[PersonaExpectation, ...] = ()
    next_top: tuple[NextCustomer, ...] = ()
    next_count: int = 0
    next_rate: float = 0.0
    next_file: str = NEXT_CAMPAIGN_FILE
    next_held: int = 0  # of next_count, the list's control group: not in next_file nor next_top
    grading: Grading | None = None

    @property
    def next_lift(self) -> float:
        return self.next_rate / self.expected_rate if self.expected_rate else 0.0


def propensity_view(propensity: Propensity | None, ids: np.ndarray, personas: np.ndarray,
                    rulebook: Rulebook, shown: int, held: np.ndarray | None = None) -> PropensityView | None:
    """None without the stage (an engine that does not run it); a note when it refused.
    `ids` and `personas` are those of the customers `propensity.p_response` scores, in order;
    `held`: the next campaign's control group, never among the customers shown to contact."""
    if propensity is None:
        return None
    if propensity.p_response is None or propensity.model is None or not len(propensity.p_response):
        return PropensityView(note=propensity.note)
    p = propensity.p_response
    size = next_campaign_size(len(p))
    top = _likeliest(p, ids, size)
    return PropensityView(
        expected_rate=float(p.mean()), expected_responders=float(p.sum()),
        lift=_lift(p, propensity.model.grades.reliability),
        personas=_personas(p, personas, rulebook),
        next_top=tuple(NextCustomer(int(ids[i]), str(personas[i]), float(p[i]))
                       for i in _to_contact(top, held)[:shown]),
        next_count=size, next_rate=float(p[top].mean()), grading=_grading(propensity),
        next_held=int(held[top].sum()) if held is not None else 0)


def _to_contact(top: np.ndarray, held: np.ndarray | None) -> np.ndarray:
    return top[~held[top]] if held is not None else top


def _likeliest(p: np.ndarray, ids: np.ndarray, size: int) -> np.ndarray:
    """Positions of the `size` highest p (ties by ID), in order: next_campaign.csv's order."""
    if size < len(p):
        cut = np.partition(p, len(p) - size)[len(p) - size]
        candidates = np.flatnonzero(p >= cut)  # ties at the cut are all kept, then ranked
    else:
        candidates = np.arange(len(p))
    order = np.lexsort((ids[candidates], -p[candidates]))
    return candidates[order[:size]]


def _lift(p: np.ndarray, reliability: tuple[Bin, ...]) -> tuple[LiftBar, ...]:
    mean = float(p.mean()) or 1.0
    observed = [b.observed for b in reversed(reliability)] if len(reliability) == DECILES else []
    parts = [part for part in np.array_split(np.sort(p)[::-1], DECILES) if len(part)]
    return tuple(LiftBar(n, float(part.mean()), observed[n - 1] if observed else None,
                         float(part.mean()) / mean) for n, part in enumerate(parts, start=1))


def _personas(p: np.ndarray, personas: np.ndarray, rulebook: Rulebook) -> tuple[PersonaExpectation, ...]:
    """Responders expected in each persona if all its customers were reached, most first."""
    codes, names = pd.factorize(personas)
    customers = np.bincount(codes, minlength=len(names))
    expected = np.bincount(codes, weights=p, minlength=len(names))
    colours = {persona.name: persona.color for persona in rulebook.personas}
    rows = [PersonaExpectation(str(name), colours.get(name, "#777777"), int(customers[i]),
                               float(expected[i]), float(expected[i] / customers[i]))
            for i, name in enumerate(names) if customers[i]]
    return tuple(sorted(rows, key=lambda r: (-r.expected, r.persona)))


def _grading(propensity: Propensity) -> Grading:
    model, grades = propensity.model, propensity.model.grades
    compared = tuple(f"{KIND_WORDS.get(kind, kind)}: ROC AUC {mean:.3f} ± {spread:.3f}"
                     for kind, mean, spread in grades.compared)
    return Grading(
        model=KIND_WORDS.get(model.kind, model.kind),
        calibration=CALIBRATION_WORDS.get(model.calibration.method, model.calibration.method),
        folds=grades.folds, rows_fitted=model.rows_fitted, responders=model.responders,
        auc=grades.auc, auc_spread=grades.auc_spread, brier=grades.brier, base_rate=grades.base_rate,
        reliability=grades.reliability, drivers=tuple(d.sentence for d in grades.drivers),
        compared=compared, fitted_here=propensity.fitted)
