"""The two YAML files a user edits: `reporter.yaml` (how to run) and `personas.yaml` (what to call
the segments). pydantic gives types, defaults and `extra="forbid"` so that a typo in a key is an
error, not a silently ignored setting. Paths in a config file are relative to that file, so a
scheduler can start `reporter` from any working directory.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reporter.errors import ConfigError, first_few
from reporter.yamlsource import line_of, read_yaml_mapping, validation_problems


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# A table name as reporter writes it into SQL (database.quote quotes each dotted part): one
# identifier per part, as long as PostgreSQL keeps a name (it cuts longer ones silently)
TABLE_PART = re.compile(r"[^\W\d]\w{0,62}")
DATABASE_SCHEMES = ("postgresql", "sqlite", "duckdb")


class SourceConfig(Strict):
    path: str | None = Field(
        default=None, description="Customer file or glob (the newest file is used), or a folder "
        "of Parquet or CSV files read together (hive partitions allowed).")
    url: str | None = Field(
        default=None, description="A database instead of a file: postgresql+psycopg://user@host/db, "
        "sqlite:///file.db or duckdb:///file.duckdb, without the password.")
    table: str | None = Field(default=None, description="With url: the table (or view) to read.")
    spark_table: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*){0,2}$",
        description="With engine: spark, a table of the Spark catalogue (db.table) instead of path.")
    query: str | None = Field(default=None, description="With url: one read-only SELECT to read.")
    password_env: str | None = Field(
        default=None, pattern=ENV_NAME,
        description="Name of the environment variable holding the database password.")
    timeout_seconds: float = Field(default=600, gt=0, description="A read that takes longer stops.")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Export column name -> the database's, e.g. "
        "{ID: customer_id, Dt_Customer: joined_on}.")
    as_of_column: str | None = Field(
        default=None, description="A snapshot column: only the rows of its newest value are read.")
    name: str | None = Field(
        default=None, description="Which customer base this is. Runs compare only with runs of the "
        "same source; empty: the folder the data file is in, or the database and table.")
    date_format: str | None = Field(
        default=None, description="strftime format of Dt_Customer, e.g. '%d-%m-%Y'."
    )
    spend_period: str = Field(
        default="last 2 years", min_length=1, max_length=40,
        description="The period the Mnt* spend columns cover, shown beside every spend figure.")

    @field_validator("table")
    @classmethod
    def _table_name(cls, table: str | None) -> str | None:
        return None if table is None else check_table_name(table, 3, "marketing.customers")

    @model_validator(mode="after")
    def _one_place(self) -> SourceConfig:
        if sum(place is not None for place in (self.path, self.url, self.spark_table)) != 1:
            raise ValueError("give one of path (a file, glob or folder), url (a database) or "
                             "spark_table (with engine: spark)")
        if self.url is not None:
            _check_database_url(self.url)
            if (self.table is None) == (self.query is None):
                raise ValueError("with url, give either table or query")
        elif self.table is not None or self.query is not None or self.password_env is not None:
            raise ValueError("table, query and password_env go with url, not with path")
        return self


def check_table_name(name: str, parts: int, example: str) -> str:
    """The source's and the CRM targets' table names: `parts` dotted identifiers at most (a
    schema before the table), each a letter or _ then letters, digits or _, 63 at most."""
    found = name.split(".")
    if len(found) > parts or not all(TABLE_PART.fullmatch(part) for part in found):
        schema = "[schema.]" if parts == 2 else "[database.][schema.]"
        raise ValueError(f"{name[:80]!r} is not a table name: write {schema}table, each part a "
                         "letter or _ then letters, digits or _ (63 at most), e.g. " + example)
    return name


def _check_database_url(url: str) -> None:
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if "://" not in url or scheme not in DATABASE_SCHEMES:
        raise ValueError("url must start with postgresql://, postgresql+psycopg://, sqlite:/// or "
                         "duckdb:///")
    credentials = url.split("://", 1)[1].split("@", 1)[0] if "@" in url else ""
    if ":" in credentials:
        raise ValueError("url holds a password; remove it and name the environment variable "
                         "holding it in source.password_env")


class OutputConfig(Strict):
    dir: str = "../output"


class CleanConfig(Strict):
    min_age: int = Field(default=18, ge=0)
    max_age: int = Field(default=100, ge=1)
    max_income: float = Field(default=200_000, gt=0)
    duplicates: Literal["merge", "keep", "refuse"] = Field(
        default="merge", description="Rows identical in every column but ID: merge (count the "
        "person once, name the other IDs), keep (count every row) or refuse (stop the run).")

    @model_validator(mode="after")
    def _ages_ordered(self) -> CleanConfig:
        if self.min_age >= self.max_age:
            raise ValueError("min_age must be smaller than max_age")
        return self


class SegmentationConfig(Strict):
    algorithm: Literal["kmeans", "agglomerative", "gmm"] = "kmeans"
    k: int | Literal["auto"] = "auto"
    k_min: int = Field(default=2, ge=2, description="Smallest k whose diagnostics are computed.")
    k_max: int = Field(default=10, ge=2, description="Largest k whose diagnostics are computed.")
    min_useful_k: int = Field(
        default=3, ge=2, description="'auto' never chooses fewer segments than this."
    )
    seed: int = 42
    pca_components: float | int = Field(
        default=0.9, gt=0, description="Below 1: share of variance to keep; 1 or more: a count."
    )
    silhouette_sample_size: int = Field(default=5000, ge=100)
    silhouette_repeats: int = Field(default=5, ge=1, le=50)
    selection_sample_size: int = Field(
        default=20_000, ge=500, description="Above this many customers, k is chosen on a sample."
    )
    elbow_silhouette_tolerance: float = Field(default=0.05, ge=0, le=1)
    features: list[str] = Field(
        default_factory=lambda: [
            "income",
            "total_spending",
            "total_purchases",
            "recency",
            "age",
            "tenure_days",
            "children",
            "deal_share",
            "web_visits",
            "spend_per_purchase",
        ],
        min_length=2,
    )
    categorical: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _k_range(self) -> SegmentationConfig:
        if self.k_min > self.k_max:
            raise ValueError("k_min must not be larger than k_max")
        if not self.k_min <= self.min_useful_k <= self.k_max:
            raise ValueError("min_useful_k must lie between k_min and k_max")
        if isinstance(self.k, int) and self.k < 2:
            raise ValueError("k must be 'auto' or an integer of at least 2")
        if isinstance(self.pca_components, float) and self.pca_components > 1:
            raise ValueError("pca_components: a share of variance is at most 1; a count is whole")
        return self


class StabilityConfig(Strict):
    resamples: int = Field(default=10, ge=0, le=100, description="0 turns the check off.")
    fraction: float = Field(default=0.8, gt=0.1, lt=1.0)
    max_rows: int = Field(default=20_000, ge=500)
    stable_from: float = Field(default=0.8, ge=0, le=1)
    moderate_from: float = Field(default=0.6, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> StabilityConfig:
        if self.moderate_from > self.stable_from:
            raise ValueError("moderate_from must not be above stable_from")
        return self


class ComparisonConfig(Strict):
    enabled: bool = True
    max_rows: int = Field(
        default=5_000, ge=200, description="Agglomerative clustering is fitted on at most this many."
    )
    sample_rows: int = Field(
        default=20_000, ge=500, description="The three methods are compared on at most this many."
    )


DURATION = re.compile(r"^\s*(\d+)\s*(d|days?|w|weeks?)\s*$")


class ModelConfig(Strict):
    """When the saved model is reused, when it is refitted, and what a refit must achieve."""

    refit_every: str = Field(default="4 weeks", description="e.g. '4 weeks' or '28 days'.")
    psi_watch: float = Field(default=0.10, gt=0, description="Drift from here is shown as 'watch'.")
    psi_refit: float = Field(default=0.25, gt=0, description="Drift above this refits the model.")
    min_silhouette: float = Field(default=0.10, ge=-1, le=1)
    min_segment_share: float = Field(default=0.02, ge=0, lt=0.5)
    min_stability: float = Field(default=0.5, ge=0, le=1, description="Mean ARI of the refits.")
    warm_start_tolerance: float = Field(
        default=0.01, ge=0, le=0.5,
        description="A refit started from last model's centres is kept when its inertia is "
                    "within this share of a fresh multi-start fit.")

    @field_validator("refit_every")
    @classmethod
    def _duration(cls, text: str) -> str:
        if not DURATION.match(text):
            raise ValueError(f"{text!r} is not a duration; write e.g. '4 weeks' or '28 days'")
        return text

    @model_validator(mode="after")
    def _ordered(self) -> ModelConfig:
        if self.psi_watch > self.psi_refit:
            raise ValueError("psi_watch must not be above psi_refit")
        return self

    @property
    def refit_every_days(self) -> int:
        number, unit = DURATION.match(self.refit_every).groups()
        return int(number) * (7 if unit.startswith("w") else 1)


class BriefConfig(Strict):
    title: str = "SmartCart weekly customer brief"
    scatter_points: int = Field(default=3000, ge=100)
    action_list_size: int = Field(default=10, ge=1, le=100)
    currency: str = Field(default="$", min_length=1, max_length=5,
                          description="Shown before every money figure, e.g. $, €, £ or CHF.")
    appendix: Literal["attach", "separate", "omit"] = Field(
        default="attach", description="The analyst's appendix: in brief.pdf (attach), in its own "
        "appendix.pdf linked from the brief (separate), or left out (omit).")


class HistoryConfig(Strict):
    valuable: list[str] = Field(default_factory=lambda: ["Premium"],
                                description="Personas whose customers must not slip.")
    slipped_to: list[str] = Field(
        default_factory=lambda: ["Churn Risk", "Low Engagement"],
        description="Personas or customer flags that count as slipping.",
    )
    retention_runs: int | None = Field(
        default=None, ge=1, description="Keep only this many newest runs of a source; empty keeps "
        "all. Older runs not yet delivered, the newest run's baseline and the run the API serves "
        "are kept beyond it."
    )
    prune_undelivered: bool = Field(
        default=False, description="Let retention (and `archive prune`) delete runs beyond the limit "
        "that were held, never sent or not delivered to every team; false keeps them.")


class ExportsConfig(Strict):
    parquet: bool = Field(default=False, description="Also write customers.parquet.")
    chunk_rows: int = Field(default=100_000, ge=1000)


EMAIL = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"


CRON_FIELDS = ("second", "minute", "hour", "day", "month", "day_of_week")


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone '{name}'; use an IANA name such as Europe/London") from None


class Check(Strict):
    """hold: a failure keeps the brief from every team and tells the owners; warn: the brief
    goes out with a banner naming the problem; off: not checked."""

    mode: Literal["hold", "warn", "off"] = "hold"


class FreshDataCheck(Check):
    max_age_days: float = Field(default=8, gt=0, description="A data file last changed longer ago "
                                "than this is stale unless it differs from and is newer than the "
                                "last delivered run's.")


class UnchangedDataCheck(Strict):
    """The data's sha256 against the baseline's (the last delivered run of the source)."""

    mode: Literal["hold", "skip", "warn", "off"] = Field(
        default="hold", description="Same data as the last delivered run: hold the brief, skip the "
        "run (nothing archived, exit code 6), warn (sent with a banner) or off.")


class ShareMoveCheck(Check):
    mode: Literal["hold", "warn", "off"] = "warn"
    max_points: float = Field(default=15, gt=0, description="Largest move of a persona's share, in "
                                                            "percentage points, since the last run.")


class PdfCheck(Check):
    max_mb: float = Field(default=3, gt=0)


class ChecksConfig(Strict):
    """Pre-send checks: what must hold before a brief reaches any team."""

    data_fresh: FreshDataCheck = FreshDataCheck()
    unchanged_data: UnchangedDataCheck = UnchangedDataCheck()
    no_new_empty_persona: Check = Check()
    share_move: ShareMoveCheck = ShareMoveCheck()
    charts_have_data: Check = Check()
    pdf_complete: PdfCheck = PdfCheck()
    model_not_held: Check = Check(mode="warn")


class ScheduleConfig(Strict):
    cron: str = Field(
        default="0 7 * * mon",
        description="minute hour day month weekday (5 fields), or with seconds first (6 fields).",
    )
    timezone: str = Field(default="UTC", description="IANA name, e.g. Europe/London.")
    misfire_grace_hours: float = Field(
        default=12, gt=0, description="A run missed while down still runs at start-up within this."
    )
    jobstore: str | None = Field(
        default=None, description="SQLite file of the scheduler; default <output>/scheduler.sqlite."
    )

    @model_validator(mode="after")
    def _valid(self) -> ScheduleConfig:
        _check_timezone(self.timezone)
        fields = self.cron.split()
        if len(fields) not in (5, 6):
            raise ValueError("cron needs 5 fields (minute hour day month weekday), e.g. '0 7 * * mon'")
        try:
            CronTrigger(**dict(zip(CRON_FIELDS[-len(fields):], fields, strict=True)),
                        timezone=ZoneInfo(self.timezone))
        except ValueError as exc:
            raise ValueError(f"cron '{self.cron}' is not valid ({exc}); for Mondays at 07:00 "
                             "write '0 7 * * mon'") from None
        return self


class SmtpConfig(Strict):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = Field(
        default=None, description="Name of the environment variable holding the password."
    )
    from_address: str = Field(pattern=EMAIL)
    timeout_seconds: float = Field(default=30, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff_seconds: float = Field(default=5, ge=0)
    ca_file: str | None = Field(default=None, description="Extra CA certificate to trust (PEM).")


class DeliveryConfig(Strict):
    """What a delivery promises when the mail server's answer never comes."""

    guarantee: Literal["at-most-once", "at-least-once"] = Field(
        default="at-most-once",
        description="at-most-once: a message handed to the server without its answer is recorded "
                    "uncertain and never sent again by itself; at-least-once: it is sent again "
                    "(a possible duplicate, same Message-ID, rather than a possible loss).")
    max_email_mb: float = Field(default=10, gt=0, le=100,
                                description="An email larger than this is not sent; the owners are told.")
    max_list_mb: float = Field(default=2, gt=0, le=100,
                               description="A call list larger than this is not attached to a "
                                           "team's email; the email says where it is instead.")


