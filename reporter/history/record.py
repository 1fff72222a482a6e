"""run.json: the typed record of a run, with its one writer, its one reader and its format.

Everything a run read, decided and produced, so other tools can read the archive and a brief
can be explained without recomputing it. The record is made from the analysis, not from the
view. Fields are only added within a format version (every field has a default, so the
unversioned first layout still reads); delivery changes it only through `update_record`,
under the folder's lock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from reporter import __version__, untrusted
from reporter.archive import update_json
from reporter.data.clean import DataNote
from reporter.data.load import RawCustomers
from reporter.history.graded import PREDICTIONS, FollowupRecord
from reporter.history.weekly import WeekOverWeek
from reporter.model.lifecycle import Analysis
from reporter.personas.figures import CustomerFigures
from reporter.personas.rulebook import RuleChange
from reporter.plain import to_plain
from reporter.versions import package_versions

RECORD_FILE = "run.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class DataRecord:
    path: str = "?"  # the file read, or the database URL (never with its password)
    source_key: str = ""  # runs compare with earlier runs of the same source
    sha256: str = ""
    modified: str = ""  # the file's modification time, to the second
    rows_read: int = 0
    date_format: str = ""
    extra_columns: tuple[str, ...] = ()
    kind: str = "file"  # file, folder (a dataset), database or spark table
    label: str = ""  # the file name, or 'table customers' / 'query <hash>'
    query_sha256: str = ""  # a database query's hash
    snapshot: str = ""  # the newest value of source.as_of_column read


@dataclass(frozen=True)
class ConfigRecord:
    path: str = ""
    personas_path: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class NotesRecord:
    rows_read: int = 0
    rows_kept: int = 0
    rows_in_fit: int = 0
    notes: tuple[DataNote, ...] = ()


@dataclass(frozen=True)
class DriftFigure:
    psi: float
    verdict: str


@dataclass(frozen=True)
class KeptSegment:
    old: int
    new: int
    share_kept: float


@dataclass(frozen=True)
class AlignmentRecord:
    kept: tuple[KeptSegment, ...] = ()
    new: tuple[int, ...] = ()
    dissolved: tuple[int, ...] = ()


@dataclass(frozen=True)
class ModelRecord:
    action: str = ""  # fitted, scored, refitted or held
    reason: str = ""
    sentence: str = ""
    fitted_on: str = ""
    fitted_in_run: str = ""
    warm_started: bool = False
    drift: dict[str, DriftFigure] | None = None
    alignment: AlignmentRecord | None = None
    rule_changes: tuple[str, ...] = ()
    rule_change: RuleChange | None = None  # personas.yaml changed: who is named differently
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonaFigures:
    customers: int = 0
    share: float = 0.0
    spend_share: float = 0.0
    clusters: tuple[int, ...] = ()
    color: str = ""


@dataclass(frozen=True)
class FlagFigures:
    customers: int = 0
    share: float = 0.0
    by_persona: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeRecord:
    previous_run_id: str
    previous_as_of: str
    new_customers: int
    gone_customers: int
    slipped: int
    transitions: dict[str, dict[str, int]]


@dataclass(frozen=True)
class CheckRecord:
    check: str
    mode: str
    passed: bool
    problem: str = ""


@dataclass(frozen=True)
class ListRecord:
    """One call list's split in a run: its file holds the contacted, control_groups.csv the rest."""

    name: str  # the flag's name, or "Next campaign"
    file: str  # churn_risk.csv, next_campaign.csv
    share: float  # of the list held back
    listed: int
    contacted: int
    control: int


