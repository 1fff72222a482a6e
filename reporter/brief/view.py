"""Brief: the view model the templates format. Every number and sentence a reader sees is
decided here, once, so the HTML, the PDF and (later) the email body say the same thing and the
templates only format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np

from reporter import untrusted
from reporter.brief import charts
from reporter.brief.followup import FollowupView, followup_view
from reporter.brief.lifetime import LifetimeView, lifetime_view
from reporter.brief.propensity import PropensityView, propensity_view
from reporter.brief.rule_edits import rule_edit_lines
from reporter.brief.this_week import ThisWeek, this_week
from reporter.data.clean import DataNotes, customers
from reporter.data.features import (
    CAMPAIGN_FEATURES,
    CATEGORY_FEATURES,
    CATEGORY_SHARES,
    CHANNEL_FEATURES,
    CHANNEL_SHARES,
    OVER_PERIOD,
    REGISTRY,
    FeatureTable,
)
from reporter.errors import ArchiveError
from reporter.history.graded import FollowupRecord
from reporter.history.measure import Measured
from reporter.history.record import ListEffect
from reporter.history.weekly import WeekOverWeek, newly_flagged_file
from reporter.model.drift import DriftRow
from reporter.model.lifecycle import ModelDecision
from reporter.personas.control import NEXT_CAMPAIGN_LIST, ControlGroups
from reporter.personas.exports import flag_file
from reporter.personas.figures import CustomerFigures
from reporter.personas.rulebook import (
    CloseCall,
    ConditionCheck,
    PersonaAssignment,
    Rulebook,
    RuleChange,
    SegmentVerdict,
)
from reporter.plain import to_plain
from reporter.predict.lifetime import Lifetime
from reporter.predict.propensity import Propensity
from reporter.segmentation.assess import Assessment, EngineScore, Stability
from reporter.segmentation.kselect import KChoice, Silhouette
from reporter.segmentation.profile import GroupProfile, Profiles
from reporter.segmentation.result import Component, Segmentation

TABLE_FEATURES = ("income", "total_spending", "recency", "total_purchases")
CARD_FEATURES = ("income", "total_spending", "total_purchases", "recency", "web_visits", "deal_share")
CATEGORY_LABELS = ("Wine", "Fruit", "Meat", "Fish", "Sweets", "Gold")
CHANNEL_LABELS = ("Web", "Catalog", "Store")
CAMPAIGN_CARD = ("responded", "accepted_campaigns", "complained")  # on a card, when present
MATERIAL_DIFFERENCE = 1.25  # segments of one persona this far apart on spend or income are shown
TIE_POINTS = 0.015  # shares this close are named together, not as one winner


@dataclass(frozen=True)
class Units:
    """What every figure is counted in: the currency and the period the spend columns cover."""

    currency: str = "$"
    spend_period: str = "last 2 years"

    def label(self, name: str) -> str:
        """'Total spend (last 2 years)': a registry label with the period it covers."""
        label = REGISTRY[name].label
        return f"{label} ({self.spend_period})" if name in OVER_PERIOD else label

    def quantity(self, name: str, value: float) -> str:
        """A metric's value in its unit: $1,417, 62 days, 47%, 19.1."""
        unit = REGISTRY[name].unit if name in REGISTRY else "ratio"
        if unit == "money":
            return f"{self.currency}{value:,.0f}"
        if unit == "ratio":
            return f"{value:.0%}"
        if unit == "days":
            return f"{value:,.0f} days"
        return f"{value:,.1f}"


@dataclass(frozen=True)
class SegmentLine:
    """One segment of a persona that merges segments which differ materially."""

    cluster: int
    size: int
    figures: dict[str, float]  # TABLE_FEATURES
    summary: str


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
    card_figures: dict[str, float]  # persona means of CARD_FEATURES
    change_points: float | None  # share change since the previous run, in percentage points
    traits: tuple[str, ...]
    summary: str
    actions: tuple[str, ...]
    reasons: tuple[str, ...]  # "Segments 1, 2: no persona rule matched", one line per reason
    segment_lines: tuple[SegmentLine, ...] = ()  # its segments, when they differ materially
    campaign: dict[str, float] = field(default_factory=dict)  # CAMPAIGN_CARD means present
    renamed_from: str = ""  # its name in the last brief, when personas.yaml renamed it since


