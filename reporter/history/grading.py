"""Grading: the archive checks the predictions of earlier briefs against what happened since.

When this week's export arrives, every earlier brief of the same source that people received,
within a bounded look-back, is read back (its grading.parquet, or customers.csv for runs made
before that file; untrusted either way) and each prediction it
made is compared with the outcome it predicted (`OUTCOMES`: p_alive against "bought again",
p_response against "answered the campaign", history/followup.py). Predictions are binned by
tenths (0-10%, 10-20%, ...; a bin with fewer than `min_bin` customers is merged into its
neighbour), each bin with its customers, mean prediction and observed rate, plus the Brier
score. The result is one typed record, kept in run.json and shown in the appendix and the app.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reporter.data.schema import MAX_COUNT
from reporter.history.catalogue import RunSummary
from reporter.history.followup import ascending, bought_again, campaign_between, responded
from reporter.history.graded import (
    CalibrationBin,
    FollowupRecord,
    GradedPrediction,
)


@dataclass(frozen=True)
class GradingParams:
    lookback_weeks: int = 13  # earlier briefs this many weeks back at most are graded
    min_bin: int = 30  # customers a bin needs, else it is merged with its neighbour
    min_customers: int = 100  # customers a prediction needs to be graded at all


@dataclass(frozen=True)
class Outcome:
    words: str
    needs: str  # the earlier customers.csv column the outcome needs besides ID
    # (earlier, later, days) -> (per customer ID: did it happen, or a note why not graded)
    happened: Callable[[pd.DataFrame, pd.DataFrame, int], tuple[pd.Series | None, str]]


def _alive(earlier: pd.DataFrame, later: pd.DataFrame, days: int) -> tuple[pd.Series | None, str]:
    return bought_again(earlier, later, days), ""


def _answered(earlier: pd.DataFrame, later: pd.DataFrame, days: int) -> tuple[pd.Series | None, str]:
    evidence = campaign_between(earlier, later)
    if not evidence.ran:
        return None, f"not graded: {evidence.sentence}"
    return responded(earlier, later), ""


OUTCOMES: dict[str, Outcome] = {  # prediction -> its outcome; graded.PREDICTIONS names the same
    "p_alive": Outcome("bought again", "recency", _alive),
    "p_response": Outcome("answered the campaign", "responded", _answered),
}
EDGES = np.linspace(0.0, 1.0, 11)


def grade_earlier(runs: list[RunSummary], later: pd.DataFrame, as_of: date,
                  params: GradingParams) -> FollowupRecord:
    """Grade the predictions of `runs` (one source's, newest first) against `later`, this
    week's customers (customers.csv layout: ID, recency, responded) as of `as_of`."""
    graded, notes = [], []
    later = later[[c for c in ("ID", "recency", "responded") if c in later]].sort_values("ID", kind="stable")
    for run in earlier_briefs(runs, as_of, params.lookback_weeks):
        days = (as_of - date.fromisoformat(run.as_of)).days
        earlier, problems = read_earlier(run.folder)
        notes += [f"Brief of run {run.run_id} (customers as of {run.as_of}): {p}" for p in problems]
        if earlier is None:
            continue
        for name, outcome in OUTCOMES.items():
            if name in earlier:
                graded.append(grade_one(name, outcome, run, earlier, later, days, params))
    return FollowupRecord(params.lookback_weeks, params.min_bin, params.min_customers,
                          tuple(graded), tuple(notes))


def earlier_briefs(runs: list[RunSummary], as_of: date, weeks: int) -> list[RunSummary]:
    """Runs people received, with data older than `as_of` by at most `weeks` weeks, one per
    data date (the newest made), newest data first."""
    oldest = as_of - timedelta(weeks=weeks)
    chosen: dict[str, RunSummary] = {}
    for run in runs:
        if not (run.record.is_baseline and run.as_of and ((run.folder / "customers.csv").is_file()
                                                          or (run.folder / GRADING_FILE).is_file())):
            continue
        day = date.fromisoformat(run.as_of)
        if oldest <= day < as_of and (run.as_of not in chosen
                                      or run.started_at > chosen[run.as_of].started_at):
            chosen[run.as_of] = run
    return [chosen[day] for day in sorted(chosen, reverse=True)]


def grade_one(name: str, outcome: Outcome, run: RunSummary, earlier: pd.DataFrame,
              later: pd.DataFrame, days: int, params: GradingParams) -> GradedPrediction:
    base = GradedPrediction(name, outcome.words, run.run_id, run.as_of, days)
    if outcome.needs not in earlier:
        return _with(base, note=f"not graded: that brief's customers.csv has no {outcome.needs} column")
    happened, note = outcome.happened(earlier[["ID", outcome.needs]], among(later, earlier["ID"]), days)
    if happened is None:
        return _with(base, note=note)
    ids = earlier["ID"].to_numpy()  # happened's IDs are all among them (checked unique)
    order = np.arange(len(ids)) if ascending(ids) else np.argsort(ids, kind="stable")
    predicted = earlier[name].to_numpy(float)[order[np.searchsorted(ids, happened.index.to_numpy(),
                                                                    sorter=order)]]
    return calibration(base, predicted, happened.to_numpy(bool), params)


def among(later: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """The rows of `later` (sorted by ID) of these customers: the outcomes then pair 100,000
    customers, not a million."""
    sorted_ids = later["ID"].to_numpy()
    at = np.searchsorted(sorted_ids, ids.to_numpy()).clip(max=max(len(sorted_ids) - 1, 0))
    found = at[sorted_ids[at] == ids.to_numpy()] if len(sorted_ids) else at[:0]
    return later.iloc[np.sort(found)]


def calibration(base: GradedPrediction, predicted: np.ndarray, happened: np.ndarray,
                params: GradingParams) -> GradedPrediction:
    """Bins, Brier score and count of `predicted` probabilities against 0/1 outcomes."""
    count = len(predicted)
    if count < params.min_customers:
        return _with(base, customers=count, note=f"not enough customers yet: {count:,} in both "
                     f"exports, {params.min_customers:,} needed")
    brier = float(np.mean((predicted - happened) ** 2))
    return _with(base, customers=count, brier=round(brier, 4),
                 bins=calibration_bins(predicted, happened, params.min_bin))


def calibration_bins(predicted: np.ndarray, happened: np.ndarray, min_bin: int) -> tuple[CalibrationBin, ...]:
    """Tenths of predicted probability; neighbours merged until each holds `min_bin` customers
    (the last short group joins the one before it)."""
    tenth = np.clip(np.floor(predicted * 10).astype(int), 0, 9)
    counts = np.bincount(tenth, minlength=10)
    groups: list[list[int]] = []
    pending: list[int] = []
    for index in range(10):
        pending.append(index)
        if counts[pending].sum() >= min_bin:
            groups.append(pending)
            pending = []
    if pending and groups:
        groups[-1] += pending
    elif pending:
        groups.append(pending)
    group_of = np.zeros(10, int)
    for number, group in enumerate(groups):
        group_of[group] = number
    member = group_of[tenth]
    sizes = np.bincount(member, minlength=len(groups))
    means = np.bincount(member, predicted, len(groups)) / np.maximum(sizes, 1)
    rates = np.bincount(member, happened.astype(float), len(groups)) / np.maximum(sizes, 1)
    bins = []
    for number, group in enumerate(groups):
        filled = [i for i in group if counts[i]]
        if filled:
            low, high = round(float(EDGES[filled[0]]), 1), round(float(EDGES[filled[-1] + 1]), 1)
            bins.append(CalibrationBin(low, high, int(sizes[number]), round(float(means[number]), 4),
                                       round(float(rates[number]), 4)))
    return tuple(bins)


def _with(base: GradedPrediction, **changes) -> GradedPrediction:
    return GradedPrediction(**{**base.__dict__, **changes})


MAX_CUSTOMERS_BYTES = 4 * 1024**3  # far beyond a 1,000,000-customer customers.csv (~250 MB)
MAX_HEADER_BYTES = 1024 * 1024
NEEDED = ("ID", "recency", "responded", *OUTCOMES)
GRADING_FILE = "grading.parquet"  # NEEDED of a fixed sample of customers, sorted by ID
GRADED_SAMPLE = 100_000  # customers kept for grading: ample for every band of a table


def write_grading_columns(customers: pd.DataFrame, path: Path, keep: int = GRADED_SAMPLE) -> None:
    """What a later week needs to grade this brief, beside customers.csv: at most `keep`
    customers (those whose scrambled ID is lowest: the same customers every week), sorted by
    ID. Reading 13 weeks of customers.csv at a million customers would add a minute to every
    week; this adds about a second."""
    columns = [c for c in NEEDED if c in customers]
    chosen = customers[columns]
    if len(chosen) > keep:
        scrambled = chosen["ID"].to_numpy().astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        chosen = chosen.iloc[np.argpartition(scrambled, keep)[:keep]]
    ordered = chosen.sort_values("ID", kind="stable")  # read back without sorting
    pq.write_table(pa.Table.from_pandas(ordered, preserve_index=False), path)


def read_earlier(folder: Path) -> tuple[pd.DataFrame | None, list[str]]:
    """An earlier brief's customers (grading.parquet, or customers.csv for runs made before it)
    read back as untrusted input: only the columns grading needs, each checked (whole-number
    IDs once each, recency in days, 0/1 answers, probabilities from 0 to 1). A bad column is
    left out with a note; a file without usable IDs is refused (None) with a note."""
    path = folder / GRADING_FILE
    if not path.is_file():
        path = folder / "customers.csv"
    try:
        size = path.stat().st_size
        if size > MAX_CUSTOMERS_BYTES:
            return None, [f"{path.name} is {size:,} bytes, more than the {MAX_CUSTOMERS_BYTES:,} "
                          "read back; not graded"]
        present = [c for c in _header(path) if c in NEEDED]
        if "ID" not in present:
            return None, [f"{path.name} has no ID column; not graded"]
        table = _read(path, present)
    except (OSError, ValueError, UnicodeDecodeError, csv.Error, pa.ArrowException):
        return None, [f"{path.name} is not readable as a table of numbers (edited or planted?); "
                      "not graded"]
    return _checked(table.to_pandas(), present, path.name)


def _read(path: Path, columns: list[str]) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path, columns=columns)
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(include_columns=columns))


