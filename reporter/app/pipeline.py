"""Pipeline: calls the stages in order and times them; nothing else.

load → clean → features → segment → profile → personas → brief → render → archive
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from reporter.archive import RunFolder, folder_name, new_run_id, prune, published_runs
from reporter.brief.checks import CheckReport, after_render, before_render
from reporter.brief.index import rebuild_index
from reporter.brief.render import check_pdf_engine, render_html, render_pdf
from reporter.brief.view import Brief, BriefInputs, build_brief
from reporter.config import Config
from reporter.data.clean import Customers
from reporter.data.features import FeatureTable
from reporter.data.load import RawCustomers, find_latest, load
from reporter.delivery.dispatch import deliver, tell_owners_held
from reporter.delivery.mail import Outcome, archive_emails
from reporter.errors import ArchiveError, DataError
from reporter.history.record import change_record, run_record
from reporter.history.weekly import WeekOverWeek, compare, find_previous, source_key
from reporter.model.artefact import MODEL_FILE, SavedModel, latest_model, write_model
from reporter.model.lifecycle import ModelDecision, fit_or_score
from reporter.personas.exports import customer_table, write_csv, write_exports
from reporter.personas.rulebook import PersonaAssignment, Rulebook, compile_rulebook
from reporter.progress import stage as progress_stage
from reporter.segmentation.assess import Assessment
from reporter.segmentation.profile import Profiles, profile
from reporter.segmentation.segment import Segmentation


@dataclass
class StageTimer:
    """Seconds per stage (a stage entered twice adds up), shown as progress when a run shows it."""

    seconds: dict[str, float] = field(default_factory=dict)

    def __call__(self, name: str):
        return progress_stage(name, self.seconds)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    folder: Path
    html: Path
    pdf: Path
    brief: Brief
    timings: dict[str, float]
    deliveries: tuple[Outcome, ...] = ()
    checks: CheckReport = field(default_factory=lambda: CheckReport(()))

    @property
    def delivery_failed(self) -> bool:
        return any(outcome.failed for outcome in self.deliveries)


@dataclass(frozen=True)
class Analysis:
    """Everything computed from one customer file, before anything is presented."""

    raw: RawCustomers
    customers: Customers
    table: FeatureTable
    segmentation: Segmentation
    assessment: Assessment
    assignment: PersonaAssignment
    persona_profiles: Profiles
    cluster_profiles: Profiles
    rulebook: Rulebook
    decision: ModelDecision
    saved_model: SavedModel


def analyse(config: Config, data: Path | None = None, as_of: date | None = None,
            timer: StageTimer | None = None, refit: bool = False, run_id: str = "") -> Analysis:
    """load → clean → features → segment (score or refit) → profile → personas; writes nothing."""
    timer = timer or StageTimer()
    settings = config.settings
    with timer("validate"):
        rulebook = compile_rulebook(config.personas, config.personas_path)
    with timer("load"):
        path = find_latest(data or config.resolve(settings.source.path))
        raw = load(path, settings.source.date_format)
    as_of = _reference_date(raw, as_of)
    with timer("model"):
        loaded = latest_model(config.output_dir)
    modelled = fit_or_score(raw, as_of, config, rulebook, loaded, refit, run_id, timer)
    with timer("personas"):
        persona_profiles = profile(modelled.table, modelled.assignment.customer_persona)
    return Analysis(raw, modelled.customers, modelled.table, modelled.segmentation,
                    modelled.assessment, modelled.assignment, persona_profiles,
                    modelled.cluster_profiles, rulebook, modelled.decision, modelled.saved)


def run(config: Config, data: Path | None = None, as_of: date | None = None,
        now: datetime | None = None, dry_run: bool = False, refit: bool = False) -> RunResult:
    """Make one brief from the newest customer file, archive it, then deliver it."""
    now = now or datetime.now().astimezone()
    run_id = new_run_id(now)
    timer = StageTimer()
    settings = config.settings
    with timer("pdf_engine"):
        check_pdf_engine()
    found = analyse(config, data, as_of, timer, refit=refit, run_id=run_id)
    customers_export = customer_table(found.table, found.segmentation.labels, found.assignment)
    with timer("history"):
        change = _week_over_week(config, found, customers_export)
    with timer("brief"):
        brief = build_brief(BriefInputs(
            title=settings.brief.title, run_id=run_id, run_date=now, data_file=found.raw.path.name,
            data_sha256=found.raw.sha256, table=found.table, notes=found.customers.notes,
            segmentation=found.segmentation, assessment=found.assessment,
            cluster_profiles=found.cluster_profiles, persona_profiles=found.persona_profiles,
            assignment=found.assignment, rulebook=found.rulebook,
            scatter_points=settings.brief.scatter_points, seed=settings.segmentation.seed,
            action_list_size=settings.brief.action_list_size, changes=change,
            decision=found.decision, drift_thresholds=(settings.model.psi_watch, settings.model.psi_refit),
        ))
    with timer("checks"):
        report = before_render(settings.checks, found.raw, brief, _latest_record(config.output_dir),
                               found.decision, now)
    with timer("html"):
        html = render_html(brief)
    with timer("pdf"):
        pdf = render_pdf(html)
    with timer("checks"):
        report = CheckReport(report.results + after_render(settings.checks, pdf).results)
    if report.warnings:  # the brief goes out, with the problems on its first page
        brief = replace(brief, warnings=report.warnings)
        with timer("pdf"):
            html = render_html(brief)
            pdf = render_pdf(html)
    try:
        with timer("archive"):
            final = _archive(config, found, brief, html, pdf, customers_export, change, run_id, now,
                             timer, report)
    except OSError as exc:
        raise ArchiveError(
            f"{config.output_dir}: the run could not be written ({exc.strerror or exc}); free disk "
            "space or fix permissions and run again; earlier runs are untouched") from None
    with timer("deliver"):
        if report.held:
            tell_owners_held(final, config, report)
            deliveries = []
        else:
            deliveries = deliver(final, config, dry_run=dry_run, immediate_only=True, rebuild=False)
    with timer("index"):
        if settings.history.retention_runs:
            prune(config.output_dir, settings.history.retention_runs)
        rebuild_index(config.output_dir)
    return RunResult(run_id, final, final / "brief.html", final / "brief.pdf", brief,
                     timer.seconds, tuple(deliveries), report)


def _archive(config: Config, found: Analysis, brief: Brief, html: str, pdf: bytes,
             customers_export: pd.DataFrame, change: WeekOverWeek | None, run_id: str,
             now: datetime, timer: StageTimer, report: CheckReport) -> Path:
    """Write every file of the run into a hidden folder, then publish it in one rename."""
    settings = config.settings
    with RunFolder(config.output_dir, folder_name(now, run_id)) as folder:
        folder.write_text("brief.html", html)
        folder.write_bytes("brief.pdf", pdf)
        write_csv(customers_export[_segment_columns(customers_export)], folder.file("segments.csv"),
                  settings.exports.chunk_rows)
        with timer("exports"):
            exports = write_exports(customers_export, folder.file, settings.exports.chunk_rows,
                                    settings.exports.parquet)
        if change is not None:
            exports += _write_change_lists(folder, change)
        write_model(found.saved_model, folder.file(MODEL_FILE))
        exports.append(MODEL_FILE)
        archive_emails(folder.write_bytes, brief, settings.teams)
        record = run_record(config, found, brief, run_id, now, timer.seconds)
        record["exports"] = exports
        record["week_over_week"] = change_record(change)
        record["status"] = "held" if report.held else "ready"
        record["held_because"] = [r.problem for r in report.holding]
        record["checks"] = report.record()
        folder.write_json("run.json", record)
        with timer("publish"):
            return folder.publish()


def _week_over_week(config: Config, found: Analysis, now: pd.DataFrame) -> WeekOverWeek | None:
    previous = find_previous(config.output_dir, source_key(found.raw), found.customers.as_of)
    if previous is None:
        return None
    before = pd.read_csv(previous.folder / "customers.csv")
    order = [p.name for p in found.rulebook.personas]
    flags = [f.name for f in found.rulebook.flags]
    return compare(before, now, previous, order, flags, config.settings.history)


def _segment_columns(customers: pd.DataFrame) -> list[str]:
    return ["ID", "cluster", "persona", *[c for c in customers.columns if c.startswith("flag_")]]


def _write_change_lists(folder: RunFolder, change: WeekOverWeek) -> list[str]:
    lists = {"changes/slipped.csv": change.slipped, "changes/new.csv": change.new,
             "changes/gone.csv": change.gone}
    for name, frame in lists.items():
        frame.to_csv(folder.file(name), index=False, lineterminator="\n")
    return list(lists)


def _latest_record(output_dir: Path) -> dict | None:
    """run.json of the newest published run: what the pre-send checks compare with."""
    runs = published_runs(output_dir)
    return json.loads((runs[-1] / "run.json").read_text(encoding="utf-8")) if runs else None


def _reference_date(raw: RawCustomers, as_of: date | None) -> date:
    """The data's own 'today': the newest join date, unless --as-of says otherwise."""
    newest = raw.frame["Dt_Customer"].max().date()
    if as_of is None:
        return newest
    if as_of < newest:
        raise DataError(
            f"{raw.path}: --as-of {as_of:%Y-%m-%d} is before the newest join date "
            f"{newest:%Y-%m-%d} in the file; pass a later date or leave --as-of out"
        )
    return as_of