class TeamConfig(Strict):
    name: str = Field(min_length=1, max_length=60,
                      description="Letters, digits, spaces and . & ' - only (it names files).")
    recipients: list[Annotated[str, Field(pattern=EMAIL)]] = Field(min_length=1)
    personas: list[str] = Field(default_factory=list, description="Shown first in this team's email.")
    subject: str = "SmartCart weekly brief, {{ date }}: {{ summary }}"
    formats: list[Literal["pdf", "html"]] = Field(default_factory=lambda: ["pdf", "html"])
    name_customers: int = Field(default=5, ge=0, le=50,
                                description="The email names this many first customers of each "
                                            "of the team's flags (0: none).")
    attach_lists: bool = Field(default=True, description="Attach the team's flag call lists "
                                                         "(e.g. churn_risk.csv) as CSV.")
    send_at: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                                description="HH:MM: this team's copy leaves at this local time "
                                            "(under `reporter schedule`); empty: as soon as built.")
    timezone: str | None = Field(default=None, description="IANA name for send_at; default "
                                                           "schedule.timezone.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        if name is not None:
            _check_timezone(name)
        return name

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not re.fullmatch(r"\w[\w .&'-]*", name) or ".." in name:
            raise ValueError(f"team name {name!r} may use letters, digits, spaces and . & ' - "
                             "only (it names files in the archive)")
        return name


class CrmTarget(Strict):
    """Where a delivered run's personas and flags are pushed: a database table (upserted by
    customer ID) or a webhook (the customers that changed, signed)."""

    name: str = Field(min_length=1, max_length=60, pattern=r"^\w[\w .-]*$")
    url: str | None = Field(default=None, description="A database: postgresql+psycopg://user@host/db, "
                            "sqlite:///file.db or duckdb:///file.duckdb, without the password.")
    table: str = Field(default="smartcart_personas", description="With url: the table upserted by "
                       "customer ID, optionally after its schema (crmout.smartcart_personas); created "
                       "if missing.")
    password_env: str | None = Field(default=None, pattern=ENV_NAME)
    webhook: str | None = Field(default=None, pattern=r"^https?://",
                                description="An http(s) address the changed customers are POSTed to.")
    secret_env: str | None = Field(
        default=None, pattern=ENV_NAME,
        description="With webhook: the environment variable holding the HMAC-SHA256 signing secret.")
    batch_size: int = Field(default=500, ge=1, le=100_000)
    timeout_seconds: float = Field(default=30, gt=0)
    retries: int = Field(default=4, ge=0, le=10)
    backoff_seconds: float = Field(default=2, ge=0)

    @field_validator("table")
    @classmethod
    def _table_name(cls, table: str) -> str:
        return check_table_name(table, 2, "crmout.smartcart_personas")

    @model_validator(mode="after")
    def _one_kind(self) -> CrmTarget:
        if (self.url is None) == (self.webhook is None):
            raise ValueError("give either url (a database table) or webhook (an http address)")
        if self.url is not None:
            _check_database_url(self.url)
            if "." in self.table and self.url.lower().startswith("sqlite"):
                raise ValueError(f"table {self.table}: SQLite has no schemas; name the table alone")
        elif self.secret_env is None:
            raise ValueError("a webhook needs secret_env: the environment variable holding the "
                             "signing secret")
        return self


class ApiToken(Strict):
    """A client of `reporter serve`: its bearer token lives in an environment variable."""

    env: str = Field(pattern=ENV_NAME, description="The environment variable holding the token.")
    scopes: list[Literal["read", "assign"]] = Field(
        min_length=1, description="read: runs, briefs, customers, personas; assign: POST /v1/assign.")


class ApiConfig(Strict):
    """`reporter serve`: who a customer is, right now, from the source's latest delivered run."""

    host: str = Field(default="127.0.0.1", description="Without tokens only loopback is allowed.")
    port: int = Field(default=8000, ge=1, le=65535)
    tokens: list[ApiToken] = Field(default_factory=list)
    max_batch: int = Field(default=1000, ge=1, le=100_000, description="Customers per assign request.")
    max_body_kb: int = Field(default=4096, ge=1, description="Largest request body, in kilobytes.")


class LoggingConfig(Strict):
    """Every command's log lines (see docs/operations/logging.md); REPORTER_LOG_LEVEL,
    REPORTER_LOG_FILE and REPORTER_LOG_FORMAT override these."""

    level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="The lowest level written (debug adds every stage's timing).")
    file: str | None = Field(default=None, max_length=4096, description="Also append every line "
                             "to this file (relative to this file); empty: stderr only.")
    format: Literal["auto", "text", "json"] = Field(
        default="auto", description="text: time, level, message; json: one object per line; "
                                    "auto: json for `reporter serve`, text for every other command.")