@dataclass(frozen=True)
class FlaggedCustomer:
    customer_id: int
    persona: str
    figures: dict[str, float]  # TABLE_FEATURES plus the ranking metric
    new: bool = False  # flagged this week, not in the baseline run
    other_ids: str = ""  # the same person under other IDs in the export


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
    top: tuple[FlaggedCustomer, ...]  # newly flagged first, then by rank_by
    actions: tuple[str, ...]
    new_count: int | None = None  # flagged now and not in the baseline run; None without one
    new_file: str = ""  # where the archive lists them
    list_file: str = ""  # every flagged customer to contact, in call-list order (e.g. churn_risk.csv)
    held_back: int = 0  # of `count`, in the list's control group: not in list_file nor `top`
    held_by_persona: tuple[tuple[str, int], ...] = ()  # of `held_back`, per segment persona

    @property
    def to_contact(self) -> int:
        """The customers list_file holds: the flagged ones less the control group."""
        return self.count - self.held_back


@dataclass(frozen=True)
class KRow:
    k: int
    inertia: float
    silhouette: float
    silhouette_spread: float
    calinski_harabasz: float
    davies_bouldin: float
    chosen: bool
    elbow: bool


@dataclass(frozen=True)
class SegmentRow:
    cluster: int
    size: int
    share: float
    persona: str
    color: str
    summary: str
    near_misses: tuple[str, ...] = ()  # "missed Premium by 1.7% on income"
    close_calls: tuple[str, ...] = ()  # names decided within rules.keep_margin of a bar


@dataclass(frozen=True)
class ModelAppendix:
    """The evidence an analyst signs off: why this k, how stable, how other methods agree."""

    algorithm: str
    k: int
    silhouette: float
    silhouette_note: str
    k_reason: str
    k_search_note: str
    k_rows: tuple[KRow, ...]
    stability: Stability | None
    stability_sentence: str
    engines: tuple[EngineScore, ...]
    components: tuple[Component, ...]
    explained_variance: float
    segments: tuple[SegmentRow, ...]
    method: tuple[str, ...]
    decision: str  # how this week's segments were made, in one sentence
    held: bool  # a refit fell short and the previous model was kept
    drift: tuple[DriftRow, ...]
    drift_thresholds: tuple[float, float]  # watch, refit
    notes: tuple[str, ...]  # alignment and rule changes worth an analyst's eye
    rule_change: RuleChange | None = None  # who personas.yaml renamed since the saved model's run


@dataclass(frozen=True)
class ChangesView:
    """Since the previous run of the same source: by persona and customer ID."""

    previous_run_id: str
    previous_as_of: str
    personas: tuple[tuple[str, int, float, int, float], ...]
    order: tuple[str, ...]
    matrix: dict[str, dict[str, int]]
    new_customers: int
    gone_customers: int
    slipped_count: int
    slipped_top: tuple[tuple[int, str, str, float], ...]  # ID, was, now, total spend
    renamed: dict[str, str] = field(default_factory=dict)  # new name -> its name in the last brief
    successors: dict[str, str] = field(default_factory=dict)  # the same, renamed with its rule changed

    @property
    def was(self) -> dict[str, str]:
        """The name each row had in the last brief, where personas.yaml changed it."""
        return {**self.successors, **self.renamed}


@dataclass(frozen=True)
class ControlView:
    """The brief's line per call list: how many are held back, in which campaign window."""

    window: str  # '1 Jun 2014 to 28 Jun 2014'
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Brief:
    title: str
    run_id: str
    run_date: datetime
    data_file: str
    data_sha256: str
    as_of: date
    customers: int
    headlines: tuple[str, ...]
    personas: tuple[PersonaRow, ...]
    absent_personas: tuple[str, ...]
    flags: tuple[FlagSection, ...]
    population: dict[str, float]
    notes: DataNotes
    changes: ChangesView | None
    model: ModelAppendix
    scatter: charts.PointChart  # customers on the two main PCA components
    spend_mix: charts.MixChart
    channel_mix: charts.MixChart
    income_spend: charts.PointChart
    baseline: str = ""  # which earlier brief this one is compared with, and why that one
    warnings: tuple[str, ...] = ()  # pre-send checks set to warn that failed: shown as a banner
    units: Units = field(default_factory=Units)
    stability_line: tuple[str, str] = ("", "")  # page 1's stability figure and its words
    campaigns: charts.RateChart | None = None  # campaign answers and complaints by persona
    appendix: str = "attach"  # where the analyst's appendix goes: attach, separate or omit
    rule_edits: tuple[str, ...] = ()  # page 1: what an edit of personas.yaml did to the names
    propensity: PropensityView | None = None  # who answers the next campaign (brief/propensity.py)
    this_week: ThisWeek = field(default_factory=ThisWeek)  # page 1's actions and first calls
    followup: FollowupView | None = None  # earlier briefs' predictions graded (brief/followup.py)
    lifetime: LifetimeView | None = None  # value at risk per persona (brief/lifetime.py)
    control: ControlView | None = None  # each call list's control group (None: none drawn)
    measured: tuple[ListEffect, ...] = ()  # what the lists of earlier briefs did
    measure_notes: tuple[str, ...] = ()  # earlier lists that could not be measured, and why


