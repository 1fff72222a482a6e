"""Pipeline: one run, read top to bottom as build -> check -> publish -> deliver.

analyse (load, then the model's stage sequence) -> the brief's view -> pre-send checks and
rendering -> the archive folder, published in one rename -> delivery -> prune and index.
Configuration is read here and handed to the stages as plain values.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from reporter.app.engines import Engine, LocalEngine
from reporter.app.params import (
    analysis_params,
    checks_params,
    control_params,
    delivery_params,
    grading_params,
    measure_params,
    source_params,
    spark_source_params,
    team_params,
)
from reporter.app.settings import Config, UnchangedDataCheck
from reporter.archive import RunFolder, folder_name, new_run_id, one_run_at_a_time
from reporter.brief.checks import CheckReport, after_render, before_render, unchanged_since
from reporter.brief.index import rebuild_index
from reporter.brief.render import (
    check_pdf_engine,
    render_appendix_html,
    render_html,
    render_pdf,
)
from reporter.brief.rule_check import data_summary, data_warnings
from reporter.brief.view import (
    BRIEF_FILE,
    TABLE_FEATURES,
    Brief,
    BriefInputs,
    Units,
    build_brief,
    write_brief,
)
from reporter.data.load import RawCustomers
from reporter.data.sources import read_customers
from reporter.delivery.crm import Pushed
from reporter.delivery.dispatch import Delivered, dispatch_run, tell_owners_held
from reporter.delivery.faults import fault_point
from reporter.delivery.mail import Outcome, archive_emails
from reporter.errors import ArchiveError, DataError, DataUnchanged
from reporter.history.catalogue import (
    RunSummary,
    find_baseline,
    newest_received,
    other_sources,
    runs_of,
    source_key,
)
from reporter.history.graded import FollowupRecord
from reporter.history.grading import grade_earlier
from reporter.history.measure import Measured, later_customers, measure_earlier
from reporter.history.record import (
    RECORD_FILE,
    ConfigRecord,
    ControlRecord,
    ListRecord,
    run_record,
    write_record,
)
from reporter.history.retention import PrunePlan, carry_out, plan_prune
from reporter.history.weekly import WeekOverWeek, newly_flagged_file
from reporter.model.artefact import MODEL_FILE, Loaded, read_model, write_model
from reporter.model.lifecycle import Analysis
from reporter.model.lifecycle import analyse as analyse_customers
from reporter.personas.control import CONTROL_FILE
from reporter.personas.exports import list_file, write_csv
from reporter.personas.figures import CustomerFigures, ListParams
from reporter.personas.rulebook import Rulebook, compile_rulebook
from reporter.progress import stage as progress_stage

APPENDIX_FILE = "appendix.pdf"
log = logging.getLogger("reporter")


@dataclass
class StageTimer:
    """Seconds per stage (a stage entered twice adds up), shown as progress when a run shows it."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        fault_point(f"stage-{name}")  # the crash tests' SIGKILL lands as the stage is entered
        with progress_stage(name, self.seconds):
            yield
        release_freed_memory()


def release_freed_memory() -> None:
    """Give the memory freed in a stage back to the system as it ends. Arrow's pool and glibc's
    heap keep freed memory for their own reuse, but the next stage allocates its big arrays
    elsewhere (numpy's large blocks are fresh mappings), so at a million customers ~300 MB
    after load and ~300 MB after the segmentation stayed resident for the rest of the run."""
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc():
    """glibc, for malloc_trim; None elsewhere (macOS, musl), where nothing is trimmed. The
    process's own symbols: no search for the library at import."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()


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
    pushes: tuple[Pushed, ...] = ()  # each CRM target's push, after the email
    pruned: PrunePlan = field(default_factory=lambda: PrunePlan((), ()))  # by retention_runs

    @property
    def delivery_failed(self) -> bool:
        return any(outcome.failed for outcome in self.deliveries)

    @property
    def push_failed(self) -> bool:
        return any(pushed.failed for pushed in self.pushes)


def analyse(config: Config, data: Path | None = None, as_of: date | None = None,
            timer: StageTimer | None = None, refit: bool = False, run_id: str = "") -> Analysis:
    """validate -> load -> the model's stage sequence; writes nothing."""
    return _analyse(config, data, as_of, timer or StageTimer(), refit, run_id)[0].analysis


