"""Week over week: what changed since the previous run of the same source.

Carried by personas and customer flags, never by cluster ids (which mean nothing across
runs), and matched by customer ID. A persona personas.yaml renamed since the previous run is
followed under its new name (`renames`): the same customers, not a move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reporter.personas.control import contacted
from reporter.personas.exports import STAMP_COLUMNS, flag_column
from reporter.untrusted import UnreadableArchiveFile

NEW, GONE = "(new)", "(gone)"


@dataclass(frozen=True)
class WeekOverWeek:
    previous_run_id: str
    previous_as_of: str
    personas: tuple[tuple[str, int, float, int, float], ...]  # name, then n, share, now n, share
    order: tuple[str, ...]  # row and column order of the matrix
    matrix: dict[str, dict[str, int]]  # before -> now -> customers; NEW row, GONE column
    new_customers: int
    gone_customers: int
    slipped: pd.DataFrame  # ID, was, now, total_spending; biggest spenders first
    new: pd.DataFrame  # this run's rows of customers who were not in the previous run
    gone: pd.DataFrame  # the previous run's rows of customers who are not in this one
    newly_flagged: dict[str, pd.DataFrame]  # flag -> this run's rows of customers flagged now, not then
    renamed: dict[str, str] = field(default_factory=dict)  # new name -> the name it had then
    successors: dict[str, str] = field(default_factory=dict)  # the same, renamed with its rule changed

    @property
    def slipped_count(self) -> int:
        return len(self.slipped)


MAX_NAME = 1000  # characters in a persona name read back from an archived customers.csv
PREVIOUS_HINT = ("it is not as reporter writes it (edited or planted); restore it or move that run "
                 "out of the archive, and run again")


def compared_column(name: str) -> bool:
    """The columns of a baseline's customers.csv that `compare` reads (ID, persona and the
    flags): reading these alone keeps the previous week's other columns out of memory."""
    return name in ("ID", "persona") or name.startswith("flag_")


def read_previous(path: Path, columns: Callable[[str], bool] | None = None) -> pd.DataFrame:
    """A baseline run's customers.csv, read back as untrusted input: the layout `compare`
    needs (integer IDs once each, names of bounded length, 0/1 flags) or one line saying why.
    `columns`: read only the columns it accepts (every column when None)."""
    try:
        frame = pd.read_csv(path, usecols=columns)
    except (OSError, ValueError) as exc:  # pandas' parser errors are ValueErrors
        raise UnreadableArchiveFile(f"{path}: not readable as a table ({type(exc).__name__}); "
                                    f"{PREVIOUS_HINT}") from None
    wrong = _layout_problem(frame)
    if wrong:
        raise UnreadableArchiveFile(f"{path}: {wrong}; {PREVIOUS_HINT}")
    return frame.drop(columns=list(STAMP_COLUMNS), errors="ignore")


def _layout_problem(frame: pd.DataFrame) -> str:
    missing = [c for c in ("ID", "persona") if c not in frame]
    if missing:
        return f"no {' or '.join(missing)} column"
    if not pd.api.types.is_integer_dtype(frame["ID"]) or not frame["ID"].is_unique:
        return "column ID does not hold one whole number per customer"
    if len(frame) and frame["persona"].astype(str).str.len().max() > MAX_NAME:
        return f"column persona holds a name longer than {MAX_NAME:,} characters"
    flags = [c for c in frame if str(c).startswith("flag_") and not frame[c].isin([0, 1]).all()]
    return f"column {flags[0]} holds values other than 0 and 1" if flags else ""


def status_frame(customers: pd.DataFrame, flags: list[str]) -> pd.DataFrame:
    """ID, persona and the customer flags that are set, from a customers.csv layout."""
    frame = customers[["ID", "persona"]].copy()
    for name in flags:
        column = flag_column(name)
        frame[name] = customers[column].astype(bool) if column in customers else False
    return frame