@dataclass(frozen=True)
class BriefInputs:
    """What the pipeline computed, gathered for the brief."""

    title: str
    run_id: str
    run_date: datetime
    data_file: str
    data_sha256: str
    table: FeatureTable  # every customer (local engine), or the fitting sample (Spark): its columns
    figures: CustomerFigures  # what is counted over every customer, whichever engine holds them
    notes: DataNotes
    segmentation: Segmentation
    assessment: Assessment
    cluster_profiles: Profiles
    persona_profiles: Profiles
    assignment: PersonaAssignment
    rulebook: Rulebook
    action_list_size: int = 10
    changes: WeekOverWeek | None = None
    decision: ModelDecision | None = None
    drift_thresholds: tuple[float, float] = (0.10, 0.25)
    baseline: str = ""
    units: Units = field(default_factory=Units)
    appendix: str = "attach"
    engine: str = ""  # how the engine worked, when not on this machine alone (the method says it)
    propensity: Propensity | None = None  # the predict stage's answer (None: not run)
    # (IDs, personas) of the customers propensity.p_response scores when they are not the
    # table's (engine: spark scores every customer, its table is the fitting sample)
    propensity_customers: tuple[np.ndarray, np.ndarray] | None = None
    followup: FollowupRecord | None = None  # earlier briefs graded (None: not graded this week)
    lifetime: Lifetime | None = None  # alive probability and value (None: not run)
    control: ControlGroups | None = None  # the control groups the call lists hold back
    measured: Measured = field(default_factory=Measured)  # what earlier briefs' lists did


BRIEF_FILE = "brief.json"


def write_brief(brief: Brief, path: Path) -> None:
    """brief.json: the view as numbers and words, so `reporter rerender` can draw the brief
    again with newer templates without recomputing anything."""
    path.write_text(json.dumps(to_plain(brief)) + "\n", encoding="utf-8")


MAX_BRIEF_BYTES = 64 * 1024 * 1024
BRIEF_CHECKS = {  # what reaches CSS or a branch of the renderer, by field name at any depth
    "color": untrusted.colour,
    "DataNote.kind": untrusted.one_of("repair", "exclusion", "duplicate", "info"),  # a class name
    "appendix": untrusted.one_of("attach", "separate", "omit"),
}


def read_brief(folder: Path) -> Brief:
    """brief.json read back as untrusted input: a value of the wrong type or shape (a colour
    that is not #rrggbb could carry CSS into the PDF) is refused, naming the file and field."""
    path = folder / BRIEF_FILE
    if not path.is_file():
        raise ArchiveError(f"{folder}: no {BRIEF_FILE} (the run was archived by a version before "
                           "0.2), so it cannot be re-rendered; its brief.html and brief.pdf stand")
    hint = ("not as reporter writes it (edited or planted), so it is not used; the run's "
            "brief.html and brief.pdf stand")
    document = untrusted.read_json(path, MAX_BRIEF_BYTES, hint)
    return untrusted.read_record(Brief, document, path, BRIEF_CHECKS, hint)


def build_brief(inputs: BriefInputs) -> Brief:
    best = _best_responder(inputs)
    rows = _persona_rows(inputs, best)
    flags = _flag_sections(inputs)
    changes = _changes(inputs)
    return Brief(
        title=inputs.title,
        run_id=inputs.run_id,
        run_date=inputs.run_date,
        data_file=inputs.data_file,
        data_sha256=inputs.data_sha256,
        as_of=inputs.table.as_of,
        customers=inputs.figures.customers,
        headlines=(headlines(rows, flags, inputs.notes) + _campaign_headline(inputs, best)
                   + _change_headline(inputs.changes) + _rules_headline(inputs.decision)
                   + naming_headlines(inputs.assignment, inputs.rulebook, inputs.units,
                                      rules_edited=_rules_headline(inputs.decision) != ())),
        personas=rows,
        absent_personas=inputs.assignment.absent,
        flags=flags,
        population=inputs.persona_profiles.population_means,
        notes=inputs.notes,
        changes=changes,
        model=_model_appendix(inputs),
        scatter=_scatter(inputs, rows),
        spend_mix=_mix_chart(inputs, rows, _parts(inputs, CATEGORY_SHARES, CATEGORY_FEATURES),
                             CATEGORY_LABELS, "spend", "spendmix"),
        channel_mix=_mix_chart(inputs, rows, _parts(inputs, CHANNEL_SHARES, CHANNEL_FEATURES),
                               CHANNEL_LABELS, "purchases", "channelmix"),
        income_spend=_income_spend(inputs, rows),
        baseline=inputs.baseline,
        units=inputs.units,
        stability_line=_stability_line(inputs.assessment.stability),
        campaigns=_campaign_chart(inputs, rows, best),
        appendix=inputs.appendix,
        rule_edits=rule_edit_lines(inputs.decision.rule_change if inputs.decision else None),
        propensity=propensity_view(inputs.propensity, *_propensity_customers(inputs), inputs.rulebook,
                                   inputs.action_list_size,
                                   inputs.control.held.get(NEXT_CAMPAIGN_LIST) if inputs.control else None),
        this_week=_this_week(inputs, rows, flags, changes),
        followup=followup_view(inputs.followup),
        lifetime=lifetime_view(inputs.lifetime, inputs.table, inputs.assignment, inputs.rulebook),
        control=_control_view(inputs.control),
        measured=inputs.measured.effects,
        measure_notes=inputs.measured.notes,
    )


