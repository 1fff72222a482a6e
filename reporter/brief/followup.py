"""The brief's view of the grading (history/grading.py): earlier briefs' predictions against
what happened since, one calibration table per prediction and earlier brief, a sentence per
row. The appendix shows the newest few in full and the rest in a line each; the app shows the
same view.
"""

from __future__ import annotations

from dataclasses import dataclass

from reporter.history.graded import CalibrationBin, FollowupRecord, GradedPrediction

SHOWN_IN_FULL = 3  # tables per prediction in the appendix; older ones get one line each
PREDICTION_WORDS = {
    "p_alive": "chance of still buying (p_alive)",
    "p_response": "chance of answering the next campaign (p_response)",
}


@dataclass(frozen=True)
class CalibrationRow:
    band: str  # "20–30%"
    customers: int
    predicted: float
    observed: float
    sentence: str  # "Of the 212 customers we gave 20–30%, 24% bought again (we expected 25%)."


@dataclass(frozen=True)
class GradedTable:
    prediction: str  # p_alive, p_response
    title: str
    elapsed: str  # "1 week", "10 days"
    customers: int
    brier: float | None
    rows: tuple[CalibrationRow, ...]
    note: str = ""  # why there are no rows


@dataclass(frozen=True)
class FollowupView:
    intro: str
    tables: tuple[GradedTable, ...]  # shown in full
    lines: tuple[str, ...] = ()  # older tables in a line each, and briefs that could not be read


def followup_view(record: FollowupRecord | None) -> FollowupView | None:
    """None when nothing was graded or tried (no grading, or no earlier brief yet)."""
    if record is None or not (record.graded or record.notes):
        return None
    tables = [graded_table(g) for g in record.graded]
    full, lines, seen = [], [], {}
    for table in tables:
        seen[table.prediction] = seen.get(table.prediction, 0) + 1
        (full if seen[table.prediction] <= SHOWN_IN_FULL else lines).append(table)
    intro = (f"Each week the predictions of earlier briefs (up to {record.lookback_weeks} weeks back) "
             "are compared with what the customers did since. Bands of predicted chance with "
             f"fewer than {record.min_bin:,} customers are merged with their neighbour.")
    return FollowupView(intro, tuple(full),
                        tuple(one_line(t) for t in lines) + record.notes)


def graded_table(graded: GradedPrediction) -> GradedTable:
    elapsed = elapsed_words(graded.days)
    words = PREDICTION_WORDS.get(graded.prediction, graded.prediction)
    title = (f"The {words} in the brief of {graded.as_of} (run {graded.run_id}), "
             f"{elapsed} later: who {graded.outcome}")
    rows = tuple(calibration_row(b, graded.outcome) for b in graded.bins)
    return GradedTable(graded.prediction, title, elapsed, graded.customers, graded.brier, rows,
                       graded.note)


def calibration_row(grade: CalibrationBin, outcome: str) -> CalibrationRow:
    band = f"{grade.low:.0%}–{grade.high:.0%}".replace("%–", "–")
    return CalibrationRow(band, grade.customers, grade.predicted, grade.observed, (
        f"Of the {grade.customers:,} customers we gave {band}, {grade.observed:.0%} {outcome} "
        f"(we expected {grade.predicted:.0%})."))


def one_line(table: GradedTable) -> str:
    if table.note:
        return f"{table.title}: {table.note}."
    return (f"{table.title}: {table.customers:,} customers graded, Brier score "
            f"{table.brier:.3f} (full table in run.json and the app).")


def elapsed_words(days: int) -> str:
    if days % 7:
        return f"{days} day{'s' if days != 1 else ''}"
    weeks = days // 7
    return f"{weeks} week{'s' if weeks != 1 else ''}"