def _analyse(config: Config, data: Path | None, as_of: date | None, timer: StageTimer, refit: bool,
             run_id: str, skip_unchanged: bool = False) -> tuple[Engine, RunSummary | None]:
    """The analysed customers on the configured engine, and the baseline run they were
    analysed against (None for a source's first)."""
    settings = config.settings
    with timer("validate"):
        rulebook = compile_rulebook(config.personas, config.personas_path)
    if settings.engine == "spark":
        return _analyse_on_spark(config, data, as_of, timer, refit, run_id, rulebook, skip_unchanged)
    with timer("load"):
        raw = read_customers(source_params(config, data))
    as_of = _reference_date(raw, as_of)
    baseline, loaded = _baseline(config, raw, as_of, timer, skip_unchanged)
    found = analyse_customers(raw, as_of, analysis_params(settings), rulebook, loaded, refit, run_id,
                              timer)
    return LocalEngine(found, control_params(settings, rulebook)), baseline


def _baseline(config: Config, raw: RawCustomers, as_of: date, timer: StageTimer,
              skip_unchanged: bool = False) -> tuple[RunSummary | None, Loaded]:
    """The run this one is compared with and its model. With `checks.unchanged_data: skip`,
    data the baseline already read stops the run here, before the analysis and the archive."""
    with timer("model"):
        source = source_key(raw, config.settings.source.name)
        baseline = find_baseline(config.output_dir, source, as_of)
        unchanged = unchanged_since(raw, baseline.record) if skip_unchanged and baseline else ""
        if unchanged:
            raise DataUnchanged(f"Skipped, nothing archived: {unchanged}")
        if baseline is None:
            return None, Loaded(None, None, _first_of_source(config.output_dir, source))
        return baseline, read_model(baseline.folder)


def _first_of_source(output_dir: Path, source: str) -> str:
    """Why a run with other sources' briefs in the archive fits afresh: `run --data` from
    another folder said "no saved model in the archive yet" beside the archive's models, and so
    did an export older than every brief of its source (one cut short)."""
    newest = newest_received(runs_of(output_dir, source))
    if newest is not None:
        return (f"the saved model is of newer customers (run {newest.run_id}, as of {newest.as_of}) "
                "than these")
    others = other_sources(output_dir, source)
    if not others:
        return ""
    listed = ", ".join(f'"{other}"' for other in others[:2]) + (" and others" if len(others) > 2 else "")
    return (f'no saved model of this customer source ("{source}") yet; the archive\'s models are of '
            f"{listed} (a source is its data file's folder unless source.name in reporter.yaml "
            "names it)")


def _analyse_on_spark(config: Config, data: Path | None, as_of: date | None, timer: StageTimer,
                      refit: bool, run_id: str, rulebook: Rulebook,
                      skip_unchanged: bool = False) -> tuple[Engine, RunSummary | None]:
    """engine: spark: read, clean, score and sum in Spark; fit on a sample on this machine."""
    from reporter.spark.session import check_pyspark, spark_session

    check_pyspark()  # before the modules that import PySpark: one line, not a traceback
    from reporter.spark.run import spark_analyse, spark_as_of
    from reporter.spark.source import read_spark_customers

    settings = config.settings
    with timer("spark"):
        spark = spark_session(settings.spark.master, settings.spark.conf)
    with timer("load"):
        raw = read_spark_customers(spark, spark_source_params(config, data))
        as_of = spark_as_of(raw, as_of)
    baseline, loaded = _baseline(config, raw, as_of, timer, skip_unchanged)
    found = spark_analyse(spark, raw, as_of, analysis_params(settings), rulebook, loaded, refit, run_id,
                          timer, settings.spark.sample_rows)
    return found, baseline


def rule_warnings(config: Config, data: Path | None = None) -> tuple[str, list[str]]:
    """`reporter validate --data`: the rules on this week's customers, scored like a run would
    (the source's saved model), compared with the last brief people received. Returns a one-line
    summary of what they were tried on, and the warnings."""
    engine, baseline = _analyse(config, data, None, StageTimer(), False, "")
    previous = baseline.record if baseline is not None else None
    return data_summary(engine.analysis), data_warnings(
        engine.analysis, previous, config.settings.checks.share_move.max_points,
        config.settings.brief.currency)