def _propensity_customers(inputs: BriefInputs) -> tuple[np.ndarray, np.ndarray]:
    if inputs.propensity_customers is not None:
        return inputs.propensity_customers
    return inputs.table.frame["ID"].to_numpy(), inputs.assignment.customer_persona


def _control_view(groups: ControlGroups | None) -> ControlView | None:
    if groups is None:
        return None
    return ControlView(groups.window.label, tuple(g.sentence for g in groups.lists))


def _this_week(inputs: BriefInputs, rows: tuple[PersonaRow, ...], flags: tuple[FlagSection, ...],
               changes: ChangesView | None) -> ThisWeek:
    """Page 1's 'This week, do this', from the counts the brief already holds."""
    new_by_persona = {}
    if inputs.changes is not None:
        new_by_persona = {name: {str(p): int(n) for p, n in frame["persona"].value_counts().items()}
                          for name, frame in inputs.changes.newly_flagged.items()
                          if "persona" in frame}
    return this_week(rows, flags, changes, new_by_persona, inputs.units, TABLE_FEATURES)


def _persona_rows(inputs: BriefInputs, best: str) -> tuple[PersonaRow, ...]:
    """`best`: the persona that answered the last campaign best, whose card says so."""
    profiles = inputs.persona_profiles.by_key()
    assignment = inputs.assignment
    rows = []
    for persona in inputs.rulebook.personas:
        if persona.name not in assignment.present:
            continue
        clusters = tuple(sorted(c for c, p in assignment.cluster_persona.items()
                                if p == persona.name))
        group: GroupProfile = profiles[persona.name]
        fallback = persona.mode == "fallback"
        actions = (*persona.spec.actions, *((_best_responder_action(inputs, best),)
                                            if persona.name == best else ()))
        rows.append(PersonaRow(
            name=persona.name,
            color=persona.color,
            description=_fallback_description(group) if fallback else persona.spec.description,
            clusters=clusters,
            size=group.size,
            share=group.share,
            spend_share=group.spend_share,
            figures={f: group.means[f] for f in TABLE_FEATURES},
            lifts={f: group.lifts[f] for f in CARD_FEATURES},
            card_figures={f: group.means[f] for f in CARD_FEATURES},
            change_points=_share_change(inputs.changes, persona.name),
            traits=group.traits,
            summary=group.summary,
            actions=tuple(actions),
            reasons=_reasons(clusters, assignment.verdicts, inputs.units),
            segment_lines=_segment_lines(clusters, inputs.cluster_profiles),
            campaign={f: group.means[f] for f in CAMPAIGN_CARD if f in group.means},
            renamed_from=_renamed_from(inputs.changes, persona.name),
        ))
    return tuple(rows)


def _fallback_description(group: GroupProfile) -> str:
    """The fallback names what no rule describes, so its words come from its own numbers."""
    traits = ", ".join(group.traits)
    return f"The customers no other persona's rules describe; compared with all customers: {traits}."


def _reasons(clusters: tuple[int, ...], verdicts: dict[int, SegmentVerdict],
             units: Units) -> tuple[str, ...]:
    """Why each segment got this persona, segments with the same reason on one line."""
    by_reason: dict[str, list[int]] = {}
    for cluster in clusters:
        verdict = verdicts.get(cluster)
        attempt = verdict.matched if verdict is not None else None
        text = ("kept from the saved model" if verdict is None
                else "no persona rule matched" if attempt is None
                else "; ".join(_check_text(c, units) for c in attempt.checks if c.holds))
        by_reason.setdefault(text, []).append(cluster)
    return tuple(f"Segment{'s' if len(members) > 1 else ''} {', '.join(map(str, members))}: {text}"
                 for text, members in by_reason.items())


def _check_text(check: ConditionCheck, units: Units) -> str:
    if check.metric not in REGISTRY:
        return f"{check.text} ({check.observed:.0%}; bar: {check.threshold:.0%})"
    return (f"{check.text} ({units.quantity(check.metric, check.observed)}; bar: "
            f"{units.quantity(check.metric, check.threshold)})")