class SparkConfig(Strict):
    master: str | None = Field(default=None, description="local[*], a cluster URL (spark://, yarn, "
                               "k8s://); empty: spark-submit's --master, else local[*].")
    conf: dict[str, str] = Field(default_factory=dict, description="Spark settings, e.g. "
                                 "{spark.executor.memory: 8g}; spark.sql.shuffle.partitions and so on.")
    sample_rows: int = Field(default=200_000, ge=1000, le=5_000_000,
                             description="Customers brought to the driver to choose k and fit the model; "
                             "every customer is then scored in Spark.")


class ReporterConfig(Strict):
    source: SourceConfig
    engine: Literal["local", "spark"] = Field(
        default="local", description="local: pandas in this process; spark: the heavy stages on Spark.")
    spark: SparkConfig = SparkConfig()
    output: OutputConfig = OutputConfig()
    clean: CleanConfig = CleanConfig()
    segmentation: SegmentationConfig = SegmentationConfig()
    stability: StabilityConfig = StabilityConfig()
    comparison: ComparisonConfig = ComparisonConfig()
    model: ModelConfig = ModelConfig()
    brief: BriefConfig = BriefConfig()
    personas_file: str = "personas.yaml"
    schedule: ScheduleConfig = ScheduleConfig()
    history: HistoryConfig = HistoryConfig()
    exports: ExportsConfig = ExportsConfig()
    smtp: SmtpConfig | None = None
    delivery: DeliveryConfig = DeliveryConfig()
    teams: list[TeamConfig] = Field(default_factory=list)
    owners: list[Annotated[str, Field(pattern=EMAIL)]] = Field(
        default_factory=list, description="Told when a run fails, delivery fails or a brief is held; "
                                          "never sent the brief itself.")
    checks: ChecksConfig = ChecksConfig()
    crm: list[CrmTarget] = Field(default_factory=list,
                                 description="Where each delivered run's personas are pushed.")
    api: ApiConfig = ApiConfig()
    logging: LoggingConfig = LoggingConfig()

    @model_validator(mode="after")
    def _engine_reads_source(self) -> ReporterConfig:
        if self.engine == "local" and self.source.spark_table is not None:
            raise ValueError("source.spark_table is read by engine: spark; set engine: spark or give "
                             "source.path")
        if self.engine == "spark" and self.segmentation.algorithm == "gmm":
            raise ValueError("engine: spark scores kmeans and agglomerative models; set "
                             "segmentation.algorithm to one of them, or engine: local for gmm")
        if self.engine == "spark" and self.source.url is not None:
            raise ValueError("engine: spark reads source.path or source.spark_table; a database url "
                             "is read by engine: local (or expose the table to Spark's catalogue)")
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> ReporterConfig:
        for what, names in (("team", [t.name for t in self.teams]),
                            ("crm target", [t.name for t in self.crm])):
            if len(names) != len(set(names)):
                raise ValueError(f"{what} names must be unique")
        return self


