"""Control groups: every call list holds back a stable random share of its customers, so a
later brief can tell what contacting the others did.

Whether a customer is held back from a list is decided by a keyed hash of the customer ID,
the list and the campaign window (N weeks counted from a fixed anchor date): the same
customer is in the same group for every run of one window, whatever else changed, and is
drawn afresh in the next window. A list's key (blake2b of its name and window) keys a
SplitMix64 mix of every ID, so a million customers take milliseconds, not a Python loop.
`held_back` is the one place a group is decided: the weekly run, `reporter assign` and the
API all mark customers with it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

CONTROL_FILE = "control_groups.csv"
NEXT_CAMPAIGN_LIST = "Next campaign"  # next_campaign.csv's list name
HASH_KEY = b"reporter-control-groups-v1"  # fixed: a changed key would redraw every group
DEFAULT_ANCHOR = date(2024, 1, 1)  # a Monday; windows are counted from it, either way


@dataclass(frozen=True)
class ControlParams:
    """How lists hold back their controls: plain values from reporter.yaml (control_groups:)
    and personas.yaml (a flag's control_share)."""

    share: float = 0.10  # of each list, unless the list names its own; 0 switches it off
    shares: tuple[tuple[str, float], ...] = ()  # list name -> its own share
    window_weeks: int = 4
    anchor: date = DEFAULT_ANCHOR

    def share_of(self, name: str) -> float:
        return dict(self.shares).get(name, self.share)

    @property
    def off(self) -> bool:
        """No list holds anyone back: nothing is marked, written or said."""
        return self.share <= 0 and all(share <= 0 for _, share in self.shares)

    def with_flags(self, flags) -> ControlParams:
        """The same with each flag's own control_share (personas.yaml) where it gives one."""
        own = tuple((f.name, f.spec.control_share) for f in flags if f.spec.control_share is not None)
        return replace(self, shares=own)


@dataclass(frozen=True)
class Window:
    """A campaign window: the customers' groups hold from `start` to `end` (both included)."""

    start: date
    end: date

    @property
    def label(self) -> str:
        return f"{self.start:%-d %b %Y} to {self.end:%-d %b %Y}"


def campaign_window(as_of: date, weeks: int, anchor: date = DEFAULT_ANCHOR) -> Window:
    """The window `as_of` falls in: whole blocks of `weeks` weeks counted from `anchor`."""
    length = 7 * weeks
    start = anchor + timedelta(days=((as_of - anchor).days // length) * length)
    return Window(start, start + timedelta(days=length - 1))


def list_key(name: str) -> str:
    """'Churn Risk' -> 'churn_risk': the list in file and column names."""
    return "_".join(re.findall(r"[a-z0-9]+", name.lower()))


def control_column(name: str) -> str:
    """The customers.csv column marking who a list holds back: control_churn_risk."""
    return "control_" + list_key(name)


def held_back(ids: np.ndarray, name: str, window: Window, share: float) -> np.ndarray:
    """True for each ID the list `name` holds back in `window`: a keyed hash of ID, list and
    window below `share`, so the same customer gets the same answer all window long."""
    if share <= 0:
        return np.zeros(len(ids), dtype=bool)
    return _mixed(np.asarray(ids, dtype=np.int64), _list_seed(name, window)) < np.uint64(share * 2.0**53)


def _list_seed(name: str, window: Window) -> np.uint64:
    digest = hashlib.blake2b(f"{list_key(name)}|{window.start.isoformat()}".encode(), digest_size=8,
                             key=HASH_KEY).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _mixed(ids: np.ndarray, seed: np.uint64) -> np.ndarray:
    """SplitMix64 of ID xor the list's seed, its top 53 bits: uniform on 0 .. 2**53 - 1 and
    independent across lists and windows."""
    x = ids.view(np.uint64) ^ seed
    x += np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x >> np.uint64(11)


@dataclass(frozen=True)
class ListGroups:
    """One call list's split: who is on it, who is contacted, who is held back."""

    name: str
    share: float
    listed: int
    contacted: int
    control: int

    @property
    def sentence(self) -> str:
        """The brief's line: how many are held back and why."""
        if not self.control:
            why = "no control group (control share 0)" if not self.share else "no customer drawn"
            return f"{self.name}: all {self.listed:,} customers to contact; {why}."
        return (f"{self.name}: {self.control:,} of {self.listed:,} customers ({self.share:.0%}) held "
                f"back as a control group and not contacted, so a later brief can tell what "
                f"contacting the other {self.contacted:,} did.")


@dataclass(frozen=True)
class ControlGroups:
    """Every list's held-back customers for one run (masks aligned with the customer rows)."""

    window: Window
    held: dict[str, np.ndarray] = field(default_factory=dict)  # list name -> held back and listed
    lists: tuple[ListGroups, ...] = ()


def control_groups(ids: np.ndarray, lists: Mapping[str, np.ndarray], params: ControlParams,
                   as_of: date) -> ControlGroups:
    """Each list's control group among its customers (`lists`: name -> on the list)."""
    window = campaign_window(as_of, params.window_weeks, params.anchor)
    held, counts = {}, []
    for name, listed in lists.items():
        listed = np.asarray(listed, dtype=bool)
        share = params.share_of(name)
        held[name] = listed & held_back(ids, name, window, share)
        control = int(held[name].sum())
        counts.append(ListGroups(name, share, int(listed.sum()), int(listed.sum()) - control, control))
    return ControlGroups(window, held, tuple(counts))


def group_columns(groups: ControlGroups) -> dict[str, np.ndarray]:
    """customers.csv's columns: control_<list> is 1 for a customer the list holds back."""
    return {control_column(name): mask.astype(np.int8) for name, mask in groups.held.items()}


def contacted(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of a list's customers to contact: those its control column does not hold back.
    Every list a team receives is cut here."""
    column = control_column(name)
    return frame.loc[frame[column] == 0] if column in frame else frame


def control_rows(customers: pd.DataFrame, lists: tuple[str, ...]) -> list[tuple[str, np.ndarray]]:
    """control_file's rows: each list's name and the positions of the customers it holds back."""
    return [(name, np.flatnonzero((customers[control_column(name)] == 1).to_numpy()))
            for name in lists if control_column(name) in customers]


def control_file(customers: pd.DataFrame, lists: tuple[str, ...]) -> pd.DataFrame:
    """control_groups.csv for analysts: the list's name, then the customers.csv row of every
    customer a list holds back (once per list that holds them back)."""
    parts = [customers.loc[customers[control_column(name)] == 1] for name in lists
             if control_column(name) in customers]
    names = [name for name in lists if control_column(name) in customers]
    rows = pd.concat([part.assign(list=name) for part, name in zip(parts, names, strict=True)]
                     or [customers.iloc[:0].assign(list="")], ignore_index=True)
    return rows[["list", *customers.columns]]