def run(config: Config, data: Path | None = None, as_of: date | None = None,
        now: datetime | None = None, dry_run: bool = False, refit: bool = False,
        allow_unchanged: bool = False) -> RunResult:
    """Make one brief from the newest customers: build -> check -> publish -> deliver.
    `allow_unchanged`: the data may be the baseline's (a rules edit re-run on purpose)."""
    timer = StageTimer()
    if allow_unchanged:
        config = _without_unchanged_check(config)
    with timer("pdf_engine"):
        check_pdf_engine()
    skip = config.settings.checks.unchanged_data.mode == "skip"
    with one_run_at_a_time(config.output_dir, lambda: _waiting(config.output_dir)):
        now = now or datetime.now().astimezone()  # after any wait: the run is dated when it runs
        run_id = new_run_id(now)
        engine, baseline = _analyse(config, data, as_of, timer, refit, run_id, skip)
        found = engine.analysis
        built = _build(config, engine, baseline, run_id, now, timer)
        checked = _check_and_render(config, built, found, now, timer)
        final = _publish(config, engine, built, checked, run_id, now, timer, dry_run)
        delivered = _deliver(config, final, checked.report, dry_run, timer)
        with timer("index"):
            pruned = _retention(config, source_key(found.raw, config.settings.source.name))
            rebuild_index(config.output_dir)
    return RunResult(run_id, final, final / "brief.html", final / "brief.pdf", checked.brief,
                     timer.seconds, delivered.outcomes, checked.report, delivered.pushes,
                     pruned)


def _waiting(output_dir: Path) -> None:
    log.info("another run of %s is in progress; this run waits for it and is then compared with "
             "its brief", output_dir)


def _without_unchanged_check(config: Config) -> Config:
    checks = config.settings.checks.model_copy(update={"unchanged_data": UnchangedDataCheck(mode="off")})
    return replace(config, settings=config.settings.model_copy(update={"checks": checks}))


def _retention(config: Config, source: str) -> PrunePlan:
    """history.retention_runs after each run: what it deleted and what it kept beyond the limit."""
    history = config.settings.history
    if not history.retention_runs:
        return PrunePlan((), ())
    plan = plan_prune(runs_of(config.output_dir, source), history.retention_runs,
                      history.prune_undelivered, "history.retention_runs")
    return carry_out(plan)


@dataclass(frozen=True)
class Built:
    """A run's brief before any check: the view and what is exported beside it."""

    brief: Brief
    figures: CustomerFigures
    change: WeekOverWeek | None
    baseline: RunSummary | None  # what this run is compared with
    followup: FollowupRecord | None = None  # earlier briefs' predictions graded
    measured: Measured = field(default_factory=lambda: Measured())  # earlier lists' effects


@dataclass(frozen=True)
class Checked:
    """The brief as it will be archived and sent: the PDF here is the one the checks read."""

    brief: Brief
    html: str
    pdf: bytes
    report: CheckReport
    appendix_pdf: bytes | None = None  # brief.appendix: separate


def _build(config: Config, engine: Engine, baseline: RunSummary | None, run_id: str, now: datetime,
           timer: StageTimer) -> Built:
    settings, found = config.settings, engine.analysis
    with timer("history"):
        change = _week_over_week(config, engine, baseline)
    with timer("grading"):
        followup = _followup(config, engine)
    with timer("figures"):
        figures = engine.figures(change, ListParams(TABLE_FEATURES, settings.brief.action_list_size,
                                                    settings.brief.scatter_points,
                                                    settings.segmentation.seed))
    with timer("measure"):
        measured = _measure(config, engine)
    with timer("brief"):
        brief = build_brief(BriefInputs(
            title=settings.brief.title, run_id=run_id, run_date=now, data_file=found.raw.origin.label,
            data_sha256=found.raw.sha256, table=found.table, figures=figures, notes=found.customers.notes,
            segmentation=found.segmentation, assessment=found.assessment,
            cluster_profiles=found.cluster_profiles, persona_profiles=found.persona_profiles,
            assignment=found.assignment, rulebook=found.rulebook,
            action_list_size=settings.brief.action_list_size, changes=change,
            decision=found.decision, drift_thresholds=(settings.model.psi_watch, settings.model.psi_refit),
            baseline=_baseline_sentence(baseline),
            units=Units(settings.brief.currency, settings.source.spend_period),
            appendix=settings.brief.appendix, engine=engine.sentence, propensity=found.propensity,
            propensity_customers=engine.propensity_customers,
            followup=followup,
            lifetime=found.lifetime,
            control=getattr(engine, "groups", None), measured=measured,
        ))
    return Built(brief, figures, change, baseline, followup, measured)