MAX_PERSONAS = 40  # segment personas and customer flags together
MAX_CONDITIONS = 20  # per persona
MAX_ACTIONS = 10  # per persona, each at most MAX_TEXT characters
MAX_TEXT = 240  # a description or an action: one line on a card
# A persona's name is shown in the brief, names files and fills a column of every customer list:
# plain words only, never something a spreadsheet would run as a formula (=, +, -, @ first).
PLAIN_NAME = re.compile(r"[^\W_][\w .,&'()/+-]*")
PLAIN_NAME_RULE = ("letters, digits, spaces and - & ' . , ( ) / + only, starting with a letter or "
                   'digit; write for example "Premium" or "Deal Seekers"')


def check_plain_name(name: str) -> str:
    if not PLAIN_NAME.fullmatch(name):
        raise ValueError(f"a persona name may use {PLAIN_NAME_RULE}")
    return name


Conditions = Annotated[list[str], Field(max_length=MAX_CONDITIONS)]


class RuleGroup(Strict):
    all: Conditions | None = None
    any: Conditions | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RuleGroup:
        if (self.all is None) == (self.any is None):
            raise ValueError("give exactly one of 'all' or 'any', each a list of conditions")
        return self

    @property
    def mode(self) -> str:
        return "all" if self.all is not None else "any"

    @property
    def conditions(self) -> list[str]:
        return self.all if self.all is not None else (self.any or [])