@dataclass(frozen=True)
class ControlRecord:
    window_start: str  # the campaign window the groups were drawn for (ISO dates)
    window_end: str
    file: str = "control_groups.csv"
    lists: tuple[ListRecord, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """One measure of one earlier list: contacted against control customers."""

    measure: str  # bought again, spend change or response
    contacted: int  # customers measured in each group
    control: int
    contacted_value: float  # a share (0-1), or a mean change of spend
    control_value: float
    difference: float
    low: float  # the 95% interval of the difference
    high: float
    method: str  # how the interval was worked out
    enough: bool  # False: the interval is too wide to say ("not enough customers yet")


@dataclass(frozen=True)
class ListEffect:
    """What an earlier brief's list did, measured in this run's customers."""

    run_id: str  # the earlier run
    as_of: str
    name: str
    days: int  # between that run's customers and this run's
    left: int  # of its customers, no longer in this export (not measured)
    comparisons: tuple[Comparison, ...]
    sentence: str


RECEIVED = ("sent", "partly sent", "already sent", "written", "uncertain")  # someone has, or may have, it
NOT_SETTLED = ("failed",)  # due again: the scheduler's catch-up or `reporter send` sends it


@dataclass(frozen=True)
class DeliveryEntry:
    team: str  # a team's name, or "crm: <target>" for a CRM push
    status: str  # sent, partly sent, failed, uncertain, too large, already sent, skipped, written
    recipients: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    error: str = ""
    at: str = ""
    eml: str = ""
    skipped: dict[str, str] = field(default_factory=dict)  # recipient -> why not sent again


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    format_version: int = FORMAT_VERSION
    started_at: str = ""
    reporter_version: str = ""
    data: DataRecord = field(default_factory=DataRecord)
    as_of: str = ""
    config: ConfigRecord = field(default_factory=ConfigRecord)
    data_notes: NotesRecord = field(default_factory=NotesRecord)
    model: ModelRecord | None = None
    algorithm: str = ""
    k: int = 0
    silhouette: float = 0.0
    k_selection: dict[str, Any] = field(default_factory=dict)
    stability: dict[str, Any] | None = None
    comparison: tuple[dict[str, Any], ...] = ()
    pca: tuple[dict[str, Any], ...] = ()
    personas: dict[str, PersonaFigures] = field(default_factory=dict)  # in the brief's order
    personas_absent: tuple[str, ...] = ()
    flags: dict[str, FlagFigures] = field(default_factory=dict)
    headlines: tuple[str, ...] = ()
    timings_seconds: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    exports: tuple[str, ...] = ()
    week_over_week: ChangeRecord | None = None
    status: str = "ready"  # ready, held or released
    held_because: tuple[str, ...] = ()
    released_at: str = ""
    checks: tuple[CheckRecord, ...] = ()
    pdf_sha256: str = ""  # of the brief.pdf the checks read, archived and attached
    dry_run: bool = False  # made with --dry-run: may compare with others, never a baseline
    baseline: str = ""  # the run this one was compared with ("" when none)
    delivery: tuple[DeliveryEntry, ...] = ()
    teams: tuple[str, ...] | None = None  # the teams it is addressed to (None: before this was kept)
    engine: str = "local"  # local or spark (on Spark: data.sha256 hashes rows, not the file)
    followup: FollowupRecord | None = None  # earlier briefs' predictions graded (history/grading.py)
    control: ControlRecord | None = None  # each call list's control group (None: before them)
    measured: tuple[ListEffect, ...] = ()  # what earlier briefs' lists did
    measure_notes: tuple[str, ...] = ()  # earlier runs that could not be measured, and why

    @property
    def held(self) -> bool:
        return self.status == "held"

    def latest_status(self) -> dict[str, str]:
        """Each team's (and CRM target's) latest outcome, except that a failure after the team
        received the brief (a forced copy that failed) does not undo it: it made a delivered
        run unsettled, so the next run no longer compared with it and the API stopped serving it."""
        latest: dict[str, str] = {}
        for entry in self.delivery:
            if not (entry.status in NOT_SETTLED and latest.get(entry.team) in RECEIVED):
                latest[entry.team] = entry.status
        return latest

    def team_status(self) -> dict[str, str]:
        """Each addressed team's delivery status, as latest_status says ("" when it has none yet)."""
        latest = self.latest_status()
        return {team: latest.get(team, "") for team in self.teams or ()}

    @property
    def settled(self) -> bool:
        """Every team it is addressed to has an outcome: sent, written, uncertain, too large or
        skipped; none is missing (a process killed after publishing) or failed (due again)."""
        return all(status and status not in NOT_SETTLED for status in self.team_status().values())

    @property
    def is_baseline(self) -> bool:
        """A run people received: not held (unless released), not a dry run, its deliveries
        settled, and not one nobody received. Only such runs are compared against and served."""
        if self.held or self.dry_run or (self.teams is not None and not self.settled):
            return False
        emails = [entry for entry in self.delivery if not entry.team.startswith("crm: ")]
        return not emails or any(entry.status in RECEIVED for entry in emails)


MAX_RECORD_BYTES = 16 * 1024 * 1024


def _format_version(value: int) -> str | None:
    if 0 < value <= FORMAT_VERSION:
        return None
    return f"{value} is not a format this version reads (1 to {FORMAT_VERSION})"


def _count(value: int) -> str | None:
    return None if value >= 0 else "a negative count"


_DIGEST = untrusted.optional(untrusted.pattern(untrusted.HEX_DIGEST, "a sha256 (64 hex digits)"))
RECORD_CHECKS = {  # by Record.field, or by field name at any depth of the record
    "run_id": untrusted.pattern(untrusted.RUN_ID, "a run id (HHMMSS-xxxx)"),
    "baseline": untrusted.optional(untrusted.pattern(untrusted.RUN_ID, "a run id (HHMMSS-xxxx)")),
    "format_version": _format_version,
    "sha256": _DIGEST,
    "query_sha256": _DIGEST,
    "pdf_sha256": _DIGEST,
    "DataRecord.kind": untrusted.one_of("file", "folder", "database", "spark table"),
    "DataNote.kind": untrusted.one_of("repair", "exclusion", "duplicate", "info"),
    "RunRecord.status": untrusted.one_of("ready", "held", "released"),
    "DeliveryEntry.status": untrusted.pattern(untrusted.WORDS, "a delivery status"),
    "as_of": untrusted.optional(untrusted.iso_date),
    "started_at": untrusted.optional(untrusted.iso_time),
    "released_at": untrusted.optional(untrusted.iso_time),
    "color": untrusted.optional(untrusted.colour),
    "exports": untrusted.file_names,
    "files": untrusted.file_names,
    "path": lambda v: None if isinstance(v, str) and len(v) <= 4096 else "not a path",
    **{f"CalibrationBin.{name}": untrusted.between(0, 1)
       for name in ("low", "high", "predicted", "observed")},
    "CalibrationBin.customers": untrusted.between(1, untrusted.MAX_INTEGER),
    "GradedPrediction.prediction": untrusted.one_of(*PREDICTIONS),
    "GradedPrediction.brier": lambda v: None if v is None else untrusted.between(0, 1)(v),
    "GradedPrediction.days": untrusted.between(1, 366 * 100),
    "GradedPrediction.customers": untrusted.between(0, untrusted.MAX_INTEGER),
    **{f"FollowupRecord.{name}": untrusted.between(0, 10_000_000)
       for name in ("lookback_weeks", "min_bin", "min_customers")},
    "ListRecord.file": untrusted.pattern(re.compile(r"[a-z0-9_]{1,120}\.csv"), "a list file name"),
    "ControlRecord.file": untrusted.pattern(re.compile(r"[a-z0-9_]{1,120}\.csv"), "a file name"),
    "ListRecord.share": lambda v: None if 0 <= v <= 1 else "not a share between 0 and 1",
    "window_start": untrusted.iso_date,
    "window_end": untrusted.iso_date,
    **{f"{kind}.{name}": _count for kind, names in (("ListRecord", ("listed", "contacted", "control")),
                                                    ("Comparison", ("contacted", "control")),
                                                    ("ListEffect", ("days", "left")))
       for name in names},
}
RECORD_HINT = "it is not as reporter writes it (edited or planted), so this run is not used"


def read_record(folder: Path) -> RunRecord:
    """Any run.json this project has written (format 1, or the unversioned first one), read
    as untrusted input: sized, typed and shaped as written, or refused naming file and field."""
    path = folder / RECORD_FILE
    return record_of(untrusted.read_json(path, MAX_RECORD_BYTES, RECORD_HINT), path)


def record_of(document: Any, path: Path) -> RunRecord:
    """A run.json document as its record, checked (`RECORD_CHECKS`) like every value read back."""
    data = document.get("data", {}) if isinstance(document, dict) else None
    if isinstance(data, dict) and "source_key" not in data:  # the first layout: the data file's folder
        data["source_key"] = str(Path(str(data.get("path", ""))).parent)
    return untrusted.read_record(RunRecord, document, path, RECORD_CHECKS, RECORD_HINT)


def write_record(record: RunRecord, path: Path) -> None:
    """The only writer of a new run.json (inside the run's unpublished folder)."""
    path.write_text(json.dumps(to_plain(record), indent=2) + "\n", encoding="utf-8")


def update_record(folder: Path, change: Callable[[RunRecord], RunRecord]) -> RunRecord:
    """Change a published run's record under the folder's lock: two senders adding deliveries
    never lose each other's entries."""
    changed: list[RunRecord] = []

    def apply(document: dict) -> dict:
        changed.append(change(record_of(document, folder / RECORD_FILE)))
        return to_plain(changed[0])

    update_json(folder / RECORD_FILE, apply)
    return changed[0]


def add_deliveries(folder: Path, entries: list[DeliveryEntry]) -> RunRecord:
    return update_record(folder, lambda record: replace(record, delivery=(*record.delivery, *entries)))


def release_record(folder: Path, at: datetime) -> RunRecord:
    return update_record(folder, lambda record: replace(
        record, status="released", released_at=at.isoformat(timespec="seconds")))


def run_record(found: Analysis, figures: CustomerFigures, *, run_id: str, started_at: datetime,
               config: ConfigRecord, source_key: str, headlines: tuple[str, ...], timings: dict[str, float],
               exports: tuple[str, ...], change: WeekOverWeek | None, checks: tuple[CheckRecord, ...],
               held_because: tuple[str, ...], pdf_sha256: str, dry_run: bool = False,
               baseline: str = "", engine: str = "local", teams: tuple[str, ...] = (),
               followup: FollowupRecord | None = None, control: ControlRecord | None = None,
               measured: tuple[ListEffect, ...] = (), measure_notes: tuple[str, ...] = ()) -> RunRecord:
    """run.json of a new run: what was read, with which settings, what came out."""
    raw, notes, segmentation = found.raw, found.customers.notes, found.segmentation
    return RunRecord(
        run_id=run_id,
        started_at=started_at.isoformat(timespec="seconds"),
        reporter_version=__version__,
        data=_data_record(raw, source_key),
        as_of=found.customers.as_of.isoformat(),
        config=config,
        data_notes=NotesRecord(notes.rows_read, notes.rows_kept, notes.rows_in_fit, notes.notes),
        model=model_record(found),
        algorithm=segmentation.algorithm,
        k=segmentation.k,
        silhouette=round(segmentation.silhouette.mean, 4),
        k_selection=_k_selection(found),
        stability=_rounded(found.assessment.stability),
        comparison=tuple(_rounded(score) for score in found.assessment.engines),
        pca=tuple({"component": c.number, "explained": round(c.explained, 4),
                   "loadings": dict(c.loadings)} for c in segmentation.components),
        personas=_personas(found),
        personas_absent=tuple(found.assignment.absent),
        flags=_flags(figures),
        headlines=headlines,
        timings_seconds=timings,
        versions=package_versions(),
        exports=exports,
        week_over_week=change_record(change),
        status="held" if held_because else "ready",
        held_because=held_because,
        checks=checks,
        pdf_sha256=pdf_sha256,
        dry_run=dry_run,
        baseline=baseline,
        teams=teams,
        engine=engine,
        followup=followup,
        control=control,
        measured=measured,
        measure_notes=measure_notes,
    )


def _personas(found: Analysis) -> dict[str, PersonaFigures]:
    groups = found.persona_profiles.by_key()
    colours = {p.name: p.color for p in found.rulebook.personas}
    figures = {}
    for name in found.assignment.present:
        group = groups[name]
        clusters = tuple(sorted(c for c, p in found.assignment.cluster_persona.items() if p == name))
        figures[name] = PersonaFigures(group.size, round(group.share, 4), round(group.spend_share, 4),
                                       clusters, colours[name])
    return figures


def _flags(figures: CustomerFigures) -> dict[str, FlagFigures]:
    return {flag.name: FlagFigures(flag.count, round(flag.share, 4), dict(flag.by_persona))
            for flag in figures.flags}


def _data_record(raw: RawCustomers, source_key: str) -> DataRecord:
    """What was read, so a re-run can tell whether the data changed (the freshness check)."""
    origin = raw.origin
    return DataRecord(origin.where, source_key, raw.sha256, raw.modified.isoformat(timespec="seconds"),
                      raw.rows_read, raw.date_format, tuple(raw.extra_columns), origin.kind,
                      origin.label, origin.query_sha256, origin.snapshot)


def model_record(found: Analysis) -> ModelRecord:
    decision = found.decision
    alignment = decision.alignment
    return ModelRecord(
        action=decision.action, reason=decision.reason, sentence=decision.sentence,
        fitted_on=decision.fitted_on.isoformat(), fitted_in_run=decision.fitted_in_run,
        warm_started=decision.warm_started,
        drift=({row.name: DriftFigure(round(row.psi, 4), row.verdict) for row in decision.drift.rows}
               if decision.drift else None),
        alignment=(AlignmentRecord(tuple(KeptSegment(old, new, round(share, 4))
                                         for old, new, share in alignment.kept),
                                   tuple(alignment.new), tuple(alignment.dissolved))
                   if alignment else None),
        rule_changes=tuple(decision.rule_changes),
        rule_change=decision.rule_change,
        files=("model.json",),
    )


def _k_selection(found: Analysis) -> dict[str, Any]:
    choice = found.segmentation.k_choice
    return {
        "chosen_k": choice.chosen_k,
        "elbow_k": choice.elbow_k,
        "best_silhouette_k": choice.best_silhouette_k,
        "reason": choice.reason,
        "rows_searched": choice.rows_searched,
        "rows_total": choice.rows_total,
        "diagnostics": [_rounded(d) for d in choice.diagnostics],
    }


def _rounded(value: Any) -> Any:
    """Dataclasses to JSON-ready dicts with floats rounded for reading."""
    if value is None:
        return None
    document = asdict(value)
    return json.loads(json.dumps(document, default=float), parse_float=lambda v: round(float(v), 4))


def change_record(change: WeekOverWeek | None) -> ChangeRecord | None:
    if change is None:
        return None
    return ChangeRecord(change.previous_run_id, change.previous_as_of, change.new_customers,
                        change.gone_customers, change.slipped_count, change.matrix)
