"""Measured effect: what an earlier brief's call lists did, told by their control groups.

Each list of an earlier run (its file holds the customers contacted, control_groups.csv the
ones held back) is followed into this run's customers: who bought again (recency reset,
`followup.bought_again`), how their spend changed, and who answered the last campaign. The
difference contacted minus control comes with a 95% interval: Newcombe's hybrid score
interval for a difference of two shares (Wilson intervals of each share combined; it keeps
its coverage where the Wald interval does not, with small groups or shares near 0 or 1), and
a normal (Welch) interval for a difference of mean spend changes. An interval wider than
`widest_interval` (20 points by default, low end to high end) says nothing a manager can act
on: the brief then says "not enough customers yet".

Nothing read from the archive is trusted: each list file and the control file are checked
against the earlier run's record (columns, whole unique IDs, counts as recorded) before use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from reporter.history.followup import bought_again
from reporter.history.record import Comparison, ControlRecord, ListEffect, ListRecord, RunRecord
from reporter.untrusted import UnreadableArchiveFile

Z95 = 1.959963984540054
NEWCOMBE = "Newcombe hybrid score interval"
WELCH = "normal interval of a difference of means (Welch)"
MIN_GROUP = 10  # customers in each group before anything is said
MAX_LIST_BYTES = 1024 * 1024 * 1024  # a list file larger than this was not written by a run
LIST_COLUMNS = ("ID", "recency", "total_spending")
LATER_COLUMNS = ("ID", "recency", "total_spending", "responded")
MEASURES = ("bought again", "spend change", "response")


@dataclass(frozen=True)
class MeasureParams:
    look_back_days: int = 84  # earlier runs up to this old are measured
    widest_interval: float = 0.20  # a wider interval of a difference of shares: not enough yet
    z: float = Z95


@dataclass(frozen=True)
class Groups:
    """One earlier list's customers as they were then: ID, recency, total_spending."""

    contacted: pd.DataFrame
    control: pd.DataFrame


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a share."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """Share 1 minus share 2 and its interval by Newcombe's hybrid score method (his method 10)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return difference, max(-1.0, low), min(1.0, high)


def mean_difference(a: np.ndarray, b: np.ndarray, z: float = Z95) -> tuple[float, float, float]:
    """Mean of a minus mean of b and its normal interval with each group's own variance."""
    difference = float(a.mean() - b.mean())
    error = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return difference, difference - z * error, difference + z * error


def compare_shares(measure: str, contacted: pd.Series, control: pd.Series,
                   params: MeasureParams) -> Comparison:
    n1, n2 = len(contacted), len(control)
    if min(n1, n2) < MIN_GROUP:
        share1 = float(contacted.mean()) if n1 else 0.0
        share2 = float(control.mean()) if n2 else 0.0
        return Comparison(measure, n1, n2, share1, share2, share1 - share2, -1.0, 1.0, NEWCOMBE, False)
    x1, x2 = int(contacted.sum()), int(control.sum())
    difference, low, high = newcombe(x1, n1, x2, n2, params.z)
    return Comparison(measure, n1, n2, x1 / n1, x2 / n2, difference, low, high, NEWCOMBE,
                      high - low <= params.widest_interval)


def compare_means(measure: str, contacted: np.ndarray, control: np.ndarray,
                  params: MeasureParams) -> Comparison:
    n1, n2 = len(contacted), len(control)
    if min(n1, n2) < MIN_GROUP:
        mean1 = float(contacted.mean()) if n1 else 0.0
        mean2 = float(control.mean()) if n2 else 0.0
        return Comparison(measure, n1, n2, mean1, mean2, mean1 - mean2, mean1 - mean2,
                          mean1 - mean2, WELCH, False)
    difference, low, high = mean_difference(contacted, control, params.z)
    return Comparison(measure, n1, n2, float(contacted.mean()), float(control.mean()), difference,
                      low, high, WELCH, True)


def measure_list(groups: Groups, later: pd.DataFrame, days: int,
                 params: MeasureParams) -> tuple[tuple[Comparison, ...], int]:
    """Contacted against control in the `later` customers (ID, recency, total_spending and,
    when the export has it, responded), `days` after the list; and how many have left."""
    now = later.set_index("ID")
    found = {}
    for name, frame in (("contacted", groups.contacted), ("control", groups.control)):
        kept = frame.loc[frame["ID"].isin(now.index)]
        bought = bought_again(kept, later.loc[later["ID"].isin(kept["ID"])], days)
        spend = (now.loc[kept["ID"], "total_spending"].to_numpy(float)
                 - kept["total_spending"].to_numpy(float))
        answered = now.loc[kept["ID"], "responded"] if "responded" in now else None
        found[name] = (bought, spend, answered, len(frame) - len(kept))
    contacted, control = found["contacted"], found["control"]
    comparisons = [compare_shares("bought again", contacted[0], control[0], params),
                   compare_means("spend change", contacted[1], control[1], params)]
    if contacted[2] is not None:
        comparisons.append(compare_shares("response", contacted[2].astype(bool),
                                          control[2].astype(bool), params))
    return tuple(_rounded(c) for c in comparisons), contacted[3] + control[3]


def _rounded(comparison: Comparison) -> Comparison:
    """Figures as run.json keeps them: four decimals are a hundredth of a point."""
    return replace(comparison, **{name: round(float(getattr(comparison, name)), 4) for name in
                                  ("contacted_value", "control_value", "difference", "low", "high")})