class PersonaSpec(Strict):
    """One persona as written in personas.yaml. Meaning (rules, colours, reachability) is
    checked by `personas.compile_rulebook`, which reports every problem with its line."""

    name: str = Field(min_length=1, max_length=40, description="Letters, digits, spaces and "
                      "- & ' . , ( ) / + only, starting with a letter or digit.")
    description: str = Field(default="", max_length=MAX_TEXT)
    color: str = Field(default="#7f8c8d", max_length=40, description="A CSS colour name or #rrggbb.")
    priority: int = Field(default=100, description="Lower numbers are tried first.")
    level: Literal["segment", "customer"] = Field(
        default="segment",
        description="segment: names whole segments by their average customer; "
        "customer: flags individual customers, whatever their segment.",
    )
    rules: RuleGroup | None = None
    actions: list[Annotated[str, Field(max_length=MAX_TEXT)]] = Field(default_factory=list,
                                                                      max_length=MAX_ACTIONS)
    rank_by: str = Field(
        default="total_spending", max_length=40,
        description="customer level only: the action list is ordered by this metric, highest first.",
    )

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        return check_plain_name(name)


class PersonasFile(Strict):
    fallback: str = Field(default="Other customers",
                          description="The persona for segments that no rule matches.")
    personas: list[PersonaSpec] = Field(min_length=1, max_length=MAX_PERSONAS)