def compare(before: pd.DataFrame, now: pd.DataFrame, previous: tuple[str, str], order: list[str],
            flags: list[str], valuable: tuple[str, ...], slipped_to: tuple[str, ...],
            renames: dict[str, str] | None = None,
            successors: dict[str, str] | None = None) -> WeekOverWeek:
    """Both frames in the customers.csv layout (ID, persona, flag_..., total_spending). A
    customer now counted under another ID of the same person (other_ids) is not gone; a
    persona renamed since (`renames`, old -> new), or renamed with its rule changed
    (`successors`), is compared under its new name: its customers who went to a persona of
    slipped_to slipped, as they would have under an edit that kept the name."""
    followed = {**(renames or {}), **(successors or {})}
    before = follow_renames(before.loc[~before["ID"].isin(_merged_ids(now))], followed)
    joined = before[["ID", "persona"]].merge(now[["ID", "persona"]], on="ID", how="outer",
                                             suffixes=("_before", "_now"), indicator=True)
    was = joined["persona_before"].fillna(NEW)
    is_now = joined["persona_now"].fillna(GONE)
    counts = pd.crosstab(was, is_now)
    seen = (set(counts.index) | set(counts.columns)) - {*order, NEW, GONE}
    names = [*order, *sorted(seen)]
    matrix = {row: {col: int(counts.at[row, col]) if row in counts.index and col in counts.columns
                    else 0 for col in [*names, GONE]} for row in [*names, NEW]}
    return WeekOverWeek(
        previous_run_id=previous[0],
        previous_as_of=previous[1],
        personas=_persona_changes(before, now, names),
        order=tuple(names),
        matrix=matrix,
        new_customers=int((joined["_merge"] == "right_only").sum()),
        gone_customers=int((joined["_merge"] == "left_only").sum()),
        slipped=slipped(before, now, flags, valuable, slipped_to),
        new=now.loc[~now["ID"].isin(before["ID"])],
        gone=before.loc[~before["ID"].isin(now["ID"])],
        newly_flagged={name: newly_flagged(before, now, name) for name in flags},
        renamed={new: old for old, new in (renames or {}).items()},
        successors={new: old for old, new in (successors or {}).items()},
    )


def previous_rows(path: Path, ids: pd.Series, renames: dict[str, str] | None) -> pd.DataFrame:
    """The baseline's whole rows of these customers, as `compare` gives them from a whole
    read (renamed personas followed): read again in full only when some customer is gone, so
    the columns are typed as the whole file types them; with none, its header's columns."""
    if not len(ids):
        return pd.read_csv(path, nrows=0).drop(columns=list(STAMP_COLUMNS), errors="ignore")
    frame = read_previous(path)
    return follow_renames(frame.loc[frame["ID"].isin(ids)], renames)


def follow_renames(customers: pd.DataFrame, renames: dict[str, str] | None) -> pd.DataFrame:
    """The previous run's customers with each renamed persona under its new name."""
    if not renames:
        return customers
    return customers.assign(persona=customers["persona"].replace(renames))


def _merged_ids(customers: pd.DataFrame) -> set[int]:
    if "other_ids" not in customers:
        return set()
    named = customers["other_ids"].dropna().astype(str)
    return {int(i) for text in named[named.ne("")] for i in text.split()}


def newly_flagged_file(flag: str) -> str:
    """changes/new_churn_risk.csv for 'Churn Risk'."""
    return f"changes/new_{flag_column(flag).removeprefix('flag_')}.csv"


def newly_flagged(before: pd.DataFrame, now: pd.DataFrame, flag: str) -> pd.DataFrame:
    """This run's rows of customers to contact who carry `flag` now and did not in the previous
    run (including customers who are new since); the flag's control group is not among them."""
    column = flag_column(flag)
    if column not in now:
        return now.iloc[0:0]
    flagged_then = set(before.loc[before[column].astype(bool), "ID"]) if column in before else set()
    rows = contacted(now.loc[now[column].astype(bool)], flag)
    return rows.loc[~rows["ID"].isin(flagged_then)]


def _persona_changes(before: pd.DataFrame, now: pd.DataFrame, names: list[str]):
    then_counts, now_counts = before["persona"].value_counts(), now["persona"].value_counts()
    rows = []
    for name in names:
        b, n = int(then_counts.get(name, 0)), int(now_counts.get(name, 0))
        rows.append((name, b, b / max(len(before), 1), n, n / max(len(now), 1)))
    return tuple(rows)


def slipped(before: pd.DataFrame, now: pd.DataFrame, flags: list[str], valuable: tuple[str, ...],
            slipped_to: tuple[str, ...]) -> pd.DataFrame:
    """Customers who slipped since the previous run: then in a valuable persona and carrying no
    slipped-to flag, now in a slipped-to persona or newly carrying such a flag. A customer
    flagged both weeks slipped last week, not this one."""
    targets = list(slipped_to)
    flag_targets = [f for f in flags if f in targets]
    then = status_frame(before, flags)
    clean_then = ~then[flag_targets].any(axis=1) if flag_targets else True
    was = then.loc[then["persona"].isin(valuable) & clean_then, ["ID", "persona"]]
    current = status_frame(now, flags).assign(total_spending=now["total_spending"].to_numpy())
    both = was.merge(current, on="ID", suffixes=("_before", ""))
    hit = both["persona"].isin(targets)
    for name in flag_targets:
        hit |= both[name]
    chosen = both.loc[hit].copy()
    chosen["now"] = [_now_label(row, flag_targets, targets) for _, row in chosen.iterrows()]
    result = chosen.rename(columns={"persona_before": "was"})[["ID", "was", "now", "total_spending"]]
    return result.sort_values(["total_spending", "ID"], ascending=[False, True]).reset_index(drop=True)


def _now_label(row: pd.Series, flag_targets: list[str], targets: list[str]) -> str:
    labels = [name for name in flag_targets if row[name]]
    if row["persona"] in targets:
        labels.append(row["persona"])
    return " + ".join(labels)