def sentence(name: str, as_of: date, days: int, bought: Comparison) -> str:
    """'Churn Risk list of 29 Jun 2014: 31% of contacted customers bought again within 4 weeks
    against 22% of the control: +9 points (95% interval 3 to 15).'"""
    within = f"{days // 7} week{'' if days == 7 else 's'}" if days % 7 == 0 else f"{days} days"
    head = f"{name} list of {as_of:%-d %b %Y}"
    if not bought.enough:
        return (f"{head}: not enough customers yet to tell what contacting did within {within} "
                f"({bought.contacted:,} contacted, {bought.control:,} in the control group).")
    return (f"{head}: {bought.contacted_value:.0%} of contacted customers bought again within "
            f"{within} against {bought.control_value:.0%} of the control: "
            f"{_points(bought.difference)} points (95% interval {_points(bought.low)} to "
            f"{_points(bought.high)}).")


def _points(share: float) -> str:
    value = round(share * 100)
    return f"+{value}" if value > 0 else f"{value}".replace("-", "−")


def list_effect(record: RunRecord, entry: ListRecord, groups: Groups, later: pd.DataFrame,
                as_of: date, params: MeasureParams) -> ListEffect:
    then = date.fromisoformat(record.as_of)
    days = (as_of - then).days
    comparisons, left = measure_list(groups, later, days, params)
    return ListEffect(record.run_id, record.as_of, entry.name, days, left, comparisons,
                      sentence(entry.name, then, days, comparisons[0]))


def runs_to_measure(records: list[RunRecord], as_of: date, params: MeasureParams) -> list[RunRecord]:
    """The earlier runs whose lists this run measures: delivered, with control groups, older
    than `as_of` by at most look_back_days; of each campaign window the first run (the later
    runs of a window hand out the same groups again), newest window first."""
    first: dict[str, RunRecord] = {}
    for record in sorted(records, key=lambda r: (r.as_of, r.started_at)):
        if record.control is None or not record.is_baseline or not record.as_of:
            continue
        age = (as_of - date.fromisoformat(record.as_of)).days
        if 0 < age <= params.look_back_days:
            first.setdefault(record.control.window_start, record)
    return sorted(first.values(), key=lambda r: r.as_of, reverse=True)


def read_groups(folder: Path, control: ControlRecord, entry: ListRecord) -> Groups:
    """An earlier list's contacted and control customers from its run folder, as untrusted
    input: the columns, whole unique IDs, finite figures and the counts its run.json recorded."""
    contacted = _read_table(folder / entry.file, LIST_COLUMNS)
    everyone = _read_table(folder / control.file, ("list", *LIST_COLUMNS))
    held = everyone.loc[everyone["list"].astype(str) == entry.name, list(LIST_COLUMNS)]
    for path, frame, count in ((folder / entry.file, contacted, entry.contacted),
                               (folder / control.file, held, entry.control)):
        if len(frame) != count or not frame["ID"].is_unique:
            raise UnreadableArchiveFile(
                f"{path}: {len(frame):,} customers of {entry.name}, not the {count:,} run.json "
                "recorded once each; it was edited, so this list is not measured")
    return Groups(contacted.reset_index(drop=True), held.reset_index(drop=True))


def _read_table(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    hint = "it is not as reporter writes it, so this list is not measured"
    if not path.is_file() or path.stat().st_size > MAX_LIST_BYTES:
        raise UnreadableArchiveFile(f"{path}: missing or too large; {hint}")
    try:
        frame = pd.read_csv(path, usecols=list(columns))
    except (OSError, ValueError) as exc:
        raise UnreadableArchiveFile(f"{path}: not readable with the columns {', '.join(columns)} "
                                    f"({type(exc).__name__}); {hint}") from None
    if not pd.api.types.is_integer_dtype(frame["ID"]):
        raise UnreadableArchiveFile(f"{path}: column ID does not hold whole numbers; {hint}")
    for column in ("recency", "total_spending"):
        values = pd.to_numeric(frame[column], errors="coerce")
        if not np.isfinite(values.to_numpy(float)).all() or (values < 0).any():
            raise UnreadableArchiveFile(f"{path}: column {column} holds a value that is not a "
                                        f"number of 0 or more; {hint}")
        frame[column] = values
    return frame


@dataclass(frozen=True)
class Measured:
    effects: tuple[ListEffect, ...] = ()
    notes: tuple[str, ...] = ()  # lists that could not be measured, and why


def measure_earlier(earlier: list[tuple[Path, RunRecord]], later: pd.DataFrame, as_of: date,
                    params: MeasureParams) -> Measured:
    """Every list of the earlier runs to measure, against this run's customers `later`."""
    folders = {record.run_id: folder for folder, record in earlier}
    effects, notes = [], []
    for record in runs_to_measure([record for _, record in earlier], as_of, params):
        for entry in record.control.lists:
            try:
                groups = read_groups(folders[record.run_id], record.control, entry)
            except UnreadableArchiveFile as exc:
                notes.append(exc.args[0] if exc.args else str(exc))
                continue
            effects.append(list_effect(record, entry, groups, later, as_of, params))
    return Measured(tuple(effects), tuple(notes))


def later_customers(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of this run's customer table the measurement reads."""
    return frame[[c for c in LATER_COLUMNS if c in frame]]


def contacted_ids(folder: Path) -> np.ndarray:
    """Every customer an archived run's lists contacted (not its control groups), read back as
    untrusted input: run.json, then each list file checked against it."""
    from reporter.history.record import read_record

    record = read_record(folder)
    if record.control is None:
        raise UnreadableArchiveFile(f"{folder}: the run holds no control groups (made before them, "
                                    "or on engine: spark), so nobody is known to be contacted")
    ids = [read_groups(folder, record.control, entry).contacted["ID"].to_numpy()
           for entry in record.control.lists]
    return np.unique(np.concatenate(ids)) if ids else np.array([], dtype=np.int64)