def _checked(frame: pd.DataFrame, present: list[str], name: str) -> tuple[pd.DataFrame | None, list[str]]:
    wrong = _id_problem(frame["ID"])
    if wrong:
        return None, [f"{name} {wrong}; not graded"]
    notes = []
    for column in [c for c in present if c != "ID"]:
        wrong = _column_problem(column, frame[column])
        if wrong:
            notes.append(f"{name} column {column} {wrong}; left out")
            frame = frame.drop(columns=column)
    return frame, notes


def _header(path: Path) -> list[str]:
    """The columns a file holds, read without reading the whole file."""
    if path.suffix == ".parquet":
        return list(pq.read_schema(path).names)
    with path.open("rb") as handle:
        line = handle.readline(MAX_HEADER_BYTES).decode("utf-8")
    return next(csv.reader(io.StringIO(line)), [])


def _id_problem(ids: pd.Series) -> str:
    if not pd.api.types.is_integer_dtype(ids) or not ids.is_unique:
        return "column ID does not hold one whole number per customer"
    return ""


def _column_problem(column: str, values: pd.Series) -> str:
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "holds values that are not numbers"
    numbers = values.to_numpy(float)
    if not np.isfinite(numbers).all():
        return "holds missing or infinite values"
    if column == "responded":
        return "" if np.isin(numbers, (0.0, 1.0)).all() else "holds values other than 0 and 1"
    if column == "recency":
        return "" if ((numbers >= 0) & (numbers <= MAX_COUNT)).all() else "holds days out of range"
    return "" if ((numbers >= 0) & (numbers <= 1)).all() else "holds probabilities outside 0 to 1"