def _segment_lines(clusters: tuple[int, ...], profiles: Profiles) -> tuple[SegmentLine, ...]:
    """A persona's segments, when they differ by more than a quarter on spend or income: one
    card must not average a big spender and a small one into a customer who does not exist."""
    if len(clusters) < 2:
        return ()
    groups = profiles.by_key()
    members = [groups[str(c)] for c in clusters if str(c) in groups]
    for metric in ("total_spending", "income"):
        values = [g.means[metric] for g in members]
        if min(values) > 0 and max(values) / min(values) > MATERIAL_DIFFERENCE:
            return tuple(SegmentLine(int(g.key), g.size, {f: g.means[f] for f in TABLE_FEATURES},
                                     g.summary) for g in members)
    return ()


def _best_responder(inputs: BriefInputs) -> str:
    """The segment persona that answered the last campaign best, when one clearly did."""
    profiles = inputs.persona_profiles
    rates = {g.key: g.means["responded"] for g in profiles.groups
             if g.key in inputs.assignment.present}
    if len(rates) < 2:
        return ""
    best = max(rates, key=rates.get)
    overall = profiles.population_means["responded"]
    return best if rates[best] >= overall * MATERIAL_DIFFERENCE and rates[best] > 0 else ""


def _answered(inputs: BriefInputs, name: str) -> str:
    """'28% accepted, against 15% of all customers'."""
    rate = inputs.persona_profiles.by_key()[name].means["responded"]
    overall = inputs.persona_profiles.population_means["responded"]
    return f"{rate:.0%} accepted, against {overall:.0%} of all customers"


def _best_responder_action(inputs: BriefInputs, name: str) -> str:
    return f"Answered the last campaign best ({_answered(inputs, name)}): first in line for the next one."


def _campaign_headline(inputs: BriefInputs, best: str) -> tuple[str, ...]:
    return (f"{best} answered the last campaign best: {_answered(inputs, best)}.",) if best else ()


def _campaign_chart(inputs: BriefInputs, rows: tuple[PersonaRow, ...],
                    best: str) -> charts.RateChart | None:
    """Each persona's answer to every campaign the export records, and its complaint rate."""
    if not rows:
        return None
    profiles = inputs.persona_profiles.by_key()
    parts = [f for f in (*CAMPAIGN_FEATURES, "responded", "complained") if f in inputs.table.frame]
    labels = tuple("Last\ncampaign" if f == "responded" else "Complained" if f == "complained"
                   else f"Campaign\n{f[-1]}" for f in parts)
    bars = tuple(charts.Rates(r.name, r.color, tuple(profiles[r.name].means[f] for f in parts))
                 for r in rows)
    title = (f"{best} answered the last campaign best" if best
             else "Campaign answers and complaints by persona")
    population = tuple(inputs.persona_profiles.population_means[f] for f in parts)
    return charts.RateChart(bars, labels, title, population)


def _stability_line(stability: Stability | None) -> tuple[str, str]:
    """Page 1's stability box: a figure a manager can repeat, the ARI stays in the appendix."""
    if stability is None:
        return "–", "group stability not checked"
    if stability.kept_share:
        kept = round(stability.kept_share * 100)
        return (f"{kept} of 100", "customers keep their group when the groups are refitted on "
                "other samples")
    words = {"stable": "steady", "moderately stable": "fairly steady"}
    return (words.get(stability.verdict, "unsteady"), "groups when refitted on other samples")


def _flag_sections(inputs: BriefInputs) -> tuple[FlagSection, ...]:
    counts = {count.name: count for count in inputs.figures.flags}
    sections = []
    for flag in inputs.rulebook.flags:
        count = counts[flag.name]
        new_ids = _newly_flagged_ids(inputs.changes, flag.name)
        shown = tuple(dict.fromkeys((*TABLE_FEATURES, flag.spec.rank_by)))
        top = tuple(FlaggedCustomer(int(row["ID"]), str(row["persona"]),
                                    {name: float(row[name]) for name in shown}, bool(row["new"]),
                                    str(row["other_ids"]))
                    for _, row in count.top.iterrows())
        sections.append(FlagSection(
            name=flag.name, color=flag.color, description=flag.spec.description,
            count=count.count, share=count.share, spend_share=count.spend_share,
            by_persona=count.by_persona, rank_by=flag.spec.rank_by, top=top,
            actions=tuple(flag.spec.actions),
            new_count=len(new_ids) if new_ids is not None else None,
            new_file=newly_flagged_file(flag.name),
            list_file=flag_file(flag.name),
            held_back=count.held_back, held_by_persona=count.held_by_persona,
        ))
    return tuple(sections)


def _newly_flagged_ids(change: WeekOverWeek | None, flag: str) -> set[int] | None:
    if change is None or flag not in change.newly_flagged:
        return None
    return {int(i) for i in change.newly_flagged[flag]["ID"]}