def _followup(config: Config, engine: Engine) -> FollowupRecord | None:
    """Earlier briefs' predictions graded against this week's customers: on the local engine
    (every customer in memory), and unless history.grading_weeks is 0."""
    params = grading_params(config.settings)
    if not params.lookback_weeks or not isinstance(engine, LocalEngine):
        return None
    found = engine.analysis
    runs = runs_of(config.output_dir, source_key(found.raw, config.settings.source.name))
    return grade_earlier(runs, engine.customers, found.customers.as_of, params)


SPARK_DRAWS_NO_CONTROL = (
    "No control groups on engine: spark yet: this week's call lists hold every flagged customer, "
    "and earlier lists are not measured. engine: local draws and measures them; "
    "control_groups.share: 0 (and no flag's control_share) in reporter.yaml ends this note.")


def _measure(config: Config, engine: Engine) -> Measured:
    """What the lists of earlier briefs of this source did, in this run's customers (the local
    engine, which holds every customer). Spark's briefs hold no control groups yet: one that
    was asked for them says so instead of leaving the section out."""
    found = engine.analysis
    if not isinstance(engine, LocalEngine):
        asked = not control_params(config.settings, found.rulebook).off
        return Measured(notes=(SPARK_DRAWS_NO_CONTROL,) if asked else ())
    source = source_key(found.raw, config.settings.source.name)
    earlier = [(run.folder, run.record) for run in runs_of(config.output_dir, source)]
    return measure_earlier(earlier, later_customers(found.table.frame), found.table.as_of,
                           measure_params(config.settings))


def _newer_received(config: Config, found: Analysis) -> RunSummary | None:
    """The newest brief of this source that people received, when its customers are newer than
    this run's: an export cut short (its newest sign-ups lost) or an old file was sent as a
    first brief, while the CRM and `reporter serve` kept the newer run."""
    newest = newest_received(runs_of(config.output_dir, source_key(found.raw, config.settings.source.name)))
    if newest is None or date.fromisoformat(newest.as_of) <= found.table.as_of:
        return None
    return newest


def _baseline_sentence(baseline: RunSummary | None) -> str:
    if baseline is None:
        return "The first brief of this customer source that was delivered: nothing to compare with yet."
    how = "published (it had no teams to send to)" if baseline.record.teams == () else "delivered"
    return (f"Compared with the brief of run {baseline.run_id} (customers as of {baseline.as_of}), the "
            f"newest brief of this source that was {how}.")


def _check_and_render(config: Config, built: Built, found: Analysis, now: datetime,
                      timer: StageTimer) -> Checked:
    """Checks on the figures, then render with their warnings, then checks on the PDF. A PDF
    warning means a banner, so a new PDF, which is checked again: what is archived and
    attached is always the PDF the checks read."""
    settings = checks_params(config.settings)
    with timer("checks"):
        previous = built.baseline.record if built.baseline is not None else None
        newer = _newer_received(config, found)
        figures = before_render(settings, found.raw, built.brief, previous, found.decision, now,
                                newer.record if newer is not None else None)
    brief = replace(built.brief, warnings=figures.warnings)
    html, pdf, appendix, document = _render(brief, settings, timer)
    if document.warnings:
        brief = replace(brief, warnings=(*figures.warnings, *document.warnings))
        html, pdf, appendix, document = _render(brief, settings, timer)
    return Checked(brief, html, pdf, CheckReport(figures.results + document.results,
                                                 document.checked_pdf_sha256), appendix)


def _render(brief: Brief, settings, timer: StageTimer
            ) -> tuple[str, bytes, bytes | None, CheckReport]:
    with timer("html"):
        html = render_html(brief)
    with timer("pdf"):
        pdf = render_pdf(html)
        appendix = (render_pdf(render_appendix_html(brief)) if brief.appendix == "separate"
                    else None)
    with timer("checks"):
        return html, pdf, appendix, after_render(settings, pdf, brief.appendix, appendix)


def _publish(config: Config, engine: Engine, built: Built, checked: Checked, run_id: str,
             now: datetime, timer: StageTimer, dry_run: bool) -> Path:
    try:
        with timer("archive"):
            return _archive(config, engine, built, checked, run_id, now, timer, dry_run)
    except OSError as exc:
        raise ArchiveError(
            f"{config.output_dir}: the run could not be written ({exc.strerror or exc}); free disk "
            "space or fix permissions and run again; earlier runs are untouched") from None


