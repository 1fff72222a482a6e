"""Brief: the view model the templates format. Every number and sentence a reader sees is
decided here, once, so the HTML, the PDF and (later) the email body say the same thing and the
templates only format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from reporter import charts
from reporter.clean import DataNotes, customers
from reporter.features import FeatureTable
from reporter.personas import PersonaAssignment, Rulebook
from reporter.profile import GroupProfile, Profiles
from reporter.segment import Segmentation

TABLE_FEATURES = ("income", "total_spending", "recency", "total_purchases")


@dataclass(frozen=True)
class PersonaRow:
    name: str
    color: str
    description: str
    clusters: tuple[int, ...]
    size: int
    share: float
    spend_share: float
    figures: dict[str, float]  # persona means of TABLE_FEATURES
    lifts: dict[str, float]
    traits: tuple[str, ...]
    actions: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FlaggedCustomer:
    customer_id: int
    persona: str
    figures: dict[str, float]  # TABLE_FEATURES plus the ranking metric


@dataclass(frozen=True)
class FlagSection:
    """Customers flagged one by one (a customer-level persona), with the first few to call."""

    name: str
    color: str
    description: str
    count: int
    share: float
    spend_share: float
    by_persona: tuple[tuple[str, int], ...]  # segment persona -> flagged customers in it
    rank_by: str
    top: tuple[FlaggedCustomer, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class KRow:
    k: int
    inertia: float
    silhouette: float
    chosen: bool


@dataclass(frozen=True)
class Brief:
    title: str
    run_id: str
    run_date: datetime
    data_file: str
    data_sha256: str
    as_of: date
    customers: int
    k: int
    silhouette: float
    k_reason: str
    headlines: tuple[str, ...]
    personas: tuple[PersonaRow, ...]
    absent_personas: tuple[str, ...]
    flags: tuple[FlagSection, ...]
    population: dict[str, float]
    notes: DataNotes
    k_rows: tuple[KRow, ...]
    explained_variance: float
    size_chart_svg: str
    scatter_svg: str


@dataclass(frozen=True)
class BriefInputs:
    """What the pipeline computed, gathered for the brief."""

    title: str
    run_id: str
    run_date: datetime
    data_file: str
    data_sha256: str
    table: FeatureTable
    notes: DataNotes
    segmentation: Segmentation
    persona_profiles: Profiles
    assignment: PersonaAssignment
    rulebook: Rulebook
    scatter_points: int
    seed: int
    action_list_size: int = 10


def build_brief(inputs: BriefInputs) -> Brief:
    rows = _persona_rows(inputs)
    flags = _flag_sections(inputs)
    segmentation = inputs.segmentation
    return Brief(
        title=inputs.title,
        run_id=inputs.run_id,
        run_date=inputs.run_date,
        data_file=inputs.data_file,
        data_sha256=inputs.data_sha256,
        as_of=inputs.table.as_of,
        customers=len(inputs.table.frame),
        k=segmentation.k,
        silhouette=segmentation.silhouette,
        k_reason=segmentation.k_choice.reason,
        headlines=headlines(rows, flags, inputs.notes),
        personas=rows,
        absent_personas=inputs.assignment.absent,
        flags=flags,
        population=inputs.persona_profiles.population_means,
        notes=inputs.notes,
        k_rows=_k_rows(segmentation),
        explained_variance=float(sum(segmentation.explained_variance)),
        size_chart_svg=charts.persona_sizes(
            [charts.Bar(r.name, r.share, r.spend_share, r.color) for r in rows]
        ),
        scatter_svg=_scatter(inputs, rows),
    )


def _persona_rows(inputs: BriefInputs) -> tuple[PersonaRow, ...]:
    profiles = inputs.persona_profiles.by_key()
    assignment = inputs.assignment
    rows = []
    for persona in inputs.rulebook.personas:
        if persona.name not in assignment.present:
            continue
        clusters = tuple(sorted(c for c, p in assignment.cluster_persona.items()
                                if p == persona.name))
        group: GroupProfile = profiles[persona.name]
        rows.append(PersonaRow(
            name=persona.name,
            color=persona.color,
            description=persona.spec.description,
            clusters=clusters,
            size=group.size,
            share=group.share,
            spend_share=group.spend_share,
            figures={f: group.means[f] for f in TABLE_FEATURES},
            lifts={f: group.lifts[f] for f in TABLE_FEATURES},
            traits=group.traits,
            actions=tuple(persona.spec.actions),
            reasons=tuple(assignment.reasons[c] for c in clusters),
        ))
    return tuple(rows)


def _flag_sections(inputs: BriefInputs) -> tuple[FlagSection, ...]:
    frame = inputs.table.frame
    personas = inputs.assignment.customer_persona
    total_spend = float(frame["total_spending"].sum()) or 1.0
    sections = []
    for flag in inputs.rulebook.flags:
        mask = inputs.assignment.flags[flag.name]
        flagged = frame.loc[mask]
        in_persona = pd.Series(personas[mask]).value_counts()
        order = [p.name for p in inputs.rulebook.personas]
        by_persona = tuple((name, int(in_persona[name])) for name in order if name in in_persona)
        ranked = flagged.assign(persona=personas[mask]).sort_values(
            [flag.spec.rank_by, "ID"], ascending=[False, True]).head(inputs.action_list_size)
        shown = tuple(dict.fromkeys((*TABLE_FEATURES, flag.spec.rank_by)))
        top = tuple(FlaggedCustomer(int(row["ID"]), str(row["persona"]),
                                    {name: float(row[name]) for name in shown})
                    for _, row in ranked.iterrows())
        sections.append(FlagSection(
            name=flag.name, color=flag.color, description=flag.spec.description,
            count=int(mask.sum()), share=float(mask.mean()) if len(mask) else 0.0,
            spend_share=float(flagged["total_spending"].sum() / total_spend),
            by_persona=by_persona, rank_by=flag.spec.rank_by, top=top,
            actions=tuple(flag.spec.actions),
        ))
    return tuple(sections)


def headlines(rows: tuple[PersonaRow, ...], flags: tuple[FlagSection, ...],
              notes: DataNotes) -> tuple[str, ...]:
    """Three to five sentences a manager can repeat in a meeting."""
    if not rows:
        return ()
    by_spend = sorted(rows, key=lambda r: -r.spend_share)
    top = by_spend[0]
    sentences = [
        f"{top.name} customers are {top.share:.0%} of the base and {top.spend_share:.0%} of spend."
    ]
    lowest = min(rows, key=lambda r: r.spend_share / max(r.share, 1e-9))
    if lowest is not top:
        sentences.append(
            f"{lowest.name} customers are {lowest.share:.0%} of the base but only "
            f"{lowest.spend_share:.0%} of spend."
        )
    largest = max(rows, key=lambda r: r.size)
    if largest not in (top, lowest):
        sentences.append(f"The largest group is {largest.name}: {customers(largest.size)}.")
    for flag in flags:
        sentences.append(_flag_sentence(flag, top.name))
    repaired, excluded = notes.count("repair"), notes.count("exclusion")
    sentences.append(
        f"{customers(notes.rows_read)} analysed; {repaired:,} values repaired and "
        f"{customers(excluded)} left out of fitting (see data notes)."
    )
    return tuple(sentences)


def _flag_sentence(flag: FlagSection, valuable: str) -> str:
    sentence = f"{customers(flag.count)} flagged as {flag.name}"
    in_valuable = dict(flag.by_persona).get(valuable, 0)
    if in_valuable and flag.count:
        sentence += f", {in_valuable:,} of them {valuable}"
    return sentence + "."


def _k_rows(segmentation: Segmentation) -> tuple[KRow, ...]:
    choice = segmentation.k_choice
    return tuple(
        KRow(k, inertia, silhouette, k == choice.chosen_k)
        for k, inertia, silhouette in zip(choice.ks, choice.inertias, choice.silhouettes,
                                          strict=True)
    )


def _scatter(inputs: BriefInputs, rows: tuple[PersonaRow, ...]) -> str:
    coordinates = inputs.segmentation.pca_coordinates
    names = inputs.assignment.customer_persona
    rng = np.random.default_rng(inputs.seed)
    keep = np.arange(len(names))
    if len(keep) > inputs.scatter_points:
        keep = np.sort(rng.choice(len(names), size=inputs.scatter_points, replace=False))
    groups = [
        charts.ScatterGroup(row.name, row.color, coordinates[keep][names[keep] == row.name])
        for row in rows
    ]
    variance = inputs.segmentation.explained_variance
    explained = (variance[0], variance[1] if len(variance) > 1 else 0.0)
    return charts.pca_scatter(groups, explained)