def headlines(rows: tuple[PersonaRow, ...], flags: tuple[FlagSection, ...],
              notes: DataNotes) -> tuple[str, ...]:
    """Three to five sentences a manager can repeat in a meeting."""
    if not rows:
        return ()
    by_spend = sorted(rows, key=lambda r: -r.spend_share)
    top = by_spend[0]
    sentences = [f"{top.name}: {top.share:.0%} of customers and {top.spend_share:.0%} of spend."]
    lowest = min(rows, key=lambda r: r.spend_share / max(r.share, 1e-9))
    if lowest is not top:
        sentences.append(f"{lowest.name}: {lowest.share:.0%} of customers but only "
                         f"{lowest.spend_share:.0%} of spend.")
    largest = max(rows, key=lambda r: r.size)
    if largest not in (top, lowest):
        sentences.append(f"The largest group is {largest.name}: {customers(largest.size)}.")
    for flag in flags:
        sentences.append(_flag_sentence(flag, top.name))
    sentences.append(_data_sentence(notes))
    return tuple(sentences)


def _data_sentence(notes: DataNotes) -> str:
    repaired, excluded = notes.count("repair"), notes.count("exclusion")
    merged = notes.count("duplicate")
    read = (f" ({notes.rows_read:,} rows; {merged:,} duplicate rows counted once)" if merged
            else "")
    return (f"{customers(notes.rows_kept)} in this brief{read}; {repaired:,} values repaired and "
            f"{customers(excluded)} left out of fitting (see data notes).")


def _changes(inputs: BriefInputs) -> ChangesView | None:
    change = inputs.changes
    if change is None:
        return None
    top = tuple((int(r.ID), str(r.was), str(r.now), float(r.total_spending))
                for r in change.slipped.head(inputs.action_list_size).itertuples())
    return ChangesView(change.previous_run_id, change.previous_as_of, change.personas, change.order,
                       change.matrix, change.new_customers, change.gone_customers,
                       change.slipped_count, top, dict(change.renamed), dict(change.successors))


def _rules_headline(decision: ModelDecision | None) -> tuple[str, ...]:
    change = decision.rule_change if decision is not None else None
    return (change.sentence,) if change is not None else ()


def naming_headlines(assignment: PersonaAssignment, rulebook: Rulebook, units: Units,
                     rules_edited: bool = False) -> tuple[str, ...]:
    """Page 1's word on each segment that changed persona when named afresh, and why:
    "Segment 1 is now Premium: its total spend, $1,065, cleared Premium's bar, $1,063, by 0.2%".
    In a week the rules were edited, the edit's own block says where customers went, so only
    the close calls (decided within the margin) are added here, and so is each segment that
    kept its name against the edited rules: "0 customers now named differently" after a
    threshold was put back gave no reason."""
    names = tuple(p.name for p in rulebook.personas)
    changed = tuple(close_call_sentence(verdict.why, units) for verdict in assignment.renamed_segments(names)
                    if verdict.why is not None
                    and (not rules_edited or verdict.why.check.gap <= verdict.why.margin))
    return changed + (_kept_names(assignment, units) if rules_edited else ())


def _kept_names(assignment: PersonaAssignment, units: Units) -> tuple[str, ...]:
    """The segments that kept last week's persona only by the margin, with the bar that was
    that close."""
    kept = (verdict.kept_by for _, verdict in sorted(assignment.verdicts.items()))
    return tuple(close_call_sentence(call, units) for call in kept if call is not None)


def close_call_sentence(call: CloseCall, units: Units) -> str:
    """A close call (or the reason of a change of name) in plain words, figures in their units."""
    check = call.check
    what = REGISTRY[check.metric].label.lower() if check.metric in REGISTRY else check.metric
    figure = _quantity(check.metric, check.observed, units)
    bar = _quantity(check.metric, check.threshold, units)
    verb = "cleared" if check.holds else "missed"
    by = f"{check.gap:.1%}" if check.gap >= 0.001 else f"{check.gap:.2%}"
    owner = f"{call.bar}'" if call.bar.endswith("s") else f"{call.bar}'s"
    measured = f"its {what}, {figure}, {verb} {owner} bar, {bar}, by {by}"
    if call.changed:
        return f"Segment {call.cluster} is now {call.named}: {measured}."
    if call.previous and call.named == call.previous:
        return (f"Segment {call.cluster} stays {call.named}: {measured}, within the "
                f"{call.margin:.0%} margin that keeps a name.")
    return f"Segment {call.cluster} is {call.named}, a close call: {measured}."


def _quantity(metric: str, value: float, units: Units) -> str:
    """Shares of a segment and ratios to two places, so a close call shows its difference."""
    if metric in REGISTRY and REGISTRY[metric].unit != "ratio":
        return units.quantity(metric, value)
    return f"{value:.1%}"


