"""Customer figures: what the brief and the run record need from every customer (how many,
each flag's count and call list, the points the charts draw), worked out once by whichever
engine holds the customers. The local engine computes them here from its table; the Spark
engine computes the same figures where its data is (spark/figures.py), so the brief is built
from these and never from a table the driver may not hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reporter.data.features import FeatureTable
from reporter.personas.rulebook import PersonaAssignment, Rulebook

CALL_LIST_COLUMNS = ("ID", "persona", "new", "other_ids")
INCOME_LIMIT_QUANTILE = 0.995  # the income-spend chart stops a little above this quantile


@dataclass(frozen=True)
class FlagCount:
    """One customer flag over every customer, and the first customers of its call list."""

    name: str
    count: int
    share: float
    spend_share: float
    by_persona: tuple[tuple[str, int], ...]  # in the rulebook's persona order
    top: pd.DataFrame  # CALL_LIST_COLUMNS and the shown metrics: new first, then by rank_by, ID
    held_back: int = 0  # of `count`, in the list's control group: never in `top` or a list file
    held_by_persona: tuple[tuple[str, int], ...] = ()  # of `held_back`, per segment persona


@dataclass(frozen=True)
class ChartSample:
    """The customers the brief's point charts draw (all of them, up to scatter_points)."""

    personas: np.ndarray
    pca: np.ndarray  # the first components of each drawn customer
    income_spend: np.ndarray  # income, total_spending of each drawn customer


@dataclass(frozen=True)
class CustomerFigures:
    customers: int
    flags: tuple[FlagCount, ...]
    income_limit: float  # where the income axis ends
    income_correlation: float  # of income and spend, customers up to the limit
    sample: ChartSample


@dataclass(frozen=True)
class ListParams:
    """How the call lists and chart samples are cut: plain values from brief: in reporter.yaml."""

    shown: tuple[str, ...]  # metrics shown beside each customer of a call list
    size: int  # customers per call list
    points: int  # most customers a point chart draws
    seed: int


def sample_rows(count: int, limit: int, seed: int) -> np.ndarray:
    """Which rows a point chart draws: all, or `limit` of them chosen by the seed."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))


def chart_sample(frame: pd.DataFrame, personas: np.ndarray, pca: np.ndarray,
                 params: ListParams) -> ChartSample:
    """The customers of `frame` (every one, or an engine's fitting sample) the charts draw."""
    keep = sample_rows(len(frame), params.points, params.seed)
    return ChartSample(personas[keep], pca[keep], frame[["income", "total_spending"]].to_numpy()[keep])


def customer_figures(table: FeatureTable, assignment: PersonaAssignment, pca: np.ndarray,
                     rulebook: Rulebook, new_ids: dict[str, set[int]], params: ListParams,
                     held: dict[str, np.ndarray] | None = None) -> CustomerFigures:
    """The figures from a table that holds every customer (the local engine); `held`: each
    flag's control group, counted but never listed to contact."""
    held = held or {}
    frame = table.frame
    personas = assignment.customer_persona
    limit = float(frame["income"].quantile(INCOME_LIMIT_QUANTILE)) * 1.05
    income_ok = frame["income"] <= limit
    correlation = float(np.corrcoef(frame.loc[income_ok, "income"],
                                    frame.loc[income_ok, "total_spending"])[0, 1])
    sample = chart_sample(frame, personas, pca, params)
    flags = tuple(_flag_count(frame, personas, assignment.flags[flag.name], flag.name, flag.spec.rank_by,
                              [p.name for p in rulebook.personas], new_ids.get(flag.name, set()), params,
                              held.get(flag.name))
                  for flag in rulebook.flags)
    return CustomerFigures(len(frame), flags, limit, correlation, sample)


def _read_columns(frame: pd.DataFrame, wanted: list[str]) -> list[str]:
    """The frame's columns a flag's count reads, in the frame's order: the rows of every column
    were copied three times over (about 130 MB at a million customers) for a few. A wanted
    column the frame lacks stays wanted, so its KeyError is the one it always was."""
    wanted = set(wanted) - {"persona", "new"}  # made by the count itself
    return [c for c in frame.columns if c in wanted] + sorted(wanted - set(frame.columns))


def _flag_count(frame: pd.DataFrame, personas: np.ndarray, mask: np.ndarray, name: str, rank_by: str,
                order: Sequence[str], new_ids: set[int], params: ListParams,
                held: np.ndarray | None = None) -> FlagCount:
    total_spend = float(frame["total_spending"].sum()) or 1.0
    columns = list(dict.fromkeys((*CALL_LIST_COLUMNS, *params.shown, rank_by)))
    flagged = frame.loc[mask, _read_columns(frame, [*columns, "total_spending"])]
    in_persona = pd.Series(personas[mask]).value_counts()
    to_contact = ~held[mask] if held is not None else np.ones(len(flagged), dtype=bool)
    held_in = pd.Series(personas[mask][~to_contact]).value_counts()
    ranked = flagged.assign(persona=personas[mask], new=flagged["ID"].isin(new_ids))[to_contact].sort_values(
        ["new", rank_by, "ID"], ascending=[False, False, True]).head(params.size)
    return FlagCount(
        name=name, count=int(mask.sum()), share=float(mask.mean()) if len(mask) else 0.0,
        spend_share=float(flagged["total_spending"].sum() / total_spend),
        by_persona=tuple((p, int(in_persona[p])) for p in order if p in in_persona),
        top=ranked[columns].reset_index(drop=True), held_back=int((~to_contact).sum()),
        held_by_persona=tuple((p, int(held_in[p])) for p in order if p in held_in))