DEFAULT_FALLBACK = PersonaSpec(name="Other customers", color="#7f8c8d", priority=999,
                               description="The customers no other persona's rules describe.")


@dataclass(frozen=True)
class Config:
    """Everything a run needs to know from the user's files, with resolved paths."""

    path: Path
    settings: ReporterConfig
    personas_path: Path
    personas: PersonasFile

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else (self.base_dir / candidate).resolve()

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.settings.output.dir)

    def fingerprint(self) -> str:
        """sha256 of both files' validated content: equal settings give equal hashes."""
        payload = {
            "settings": self.settings.model_dump(mode="json"),
            "personas": self.personas.model_dump(mode="json"),
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def env_secret(variable: str | None, setting: str) -> str:
    """The value of the environment variable a setting names ('' when none is named): secrets
    live in the environment only, never in a file."""
    if not variable:
        return ""
    value = os.environ.get(variable)
    if value is None:
        raise ConfigError(f"{setting} names the environment variable {variable}, which is not set; "
                          "set it where reporter runs (for the scheduler: in its service file)")
    return value


HINT = "fix and check with `reporter validate`"
RuleCheck = Callable[[PersonasFile, Path], list[str]]


class Problems(list):
    """Located problems of one or both files, each 'file: line N, place: what to write'."""

    def add(self, path: Path, located: list[tuple[int, str]]) -> None:
        self.extend(f"{path}: {text}" for _, text in sorted(located, key=lambda item: item[0]))

    def raise_if_any(self) -> None:
        if self:
            self.sort(key=_file_and_line)
            raise ConfigError(f"{first_few(self)}; {HINT}", list(self))


def _file_and_line(problem: str) -> tuple[str, int]:
    """Problems of each file in the order of its lines, whichever check found them."""
    found = re.match(r"(.*?): line (\d+)", problem)
    return (found[1], int(found[2])) if found else (problem, 0)


def _settings(path: Path, problems: Problems) -> ReporterConfig | None:
    try:
        document, text = read_yaml_mapping(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None
    try:
        return ReporterConfig.model_validate(document)
    except ValidationError as exc:
        problems.add(path, validation_problems(text, exc, ReporterConfig, document))
        return None


def read_personas(path: Path, problems: Problems) -> tuple[PersonasFile | None, list[str]]:
    """personas.yaml as a manager writes it, read forgivingly where the meaning is clear: a
    plain list under `rules:` means all of them, a missing `fallback` is "Other customers".
    Every persona is checked on its own, so one mistake never hides the others; returns the
    personas that could be read and the names of all of them (for cross-checks)."""
    try:
        document, text = read_yaml_mapping(path)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None, []
    located: list[tuple[int, str]] = []
    for key in document:
        if key not in PersonasFile.model_fields:
            located.append((line_of(text, (key,)) or 0, f"line {line_of(text, (key,))}, {key}: unknown "
                            f"key; {_close(key, list(PersonasFile.model_fields))}"))
    items = document.get("personas")
    if not isinstance(items, list) or not items:
        located.append((line_of(text, ("personas",)) or 1, f"line {line_of(text, ('personas',)) or 1}, "
                        "personas: missing or empty; list each persona under `personas:`, starting "
                        "with `- name: Premium` (`reporter init` writes a starter file)"))
        items = []
    if len(items) > MAX_PERSONAS:
        line = line_of(text, ("personas", MAX_PERSONAS)) or 0
        located.append((line, f"line {line}, personas: {len(items)} personas, more than the "
                              f"{MAX_PERSONAS} a brief can show; merge some, or move them to "
                              "another rules file"))
        items = items[:MAX_PERSONAS]
    specs = [spec for index, item in enumerate(items)
             if (spec := _persona(item, index, text, document, located)) is not None]
    names = [item["name"] for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)]
    fallback = document.get("fallback")
    if fallback is None:
        fallback, specs = _default_fallback(specs)
    elif not isinstance(fallback, str) or len(fallback) > 40:
        located.append((line_of(text, ("fallback",)) or 0, f"line {line_of(text, ('fallback',))}, "
                        "fallback: must be the name of one persona, such as `fallback: Steady Shoppers`"))
        fallback = DEFAULT_FALLBACK.name
    problems.add(path, located)
    return (PersonasFile(fallback=fallback, personas=specs) if specs else None), names


def _persona(item: Any, index: int, text: str, document: dict,
             located: list[tuple[int, str]]) -> PersonaSpec | None:
    where = ("personas", index)
    line = line_of(text, where) or 0
    if not isinstance(item, dict):
        located.append((line, f"line {line}, personas item {index + 1}: is not a persona; start "
                              "each persona with `- name: ...` and indent its keys under it"))
        return None
    label = f'persona "{item["name"]}"' if isinstance(item.get("name"), str) else f"persona {index + 1}"
    fields = dict(item)
    for key in [k for k in item if k not in PersonaSpec.model_fields]:
        key_line = line_of(text, (*where, key)) or line
        located.append((key_line, f"line {key_line}, {label}: unknown key \"{key}\"; "
                                  f"{_close(str(key), list(PersonaSpec.model_fields))}"))
        del fields[key]
    rules = fields.get("rules")
    if isinstance(rules, list | str):
        fields["rules"] = {"all": rules if isinstance(rules, list) else [rules]}
    try:
        return PersonaSpec.model_validate(fields)
    except ValidationError as exc:
        located.extend(validation_problems(text, exc, PersonaSpec, document, where))
        return None


def _default_fallback(specs: list[PersonaSpec]) -> tuple[str, list[PersonaSpec]]:
    """Without `fallback:`, the one segment persona without rules is it; with none, segments
    no rule names are called "Other customers"."""
    ruleless = [s for s in specs if s.rules is None and s.level == "segment"]
    if len(ruleless) == 1:
        return ruleless[0].name, specs
    if not ruleless and DEFAULT_FALLBACK.name not in {s.name for s in specs}:
        return DEFAULT_FALLBACK.name, [*specs, DEFAULT_FALLBACK]
    return DEFAULT_FALLBACK.name, specs


def _close(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else f"the keys here are {', '.join(known)}"


def _cross_references(settings: ReporterConfig, names: list[str], path: Path) -> Problems:
    """Persona names in reporter.yaml (history, teams) must be personas of the rules file."""
    problems = Problems()
    text = path.read_text(encoding="utf-8")
    used = [(("history", "valuable", i), n) for i, n in enumerate(settings.history.valuable)]
    used += [(("history", "slipped_to", i), n) for i, n in enumerate(settings.history.slipped_to)]
    used += [(("teams", t, "personas", i), n) for t, team in enumerate(settings.teams)
             for i, n in enumerate(team.personas)]
    for loc, name in used:
        if name in names:
            continue
        line = line_of(text, loc)
        place = ".".join(str(step) for step in loc if not isinstance(step, int))
        problems.append(f"{path}: line {line}, {place}: \"{name}\" is not a persona in the rules "
                        f"file; {_near_name(name, names)}")
    return problems


def _near_name(name: str, names: list[str]) -> str:
    same_case = [n for n in names if n.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    return "the personas are " + ", ".join(f'"{n}"' for n in names)


def load_config(path: str | Path, check_rules: RuleCheck | None = None) -> Config:
    """Read and check reporter.yaml and the personas file it names in one pass: every problem
    of both files (structure, keys, with `check_rules` the rules themselves, and the persona
    names reporter.yaml uses) is reported together, one per line."""
    config_path = Path(path).expanduser().resolve()
    problems = Problems()
    settings = _settings(config_path, problems)
    personas_path = Path(settings.personas_file if settings else "personas.yaml").expanduser()
    if not personas_path.is_absolute():
        personas_path = config_path.parent / personas_path
    personas, names = read_personas(personas_path, problems)
    if personas is not None and check_rules is not None:
        problems.extend(check_rules(personas, personas_path))
    if settings is not None and names:
        problems.extend(_cross_references(settings, names, config_path))
    problems.raise_if_any()
    return Config(config_path, settings, personas_path, personas)


SCHEMAS = {"reporter.schema.json": ReporterConfig, "personas.schema.json": PersonasFile}


def schema_text(model: type[BaseModel]) -> str:
    """JSON Schema for editors, generated from the same models that validate the files."""
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = folder / name
        path.write_text(schema_text(model), encoding="utf-8")
        written.append(path)
    return written


__all__ = ["Config", "PersonaSpec", "PersonasFile", "ReporterConfig", "load_config"]