def _change_headline(change: WeekOverWeek | None) -> tuple[str, ...]:
    if change is None:
        return ()
    return (f"Since the brief of {change.previous_as_of}: {customers(change.slipped_count)} "
            f"slipped from a valuable persona; {change.new_customers:,} new customers, "
            f"{change.gone_customers:,} gone.",)


def _flag_sentence(flag: FlagSection, valuable: str) -> str:
    sentence = f"{customers(flag.count)} flagged as {flag.name}"
    in_valuable = dict(flag.by_persona).get(valuable, 0)
    if in_valuable and flag.count:
        sentence += f", {in_valuable:,} of them {valuable}"
    return sentence + "."


def _model_appendix(inputs: BriefInputs) -> ModelAppendix:
    segmentation = inputs.segmentation
    choice = segmentation.k_choice
    stability = inputs.assessment.stability
    return ModelAppendix(
        algorithm=segmentation.algorithm,
        k=segmentation.k,
        silhouette=segmentation.silhouette.mean,
        silhouette_note=_silhouette_note(segmentation.silhouette, inputs.notes.rows_in_fit),
        k_reason=choice.reason,
        k_search_note=(f"on a random sample of {choice.rows_searched:,} of the "
                       f"{choice.rows_total:,} customers" if choice.sampled
                       else f"on all {choice.rows_total:,} customers used for fitting"),
        k_rows=_k_rows(choice),
        stability=stability,
        stability_sentence=_stability_sentence(stability, inputs.decision),
        engines=inputs.assessment.engines,
        components=segmentation.components,
        explained_variance=float(sum(segmentation.explained_variance)),
        segments=_segment_rows(inputs),
        method=_method(inputs),
        **_decision_view(inputs.decision),
        drift_thresholds=inputs.drift_thresholds,
    )


def _decision_view(decision: ModelDecision | None) -> dict:
    if decision is None:
        return {"decision": "", "held": False, "drift": (), "notes": (), "rule_change": None}
    notes = list(decision.rule_changes)
    if decision.alignment is not None:
        notes.extend(f"Old segment {old} continues as segment {new} ({kept:.0%} of its customers "
                     "stayed together)." for old, new, kept in decision.alignment.kept)
        if decision.warm_started:
            notes.append("The refit started from the previous segments' centres.")
    return {"decision": decision.sentence, "held": decision.held,
            "drift": decision.drift.rows if decision.drift else (), "notes": tuple(notes),
            "rule_change": decision.rule_change}


def _silhouette_note(value: Silhouette, rows: int) -> str:
    if value.sample_size is None:
        return f"exact, on all {rows:,} customers used for fitting"
    return (f"mean of {value.repeats} random samples of {value.sample_size:,} customers "
            f"(spread ±{value.spread:.3f})")


def _stability_sentence(stability: Stability | None, decision: ModelDecision | None) -> str:
    if stability is None:
        return "Stability was not checked (stability.resamples is 0)."
    when = ("" if decision is None or decision.action in ("fitted", "refitted")
            else f"When the model was fitted on {decision.fitted_on:%d %b %Y}: ")
    return (f"{when}The segments are {stability.verdict}: refitted on {stability.resamples} random "
            f"subsamples of {stability.rows_per_resample:,} customers, they agree with the "
            f"fitted segments with an adjusted Rand index of {stability.mean_ari:.2f} on average "
            f"and {stability.worst_ari:.2f} at worst (1 = identical)"
            + (f"; {stability.kept_share:.0%} of customers keep their segment on average."
               if stability.kept_share else "."))


def _k_rows(choice: KChoice) -> tuple[KRow, ...]:
    return tuple(
        KRow(d.k, d.inertia, d.silhouette.mean, d.silhouette.spread, d.calinski_harabasz,
             d.davies_bouldin, d.k == choice.chosen_k, d.k == choice.elbow_k)
        for d in choice.diagnostics
    )


def _segment_rows(inputs: BriefInputs) -> tuple[SegmentRow, ...]:
    colours = {p.name: p.color for p in inputs.rulebook.personas}
    persona_of = inputs.assignment.cluster_persona
    verdicts = inputs.assignment.verdicts
    return tuple(
        SegmentRow(int(g.key), g.size, g.share, persona_of[int(g.key)],
                   colours[persona_of[int(g.key)]], g.summary,
                   tuple(m.sentence for m in verdicts[int(g.key)].near_misses)
                   if int(g.key) in verdicts else (),
                   tuple(close_call_sentence(c, inputs.units) for c in verdicts[int(g.key)].close_calls)
                   if int(g.key) in verdicts else ())
        for g in sorted(inputs.cluster_profiles.groups, key=lambda g: int(g.key))
    )


