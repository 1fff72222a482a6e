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


def _by_id(frame: pd.DataFrame, names: tuple[str, ...], table: str) -> pd.Series:
    """One numeric column indexed by customer ID; duplicated IDs are refused (which row would
    be the customer's?), missing values dropped (nothing to compare)."""
    ids = _column(frame, ("ID",), table)
    if ids.duplicated().any():
        raise ValueError(f"the {table} table holds {int(ids.duplicated().sum()):,} duplicated "
                         "customer IDs; one row per customer is needed")
    values = pd.to_numeric(_column(frame, names, table), errors="coerce").to_numpy(float)
    series = pd.Series(values, index=pd.Index(ids.to_numpy(), name="ID"))
    return series[np.isfinite(series.to_numpy())]


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
    before = _by_id(earlier, ("Recency", "recency"), "earlier")
    after = _by_id(later, ("Recency", "recency"), "later")
    both = before.index.intersection(after.index).sort_values()
    reset = after.loc[both].to_numpy() < before.loc[both].to_numpy() + days_between
    return pd.Series(reset, index=both, name="bought_again")


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


def _responses(earlier: pd.DataFrame, later: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    before = _by_id(earlier, ("Response", "responded"), "earlier")
    after = _by_id(later, ("Response", "responded"), "later")
    both = before.index.intersection(after.index).sort_values()
    return before.loc[both], after.loc[both]


def campaign_between(earlier: pd.DataFrame, later: pd.DataFrame) -> CampaignEvidence:
    """Did a new campaign's answers reach the later export? Decided from how many customers'
    Response changed (see the module's docstring)."""
    before, after = _responses(earlier, later)
    changed, compared = int((before.to_numpy() != after.to_numpy()).sum()), len(before)
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
    _, after = _responses(earlier, later)
    return pd.Series(after.to_numpy() == 1, index=after.index, name="responded")
