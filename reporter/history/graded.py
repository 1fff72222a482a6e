"""The grading's record (run.json's `followup`): earlier briefs' predictions against what
happened, by bins of predicted probability. Computed by history/grading.py; kept apart so
run.json's reader needs none of the grading's code."""

from __future__ import annotations

from dataclasses import dataclass

PREDICTIONS = ("p_alive", "p_response")  # the prediction columns graded (grading.OUTCOMES)


@dataclass(frozen=True)
class CalibrationBin:
    low: float  # the bin's range of predicted probability, e.g. 0.2 to 0.3
    high: float
    customers: int
    predicted: float  # mean prediction of its customers
    observed: float  # share of them who did what was predicted


@dataclass(frozen=True)
class GradedPrediction:
    """One prediction of one earlier brief, against what happened by this week's export."""

    prediction: str  # p_alive, p_response
    outcome: str  # in words: "bought again"
    run_id: str  # the earlier brief's run
    as_of: str  # its customers' date
    days: int  # between its export and this week's
    customers: int = 0  # graded: in both exports, with a prediction
    brier: float | None = None
    bins: tuple[CalibrationBin, ...] = ()
    note: str = ""  # why there are no bins (not graded, or not enough customers yet)


@dataclass(frozen=True)
class FollowupRecord:
    """This week's grading of earlier briefs (run.json's `followup`)."""

    lookback_weeks: int = 13
    min_bin: int = 30
    min_customers: int = 100
    graded: tuple[GradedPrediction, ...] = ()  # newest earlier brief first, by OUTCOMES' order
    notes: tuple[str, ...] = ()  # earlier briefs that could not be read, and why