def _deliver(config: Config, folder: Path, report: CheckReport, dry_run: bool,
             timer: StageTimer) -> Delivered:
    with timer("deliver"):
        params = delivery_params(config)
        if report.held:
            tell_owners_held(folder, params, report)
            return Delivered()
        return dispatch_run(folder, params, dry_run=dry_run, immediate_only=True,
                            rebuild=False)


def _size_of(folder: RunFolder):
    """A file of the folder being built: its size, None when the run did not write it."""
    def size_of(name: str) -> int | None:
        path = folder.file(name)
        return path.stat().st_size if path.is_file() else None
    return size_of


def _archive(config: Config, engine: Engine, built: Built, checked: Checked, run_id: str,
             now: datetime, timer: StageTimer, dry_run: bool) -> Path:
    """Write every file of the run into a hidden folder, then publish it in one rename."""
    settings, found = config.settings, engine.analysis
    with RunFolder(config.output_dir, folder_name(now, run_id)) as folder:
        folder.write_text("brief.html", checked.html)
        folder.write_bytes("brief.pdf", checked.pdf)
        if checked.appendix_pdf is not None:
            folder.write_bytes(APPENDIX_FILE, checked.appendix_pdf)
        write_brief(checked.brief, folder.file(BRIEF_FILE))
        stamp = (("run_id", run_id), ("as_of", found.customers.as_of.isoformat()))
        with timer("exports"):
            exports = engine.write(folder, stamp, settings.exports.chunk_rows, settings.exports.parquet)
        if built.change is not None:
            exports += _write_change_lists(folder, built.change, stamp)
        write_model(found.saved_model, folder.file(MODEL_FILE))
        exports.append(MODEL_FILE)
        archive_emails(folder.write_bytes, checked.brief, [team_params(t) for t in settings.teams],
                       _size_of(folder), (settings.delivery.max_list_mb, settings.delivery.max_email_mb),
                       str(folder.final))
        report = checked.report
        record = run_record(
            found, built.figures, run_id=run_id, started_at=now,
            config=ConfigRecord(str(config.path), str(config.personas_path), config.fingerprint()),
            source_key=source_key(found.raw, settings.source.name), headlines=checked.brief.headlines,
            timings=timer.seconds, exports=tuple(exports), change=built.change,
            checks=report.record(), held_because=tuple(r.problem for r in report.holding),
            pdf_sha256=report.checked_pdf_sha256, dry_run=dry_run,
            baseline=built.baseline.run_id if built.baseline is not None else "",
            engine=settings.engine, teams=tuple(team.name for team in settings.teams),
            followup=built.followup,
            control=_control_record(engine), measured=built.measured.effects,
            measure_notes=built.measured.notes)
        write_record(record, folder.file(RECORD_FILE))
        with timer("publish"):
            return folder.publish()


def _control_record(engine: Engine) -> ControlRecord | None:
    groups = getattr(engine, "groups", None)
    if groups is None:
        return None
    return ControlRecord(groups.window.start.isoformat(), groups.window.end.isoformat(), CONTROL_FILE,
                         tuple(ListRecord(g.name, list_file(g.name), g.share, g.listed, g.contacted,
                                          g.control) for g in groups.lists))


def _week_over_week(config: Config, engine: Engine, previous: RunSummary | None) -> WeekOverWeek | None:
    if previous is None:
        return None
    history = config.settings.history
    return engine.change(previous.folder / "customers.csv", (previous.run_id, previous.as_of),
                         tuple(history.valuable), tuple(history.slipped_to))


def _write_change_lists(folder: RunFolder, change: WeekOverWeek,
                        stamp: tuple[tuple[str, str], ...]) -> list[str]:
    lists = {"changes/slipped.csv": change.slipped, "changes/new.csv": change.new,
             "changes/gone.csv": change.gone,
             **{newly_flagged_file(name): frame for name, frame in change.newly_flagged.items()}}
    for name, frame in lists.items():
        write_csv(frame, folder.file(name), stamp=stamp)
    return list(lists)


def _reference_date(raw: RawCustomers, as_of: date | None) -> date:
    """The data's own 'today': the newest join date, unless --as-of says otherwise."""
    newest = raw.frame["Dt_Customer"].max().date()
    if as_of is None:
        return newest
    if as_of < newest:
        raise DataError(
            f"{raw.origin}: --as-of {as_of:%Y-%m-%d} is before the newest join date "
            f"{newest:%Y-%m-%d} in the file; pass a later date or leave --as-of out"
        )
    return as_of