def _method(inputs: BriefInputs) -> tuple[str, ...]:
    segmentation = inputs.segmentation
    features = len(segmentation.scorer.pca_mean)
    engine_names = {"kmeans": "KMeans", "agglomerative": "agglomerative clustering (Ward)",
                    "gmm": "a Gaussian mixture"}
    return (
        f"{features} customer features, extreme values clipped to the 0.5th–99.5th percentiles, "
        "scaled to mean 0 and standard deviation 1.",
        f"PCA kept {len(segmentation.components)} components explaining "
        f"{sum(segmentation.explained_variance):.0%} of the variance.",
        f"k tried from {min(segmentation.k_choice.ks)} to {max(segmentation.k_choice.ks)}; "
        f"k={segmentation.k} chosen by the elbow of inertia checked against the silhouette.",
        f"Segments made by {engine_names[segmentation.algorithm]} on the customers used for "
        "fitting; every customer is then assigned to a segment.",
        "Segments are named by the rules in personas.yaml; customer flags test each customer.",
        *((inputs.engine,) if inputs.engine else ()),
    )


def _renamed_from(change: WeekOverWeek | None, name: str) -> str:
    return change.renamed.get(name, "") if change is not None else ""


def _share_change(change: WeekOverWeek | None, name: str) -> float | None:
    """Points of share since the last brief; None without one, or for a renamed persona (its
    customers did not move: the table says "renamed" instead)."""
    if change is None or name in change.renamed:
        return None
    for persona, _, before_share, _, now_share in change.personas:
        if persona == name:
            return (now_share - before_share) * 100
    return None


def _parts(inputs: BriefInputs, shares: tuple[str, ...], amounts: tuple[str, ...]) -> tuple[str, ...]:
    """The split of each persona's average customer (wine_share ...), the very figures persona
    rules test, so a "Wine Lovers" persona is the one the wine chart names; the split of the
    persona's totals for a run archived before the share metrics."""
    means = inputs.persona_profiles.population_means
    return shares if all(name in means for name in shares) else amounts


def _mix_chart(inputs: BriefInputs, rows: tuple[PersonaRow, ...], features: tuple[str, ...],
               labels: tuple[str, ...], what: str, prefix: str) -> charts.MixChart:
    """Each persona's split of spend (or purchases) over parts, titled with the finding."""
    profiles = inputs.persona_profiles.by_key()
    mixes = []
    for row in rows:
        totals = [profiles[row.name].means[f] for f in features]
        whole = sum(totals) or 1.0
        mixes.append(charts.Mix(row.name, tuple(t / whole for t in totals)))
    return charts.MixChart(tuple(mixes), labels, _mix_finding(mixes, labels, what), prefix)


def _mix_finding(mixes: list[charts.Mix], labels: tuple[str, ...], what: str) -> str:
    """'Meat: 38% of Premium spend, the most of any persona' for the part that differs most."""
    spread = [max(m.shares[i] for m in mixes) - min(m.shares[i] for m in mixes)
              for i in range(len(labels))]
    part = int(np.argmax(spread))
    ranked = sorted(mixes, key=lambda m: -m.shares[part])
    leaders = [m for m in ranked if m.shares[part] >= ranked[0].shares[part] - TIE_POINTS]
    if len(leaders) == 1:
        return (f"{labels[part]}: {ranked[0].shares[part]:.0%} of {ranked[0].persona} {what}, "
                f"the most of any persona")
    names = " and ".join(m.persona for m in leaders)
    shares = " and ".join(f"{m.shares[part]:.0%}" for m in leaders)
    return f"{labels[part]}: {names} give it the largest part of their {what}, {shares}"


def _income_spend(inputs: BriefInputs, rows: tuple[PersonaRow, ...]) -> charts.PointChart:
    figures = inputs.figures
    points, names = figures.sample.income_spend, figures.sample.personas
    groups = tuple(charts.ScatterGroup(r.name, r.color, points[names == r.name]) for r in rows)
    limit, correlation = figures.income_limit, figures.income_correlation
    strength = "closely" if correlation >= 0.6 else "loosely" if correlation >= 0.3 else "hardly"
    title = f"Spend follows income {strength} (correlation {correlation:.2f})"
    units = inputs.units
    axes = (f"Income ({units.currency} thousands a year)",
            f"Total spend ({units.currency}, {units.spend_period})")
    return charts.PointChart(groups, axes, title, limit)


def _scatter(inputs: BriefInputs, rows: tuple[PersonaRow, ...]) -> charts.PointChart:
    points, names = inputs.figures.sample.pca, inputs.figures.sample.personas
    groups = tuple(charts.ScatterGroup(row.name, row.color, points[names == row.name]) for row in rows)
    components = inputs.segmentation.components
    axes = (components[0].label, components[1].label if len(components) > 1 else "")
    return charts.PointChart(groups, axes)
