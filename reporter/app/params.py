"""From reporter.yaml to the stages' plain parameters: the one place they are translated."""

from __future__ import annotations

import glob
from pathlib import Path

from reporter.app.settings import Config, ReporterConfig, TeamConfig
from reporter.brief.params import (
    CheckParams,
    ChecksParams,
    CustomerCountParams,
    EmptyPersonaParams,
    FreshDataParams,
    PdfParams,
    ShareMoveParams,
)
from reporter.data.params import CleanParams, SourceParams
from reporter.data.sources import database_origin
from reporter.delivery.params import CrmParams, DeliveryParams, ScheduleParams, SmtpParams, TeamParams
from reporter.errors import DataError
from reporter.history.grading import GradingParams
from reporter.history.measure import MeasureParams
from reporter.model.params import AnalysisParams, ModelParams
from reporter.personas.control import ControlParams
from reporter.personas.rulebook import Rulebook
from reporter.secrets import env_secret
from reporter.segmentation.params import ComparisonParams, SegmentParams, StabilityParams


def analysis_params(settings: ReporterConfig) -> AnalysisParams:
    segment = settings.segmentation.model_dump()
    segment.update(features=tuple(segment["features"]), categorical=tuple(segment["categorical"]))
    model = settings.model
    return AnalysisParams(
        clean=clean_params(settings),
        segment=SegmentParams(**segment),
        stability=StabilityParams(**settings.stability.model_dump()),
        comparison=ComparisonParams(**settings.comparison.model_dump()),
        model=ModelParams(refit_every_days=model.refit_every_days, refit_every=model.refit_every,
                          psi_watch=model.psi_watch, psi_refit=model.psi_refit,
                          min_silhouette=model.min_silhouette, min_segment_share=model.min_segment_share,
                          min_stability=model.min_stability,
                          warm_start_tolerance=model.warm_start_tolerance),
        keep_margin=settings.rules.keep_margin,
    )


def clean_params(settings: ReporterConfig) -> CleanParams:
    return CleanParams(**settings.clean.model_dump(), currency=settings.brief.currency)


def source_params(config: Config, data: Path | None = None) -> SourceParams:
    """Where the customers are: `--data` (a file or folder) over source in reporter.yaml. The
    password is read from its environment variable here, and only here."""
    source = config.settings.source
    if data is not None or source.url is None:
        path = given_data(data) if data is not None else config.resolve(source.path)
        return SourceParams(path=path, date_format=source.date_format,
                            columns=tuple(source.columns.items()),
                            as_of_column=source.as_of_column or "",
                            timeout_seconds=source.timeout_seconds)
    return SourceParams(url=source.url, table=source.table or "", query=source.query or "",
                        password=env_secret(source.password_env, "source.password_env"),
                        password_env=source.password_env or "", timeout_seconds=source.timeout_seconds,
                        columns=tuple(source.columns.items()), as_of_column=source.as_of_column or "",
                        date_format=source.date_format, base_dir=config.base_dir)


def given_data(data: Path) -> Path:
    """--data names a file (or a glob) or a folder that is there; when it is not, the fix is
    said of --data, which the user just typed, not of source.path."""
    if not data.exists() and not glob.has_magic(str(data)):
        raise DataError(f"{data}: data file not found; check the path given to --data")
    return data


def spark_source_params(config: Config, data: Path | None = None):
    """engine: spark's source: `--data` over source.path (a path, or a cluster URI kept as
    written) or source.spark_table."""
    from reporter.spark.source import SparkSourceParams  # PySpark is an optional extra

    source = config.settings.source
    where = str(data) if data is not None else (location(config, source.path) if source.path else "")
    return SparkSourceParams(location=where, table="" if data is not None else source.spark_table or "",
                             date_format=source.date_format, columns=tuple(source.columns.items()),
                             as_of_column=source.as_of_column or "")


def location(config: Config, path: str) -> str:
    """A path relative to the config's folder, or a URI (s3a://, hdfs://) as written."""
    return path if "://" in path else str(config.resolve(path))


def configured_source_key(config: Config) -> str:
    """The source key runs of this config record, known before anything is read: the name, or
    the database and table, or the folder of the data file."""
    source = config.settings.source
    if source.name:
        return source.name
    if source.url is not None:
        return database_origin(source.url, source.table or "", source.query or "", config.base_dir).home
    if source.spark_table is not None:
        return f"spark table {source.spark_table}"
    if "://" in source.path:
        return source.path
    path = config.resolve(source.path).resolve()  # as a run records it: through symbolic links
    return str(path if path.is_dir() else path.parent)


def checks_params(settings: ReporterConfig) -> ChecksParams:
    checks = settings.checks
    return ChecksParams(
        data_fresh=FreshDataParams(**checks.data_fresh.model_dump()),
        unchanged_data=CheckParams(**checks.unchanged_data.model_dump()),
        no_new_empty_persona=EmptyPersonaParams(**checks.no_new_empty_persona.model_dump()),
        share_move=ShareMoveParams(**checks.share_move.model_dump()),
        customer_count=CustomerCountParams(**checks.customer_count.model_dump()),
        charts_have_data=CheckParams(**checks.charts_have_data.model_dump()),
        pdf_complete=PdfParams(**checks.pdf_complete.model_dump()),
        model_not_held=CheckParams(**checks.model_not_held.model_dump()))


def team_params(team: TeamConfig) -> TeamParams:
    return TeamParams(name=team.name, recipients=tuple(team.recipients), personas=tuple(team.personas),
                      subject=team.subject, formats=tuple(team.formats), send_at=team.send_at,
                      timezone=team.timezone, name_customers=team.name_customers,
                      attach_lists=team.attach_lists)


def delivery_params(config: Config) -> DeliveryParams:
    """Teams, mail server, owners and CRM targets; secrets stay named, read when used."""
    settings = config.settings
    return DeliveryParams(
        config_path=config.path, output_dir=config.output_dir, base_dir=config.base_dir,
        teams=tuple(team_params(team) for team in settings.teams),
        smtp=SmtpParams(**settings.smtp.model_dump()) if settings.smtp else None,
        owners=tuple(settings.owners), guarantee=settings.delivery.guarantee,
        max_email_mb=settings.delivery.max_email_mb,
        schedule=ScheduleParams(cron=settings.schedule.cron, timezone=settings.schedule.timezone),
        crm=tuple(CrmParams(**target.model_dump()) for target in settings.crm))


def grading_params(settings: ReporterConfig) -> GradingParams:
    history = settings.history
    return GradingParams(history.grading_weeks, history.grading_min_bin, history.grading_min_customers)
def control_params(settings: ReporterConfig, rulebook: Rulebook | None = None) -> ControlParams:
    """Each call list's control share: the flag's own (personas.yaml), else control_groups.share."""
    groups = settings.control_groups
    params = ControlParams(share=groups.share, window_weeks=groups.window_weeks,
                           anchor=groups.window_anchor)
    return params.with_flags(rulebook.flags) if rulebook is not None else params


def measure_params(settings: ReporterConfig) -> MeasureParams:
    groups = settings.control_groups
    return MeasureParams(look_back_days=7 * groups.look_back_weeks,
                         widest_interval=groups.widest_interval_points / 100)
