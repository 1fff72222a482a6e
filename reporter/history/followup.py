"""Follow-up: what happened to customers between an earlier export and a later one.

Two outcomes the archive can grade predictions against, both read from the exports alone:

- "bought again" (`bought_again`): the later Recency is less than the earlier Recency plus the
  days between the two exports, so the days-since-last-purchase counter was reset: a purchase
  happened in between.
- "answered the campaign" (`campaign_between`, `responded`): Response holds each customer's
  answer to the newest campaign. When a new campaign ran between the exports, the later
  export's Response is its answer; when none ran, Response is the same stale answer as before.
  The export says nothing about campaigns directly, so a campaign is decided from Response
  itself: it ran when Response changed for at least `MIN_CHANGED` customers and
  `MIN_CHANGED_SHARE` of those in both exports; it did not when Response changed for nobody;
  anything in between (a handful of changes: corrections, or a tiny campaign) is undecidable,
  and p_response is then not graded rather than graded against stale answers. Once a campaign
  is decided, every customer in both exports is graded by their later Response (1 answered,
  0 did not): the export is assumed to write every customer's answer to the newest campaign.

The frames are customers.csv layouts or exports: an ID column and a recency column, named
`Recency` (the raw export) or `recency` (customers.csv and the feature table), and a response
column named `Response` or `responded`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_CHANGED = 10  # customers whose Response changed, for a campaign to count as run
MIN_CHANGED_SHARE = 0.01  # ... and this share of the customers in both exports


def _column(frame: pd.DataFrame, names: tuple[str, ...], table: str) -> pd.Series:
    for name in names:
        if name in frame:
            return frame[name]
    raise ValueError(f"the {table} table has no {' or '.join(names)} column")


def _by_id(frame: pd.DataFrame, names: tuple[str, ...], table: str) -> tuple[np.ndarray, np.ndarray]:
    """Customer IDs (ascending) and one numeric column; duplicated IDs are refused (which row
    would be the customer's?), missing values dropped (nothing to compare). In numpy: a
    pandas index of a million IDs costs seconds to check and align."""
    ids = _column(frame, ("ID",), table).to_numpy()
    values = pd.to_numeric(_column(frame, names, table), errors="coerce").to_numpy(float)
    if not ascending(ids):  # archived files and the grading's later table come sorted
        order = np.argsort(ids, kind="stable")
        ids, values = ids[order], values[order]
    repeated = int((ids[1:] == ids[:-1]).sum())
    if repeated:
        raise ValueError(f"the {table} table holds {repeated:,} duplicated customer IDs; one row "
                         "per customer is needed")
    known = np.isfinite(values)
    return ids[known], values[known]


def ascending(ids: np.ndarray) -> bool:
    return bool((ids[1:] >= ids[:-1]).all())


def _paired(earlier: pd.DataFrame, later: pd.DataFrame,
            names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The IDs in both tables (ascending) with each table's value of the column."""
    before_ids, before = _by_id(earlier, names, "earlier")
    after_ids, after = _by_id(later, names, "later")
    at = np.searchsorted(after_ids, before_ids).clip(max=max(len(after_ids) - 1, 0))
    both = after_ids[at] == before_ids if len(after_ids) else np.zeros(len(before_ids), bool)
    return before_ids[both], before[both], after[at[both]]


def bought_again(earlier: pd.DataFrame, later: pd.DataFrame, days_between: int) -> pd.Series:
    """Per customer in both tables (indexed by ID, ascending): True when the later Recency is
    less than the earlier Recency + `days_between` (the counter was reset by a purchase).

    Edge cases: `days_between` <= 0 raises ValueError (the later export must be later, or no
    purchase can be told from none); customers missing from either table (left since, or
    joined since) and customers whose recency is missing in either are not counted, neither
    True nor False; a duplicated ID in either table raises ValueError."""
    if days_between <= 0:
        raise ValueError(f"days_between is {days_between}: the later export must be at least a "
                         "day later than the earlier one")
    ids, before, after = _paired(earlier, later, ("Recency", "recency"))
    return pd.Series(after < before + days_between, index=pd.Index(ids, name="ID"), name="bought_again")


@dataclass(frozen=True)
class CampaignEvidence:
    """Whether a campaign ran between two exports, as Response shows it."""

    verdict: str  # "campaign", "none" or "undecidable"
    changed: int  # customers in both whose Response changed
    compared: int  # customers in both with a Response in each
    sentence: str

    @property
    def ran(self) -> bool:
        return self.verdict == "campaign"


def _responses(earlier: pd.DataFrame, later: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _paired(earlier, later, ("Response", "responded"))


def campaign_between(earlier: pd.DataFrame, later: pd.DataFrame) -> CampaignEvidence:
    """Did a new campaign's answers reach the later export? Decided from how many customers'
    Response changed (see the module's docstring)."""
    _, before, after = _responses(earlier, later)
    changed, compared = int((before != after).sum()), len(before)
    if changed == 0:
        return CampaignEvidence("none", 0, compared, (
            f"Response is the same for all {compared:,} customers in both exports: no new "
            "campaign's answers yet"))
    if changed >= max(MIN_CHANGED, MIN_CHANGED_SHARE * compared):
        return CampaignEvidence("campaign", changed, compared, (
            f"Response changed for {changed:,} of {compared:,} customers: a new campaign's answers"))
    return CampaignEvidence("undecidable", changed, compared, (
        f"Response changed for only {changed:,} of {compared:,} customers: too few to tell a new "
        "campaign from corrections"))


def responded(earlier: pd.DataFrame, later: pd.DataFrame) -> pd.Series:
    """Per customer in both tables (indexed by ID): True when the later Response is 1. Only
    meaningful when `campaign_between` says a campaign ran; same edge cases as bought_again."""
    ids, _, after = _responses(earlier, later)
    return pd.Series(after == 1, index=pd.Index(ids, name="ID"), name="responded")
