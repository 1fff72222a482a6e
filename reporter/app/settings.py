"""The two YAML files a user edits: `reporter.yaml` (how to run) and `personas.yaml` (what to call
the segments). pydantic gives types, defaults and `extra="forbid"` so that a typo in a key is an
error, not a silently ignored setting. Paths in a config file are relative to that file, so a
scheduler can start `reporter` from any working directory.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from reporter.cron import cron_problem
from reporter.errors import ConfigError, Problem, Problems
from reporter.forms import EMAIL, ENV_NAME, TIME_OF_DAY, WEB_ADDRESS
from reporter.personas.spec import PersonasFile, read_personas
from reporter.secrets import UNSET_FIX, read_secret, unset
from reporter.yamlsource import (
    Strict,
    describe_place,
    error_at,
    line_of,
    load_bounded,
    read_yaml_mapping,
    validation_problems,
)

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

    @field_validator("date_format")
    @classmethod
    def _date_codes(cls, layout: str | None) -> str | None:
        wrong = date_format_problem(layout) if layout is not None else ""
        if wrong:
            raise ValueError(wrong)
        return layout

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


DATE_CODE = re.compile(r"%(.?)", re.DOTALL)
DATE_CODES = frozenset("aAbBcdfGHIjmMpSuUVwWxXyYzZ%")  # strptime's, as pandas reads them
DATE_EXAMPLE = "use strptime codes, e.g. '%d.%m.%Y' for 31.12.2024 (%d day, %m month, %Y year)"


def date_format_problem(layout: str) -> str:
    """What keeps source.date_format from reading a date ('' when nothing): a layout written as
    dd.mm.yyyy would match no date, and a code the reader does not know stops the run."""
    codes = DATE_CODE.findall(layout)
    unknown = [code for code in codes if code not in DATE_CODES]
    if unknown:
        shown = "a % at the end" if unknown[0] == "" else f"%{unknown[0]}"
        return f"{layout[:80]!r}: {shown} is not a strptime code; {DATE_EXAMPLE}"
    if not [code for code in codes if code != "%"]:
        return f"{layout[:80]!r} holds no strptime code (each starts with %); {DATE_EXAMPLE}"
    import pandas as pd  # the reader itself judges the codes' combination (%G needs %V)

    try:
        pd.to_datetime(pd.Series(["2000-01-01"]), format=layout, errors="coerce")
    except ValueError:
        return f"{layout[:80]!r} mixes codes that cannot make one date; {DATE_EXAMPLE}"
    return ""


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
    dir: str = Field(
        default="../output",
        description="The archive: one folder per run, named <YYYY-MM-DD>-<run id>; relative to this "
                    "file.")


class CleanConfig(Strict):
    min_age: int = Field(
        default=18, ge=0,
        description="Customers younger than this (in years, at the data's reference date) are left "
                    "out of fitting.")
    max_age: int = Field(
        default=100, ge=1,
        description="Customers older than this (in years) are left out of fitting.")
    max_income: float = Field(
        default=200_000, gt=0,
        description="Incomes above this (in the data's currency, per year) are left out of fitting.")
    duplicates: Literal["merge", "keep", "refuse"] = Field(
        default="merge", description="Rows identical in every column but ID: merge (count the "
        "person once, name the other IDs), keep (count every row) or refuse (stop the run).")

    @field_validator("max_age")
    @classmethod
    def _ages_ordered(cls, max_age: int, info: ValidationInfo) -> int:
        min_age = info.data.get("min_age")
        if min_age is not None and min_age >= max_age:
            raise ValueError(f"must be larger than min_age ({min_age}); min_age must be smaller "
                             "than max_age")
        return max_age


MAX_SEED = 2**31 - 1  # scikit-learn takes seeds below 2**32; the refits add up to 101 to it


def model_feature(name: str) -> str:
    """A numeric feature the model can use: one the registry computes from the export (the
    predicted p_alive and clv come after the segments)."""
    from reporter.data.features import PREDICTED_FEATURES, REGISTRY  # the rules' check imports it too

    known = [feature for feature in REGISTRY if feature not in PREDICTED_FEATURES]
    if name not in known:
        raise ValueError(f'"{name}" is not a feature; ' + near_name(name, known, "the features "
                         "are listed in docs/marketing/editing-personas.md (The metrics you can use)"))
    return name


def category_feature(name: str) -> str:
    """A categorical feature the model can one-hot encode."""
    from reporter.data.features import CATEGORICAL

    if name not in CATEGORICAL:
        raise ValueError(f'"{name}" is not a categorical feature; ' + near_name(
            name, list(CATEGORICAL), "the categorical features are " + " and ".join(CATEGORICAL)))
    return name


def near_name(name: str, names: list[str], otherwise: str) -> str:
    """'did you mean "income"?' for a name close to one of `names`, else `otherwise`."""
    same_case = [n for n in names if n.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else otherwise


K_WORDS = "must be a whole number such as 5, or auto"


class SegmentationConfig(Strict):
    algorithm: Literal["kmeans", "agglomerative", "gmm"] = Field(
        default="kmeans",
        description="kmeans, agglomerative (Ward, fitted on at most comparison.max_rows customers) "
                    "or gmm (a Gaussian mixture).")
    k: int | Literal["auto"] = Field(
        default="auto",
        description="The number of segments: 'auto' picks it by the elbow of inertia checked "
                    "against the silhouette; a whole number fixes it.")
    k_min: int = Field(default=2, ge=2, description="Smallest k whose diagnostics are computed.")
    k_max: int = Field(default=10, ge=2, description="Largest k whose diagnostics are computed.")
    min_useful_k: int = Field(
        default=3, ge=2, description="'auto' never chooses fewer segments than this."
    )
    seed: int = Field(
        default=42, ge=0, le=MAX_SEED,
        description="Seed for sampling, PCA and clustering: the same data, config and seed give the "
                    "same segments.")
    pca_components: float | int = Field(
        default=0.9, gt=0, description="Below 1: share of variance to keep; 1 or more: a count."
    )
    silhouette_sample_size: int = Field(
        default=5000, ge=100,
        description="The silhouette is exact up to this many customers; above it, the mean over "
                    "silhouette_repeats samples of this size.")
    silhouette_repeats: int = Field(
        default=5, ge=1, le=50,
        description="How many samples the silhouette is averaged over above silhouette_sample_size.")
    selection_sample_size: int = Field(
        default=20_000, ge=500, description="Above this many customers, k is chosen on a sample."
    )
    elbow_silhouette_tolerance: float = Field(
        default=0.05, ge=0, le=1,
        description="The elbow is kept unless its silhouette is more than this below the best one.")
    features: list[Annotated[str, AfterValidator(model_feature)]] = Field(
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
        description="Numeric features the model uses, by their names in the feature registry; at "
                    "least two.")
    categorical: list[Annotated[str, AfterValidator(category_feature)]] = Field(
        default_factory=list,
        description="Categorical features, one-hot encoded (education, living_with); empty: none.")

    @field_validator("features", "categorical")
    @classmethod
    def _once_each(cls, names: list[str]) -> list[str]:
        """A feature listed twice would be two columns of one name, which the model refuses."""
        for index, name in enumerate(names):
            if name in names[:index]:
                raise error_at((index,), f'"{name}" is listed twice; remove one', name)
        return names

    @field_validator("k", mode="before")
    @classmethod
    def _k_words(cls, k: object) -> object:
        """One message for the two kinds k may be (a number, or auto), never one per kind."""
        if isinstance(k, str) and k.strip().isdigit():
            k = int(k)
        if isinstance(k, float) and k.is_integer():  # k: 5.0 was read as 5 before
            k = int(k)
        if k == "auto" or (isinstance(k, int) and not isinstance(k, bool) and k >= 2):
            return k
        raise ValueError("must be auto or a whole number of at least 2" if isinstance(k, int)
                         and not isinstance(k, bool) else K_WORDS)

    @model_validator(mode="after")
    def _k_range(self) -> SegmentationConfig:
        if self.k_min > self.k_max:
            raise error_at(("k_max",), f"must not be smaller than k_min ({self.k_min})", self.k_max)
        if not self.k_min <= self.min_useful_k <= self.k_max:
            raise error_at(("min_useful_k",), f"must lie between k_min ({self.k_min}) and k_max "
                           f"({self.k_max})", self.min_useful_k)
        if isinstance(self.pca_components, float) and self.pca_components > 1:
            raise error_at(("pca_components",), "a share of variance is at most 1; a count is whole",
                           self.pca_components)
        return self


class StabilityConfig(Strict):
    resamples: int = Field(
        default=10, ge=0, le=100,
        description="Refits on random subsamples, compared with the chosen segments by the "
                    "adjusted Rand index; 0 turns the check off.")
    fraction: float = Field(
        default=0.8, gt=0.1, lt=1.0,
        description="Share of the customers in each subsample.")
    max_rows: int = Field(default=20_000, ge=500, description="Customers in each subsample at most.")
    stable_from: float = Field(
        default=0.8, ge=0, le=1,
        description="A mean adjusted Rand index from this is called stable.")
    moderate_from: float = Field(
        default=0.6, ge=0, le=1,
        description="A mean adjusted Rand index from this (and below stable_from) is called "
                    "moderately stable; below it, unstable.")

    @model_validator(mode="after")
    def _ordered(self) -> StabilityConfig:
        if self.moderate_from > self.stable_from:
            raise error_at(("moderate_from",), f"must not be above stable_from ({self.stable_from})",
                           self.moderate_from)
        return self


class ComparisonConfig(Strict):
    enabled: bool = Field(
        default=True,
        description="false: only the chosen algorithm is fitted and the appendix has no comparison.")
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
    min_silhouette: float = Field(
        default=0.10, ge=-1, le=1,
        description="A refit whose silhouette is below this is not used; the previous model is "
                    "kept.")
    min_segment_share: float = Field(
        default=0.02, ge=0, lt=0.5,
        description="A refit with a segment smaller than this share of the customers is not used.")
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
            raise error_at(("psi_watch",), f"must not be above psi_refit ({self.psi_refit})",
                           self.psi_watch)
        return self

    @property
    def refit_every_days(self) -> int:
        number, unit = DURATION.match(self.refit_every).groups()
        return int(number) * (7 if unit.startswith("w") else 1)


class RulesConfig(Strict):
    """How persona names are decided when the segments are named afresh."""

    keep_margin: float = Field(
        default=0.05, ge=0, le=0.5,
        description="A segment keeps last week's persona while it misses that persona's rule by no "
                    "more than this share of each threshold, and takes another only when it clears "
                    "that one's rule by it (0.05 = 5%; 0 turns it off).")


class BriefConfig(Strict):
    title: str = Field(
        default="SmartCart weekly customer brief",
        description="The brief's title, on its first page and in the email.")
    scatter_points: int = Field(
        default=3000, ge=100,
        description="The PCA scatter draws at most this many customers (a fixed-seed sample of "
                    "larger tables).")
    action_list_size: int = Field(
        default=10, ge=1, le=100,
        description="Customers listed per persona in the brief's action lists.")
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
    grading_weeks: int = Field(
        default=13, ge=0, le=104, description="Grade the predictions of earlier briefs made at most "
        "this many weeks before this week's data (0: no grading); the appendix and the app show it.")
    grading_min_bin: int = Field(
        default=30, ge=1, le=100_000, description="Customers a 10-point band of predicted chance "
        "needs in a grading table; a smaller band is merged with its neighbour.")
    grading_min_customers: int = Field(
        default=100, ge=1, le=10_000_000, description="Customers an earlier brief's prediction needs "
        "to be graded; below it the brief says 'not enough customers yet'.")


class ExportsConfig(Strict):
    parquet: bool = Field(default=False, description="Also write customers.parquet.")
    chunk_rows: int = Field(
        default=100_000, ge=1000,
        description="Rows written per chunk, so large tables are written without a second copy in "
                    "memory.")


class ControlGroupsConfig(Strict):
    share: float = Field(
        default=0.10, ge=0, le=0.5,
        description="Of every call list (each customer flag and next_campaign.csv), this share is "
        "held back as a control group and not contacted, so later briefs can measure what "
        "contacting did; a flag's control_share in personas.yaml overrides it; 0 switches it off.")
    window_weeks: int = Field(
        default=4, ge=1, le=52,
        description="A customer stays in (or out of) a list's control group for a whole campaign "
        "window of this many weeks; the next window draws the groups afresh.")
    window_anchor: date = Field(
        default=date(2024, 1, 1),
        description="The day windows are counted from (in blocks of window_weeks), so every run "
        "of a window draws the same groups.")
    look_back_weeks: int = Field(
        default=12, ge=1, le=104,
        description="A brief measures the lists of the earlier briefs of its source up to this "
        "many weeks old.")
    widest_interval_points: float = Field(
        default=20.0, gt=0, le=100,
        description="A measured difference whose 95% interval is wider than this (in percentage "
        "points, from low end to high end) is reported as 'not enough customers yet'.")


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone '{name}'; use an IANA name such as Europe/London") from None


class Check(Strict):
    """hold: a failure keeps the brief from every team and tells the owners; warn: the brief
    goes out with a banner naming the problem; off: not checked."""

    mode: Literal["hold", "warn", "off"] = Field(
        default="hold",
        description="hold: the brief is kept from every team and the owners are told; warn: sent "
                    "with a banner; off: not checked.")


class FreshDataCheck(Check):
    max_age_days: float = Field(default=8, gt=0, description="A data file last changed longer ago "
                                "than this is stale unless it differs from and is newer than the "
                                "last delivered run's.")


class UnchangedDataCheck(Strict):
    """The data's sha256 against the baseline's (the last delivered run of the source)."""

    mode: Literal["hold", "skip", "warn", "off"] = Field(
        default="hold", description="Same data as the last delivered run: hold the brief, skip the "
        "run (nothing archived, exit code 6), warn (sent with a banner) or off.")


class EmptyPersonaCheck(Check):
    rules_emptied: Literal["hold", "warn", "off"] = Field(
        default="warn", description="When an edit of personas.yaml, not the data, left a persona "
        "with no customers: hold, warn (the brief says where its customers went) or off.")


class ShareMoveCheck(Check):
    mode: Literal["hold", "warn", "off"] = Field(
        default="warn",
        description="hold: the brief is kept from every team and the owners are told; warn: sent "
                    "with a banner; off: not checked.")
    max_points: float = Field(default=15, gt=0, description="Largest move of a persona's share, in "
                                                            "percentage points, since the last run.")


class CustomerCountCheck(Check):
    max_drop_percent: float = Field(
        default=25, gt=0, le=100,
        description="Largest fall in the number of customers since the last delivered run, in "
                    "percent: a bigger one is an export cut short or filtered.")


class PdfCheck(Check):
    max_mb: float = Field(
        default=3, gt=0,
        description="The PDF must read back with every section and be at most this many megabytes.")


class ChecksConfig(Strict):
    """Pre-send checks: what must hold before a brief reaches any team."""

    data_fresh: FreshDataCheck = Field(
        default=FreshDataCheck(),
        description="By time: the data file changed within max_age_days, or differs from and is "
                    "newer than the last delivered run's.")
    unchanged_data: UnchangedDataCheck = Field(
        default=UnchangedDataCheck(),
        description="By content: the data's sha256 differs from the one the last delivered run of "
                    "this source read.")
    no_new_empty_persona: EmptyPersonaCheck = Field(
        default=EmptyPersonaCheck(),
        description="No persona with customers last run has none now.")
    share_move: ShareMoveCheck = Field(
        default=ShareMoveCheck(),
        description="No persona's share moved more than max_points since the last run.")
    customer_count: CustomerCountCheck = Field(
        default=CustomerCountCheck(),
        description="The number of customers fell by no more than max_drop_percent since the "
                    "last delivered run.")
    charts_have_data: Check = Field(default=Check(), description="Every chart of the brief has data to draw.")
    pdf_complete: PdfCheck = Field(
        default=PdfCheck(),
        description="The PDF reads back with every section and is under max_mb.")
    model_not_held: Check = Field(
        default=Check(mode="warn"),
        description="A refit fell short and the previous model was kept.")


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

    @field_validator("cron")
    @classmethod
    def _cron(cls, cron: str) -> str:
        if len(cron.split()) not in (5, 6):
            raise ValueError("cron needs 5 fields (minute hour day month weekday), e.g. '0 7 * * mon'")
        wrong = cron_problem(cron)
        if wrong:
            raise ValueError(f"cron '{cron}' is not valid ({wrong}); for Mondays at 07:00 "
                             "write '0 7 * * mon'")
        return cron

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        _check_timezone(name)
        return name


class SmtpConfig(Strict):
    host: str = Field(description="The mail server's host name.")
    port: int = Field(
        default=587, ge=1, le=65535,
        description="The mail server's port: usually 587 with starttls, 465 with ssl.")
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        description="starttls, ssl (implicit TLS) or none.")
    username: str | None = Field(default=None, description="The login; empty: no login.")
    password_env: str | None = Field(
        default=None, description="Name of the environment variable holding the password."
    )
    from_address: str = Field(pattern=EMAIL, description="The sender of every email.")
    timeout_seconds: float = Field(
        default=30, gt=0,
        description="A connection or answer that takes longer, in seconds, counts as failed.")
    retries: int = Field(
        default=3, ge=0, le=10,
        description="Transient failures (refused, time-out, 4xx) are retried this many times.")
    backoff_seconds: float = Field(
        default=5, ge=0,
        description="Seconds before the first retry; each further retry waits twice as long.")
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
    recipients: list[Annotated[str, Field(pattern=EMAIL)]] = Field(
        min_length=1,
        description="The team's email addresses; each gets one copy per run.")
    personas: list[str] = Field(default_factory=list, description="Shown first in this team's email.")
    subject: str = Field(
        default="SmartCart weekly brief, {{ date }}: {{ summary }}",
        description="A template with {{ date }}, {{ summary }} (the first flag's customers to "
        "contact), {{ customers }}, {{ team }} and {{ flags['Churn Risk'] }} (the customers that "
        "flag's list holds to contact).")
    formats: list[Literal["pdf", "html"]] = Field(
        default_factory=lambda: ["pdf", "html"],
        description="What the email carries: pdf (attached), html (the summary in the body).")
    name_customers: int = Field(default=5, ge=0, le=50,
                                description="The email names this many first customers of each "
                                            "of the team's flags (0: none).")
    attach_lists: bool = Field(default=True, description="Attach the team's flag call lists "
                                                         "(e.g. churn_risk.csv) as CSV.")
    send_at: str | None = Field(default=None, pattern=TIME_OF_DAY,
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

    name: str = Field(
        min_length=1, max_length=60, pattern=r"^\w[\w .-]*$",
        description="Names the target in messages, the ledger and `reporter push --target`.")
    url: str | None = Field(default=None, description="A database: postgresql+psycopg://user@host/db, "
                            "sqlite:///file.db or duckdb:///file.duckdb, without the password.")
    table: str = Field(default="smartcart_personas", description="With url: the table upserted by "
                       "customer ID, optionally after its schema (crmout.smartcart_personas); created "
                       "if missing.")
    password_env: str | None = Field(
        default=None, pattern=ENV_NAME,
        description="With url: the environment variable holding the database password.")
    webhook: str | None = Field(default=None, pattern=WEB_ADDRESS,
                                description="An http(s) address the changed customers are POSTed to.")
    secret_env: str | None = Field(
        default=None, pattern=ENV_NAME,
        description="With webhook: the environment variable holding the HMAC-SHA256 signing secret.")
    batch_size: int = Field(
        default=500, ge=1, le=100_000,
        description="Customers per transaction or per webhook request.")
    timeout_seconds: float = Field(
        default=30, gt=0,
        description="A request or statement that takes longer, in seconds, counts as failed.")
    retries: int = Field(
        default=4, ge=0, le=10,
        description="Transient failures are retried this many times.")
    backoff_seconds: float = Field(
        default=2, ge=0,
        description="Seconds before the first retry; each further retry waits twice as long.")

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
    port: int = Field(default=8000, ge=1, le=65535, description="The port `reporter serve` listens on.")
    tokens: list[ApiToken] = Field(
        default_factory=list,
        description="The clients, each with its token's environment variable and scopes; empty: no "
                    "token, loopback only.")
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
    source: SourceConfig = Field(
        description="Where the customers are read from: a file, glob or folder (path), a database "
                    "(url), or a Spark table.")
    engine: Literal["local", "spark"] = Field(
        default="local", description="local: pandas in this process; spark: the heavy stages on Spark.")
    spark: SparkConfig = Field(
        default=SparkConfig(),
        description="With engine: spark, how the Spark session is made.")
    output: OutputConfig = Field(default=OutputConfig(), description="Where the archive of runs is written.")
    clean: CleanConfig = Field(
        default=CleanConfig(),
        description="Which customers are left out of fitting the segments (they are still briefed, "
                    "counted in their segment's size but not in its averages), and what to do with "
                    "duplicate rows.")
    segmentation: SegmentationConfig = Field(
        default=SegmentationConfig(),
        description="How the segments are found: the algorithm, how many, and from which features.")
    stability: StabilityConfig = Field(
        default=StabilityConfig(),
        description="How stable the segments are when refitted on subsamples, and the words the "
                    "brief uses for it.")
    comparison: ComparisonConfig = Field(
        default=ComparisonConfig(),
        description="Agglomerative clustering and a Gaussian mixture compared with KMeans in the "
                    "appendix.")
    model: ModelConfig = Field(
        default=ModelConfig(),
        description="When the saved model is reused, when it is refitted, and what a refit must "
                    "achieve.")
    rules: RulesConfig = Field(
        default=RulesConfig(),
        description="How persona names are decided when the segments are named afresh (a refit or a "
                    "week the rules changed).")
    brief: BriefConfig = Field(default=BriefConfig(), description="What the brief shows and how.")
    personas_file: str = Field(
        default="personas.yaml",
        description="The persona rules, owned by marketing, relative to this file.")
    schedule: ScheduleConfig = Field(
        default=ScheduleConfig(),
        description="When `reporter schedule` makes a brief.")
    history: HistoryConfig = Field(
        default=HistoryConfig(),
        description="Week-over-week lists and how many runs the archive keeps.")
    exports: ExportsConfig = Field(
        default=ExportsConfig(),
        description="The customer lists written into every run folder.")
    control_groups: ControlGroupsConfig = Field(
        default=ControlGroupsConfig(),
        description="The control group every call list holds back, and how later briefs "
                    "measure what the lists did.")
    smtp: SmtpConfig | None = Field(
        default=None,
        description="The mail server; empty: each team's email is written as an .eml file in the "
                    "run folder instead of being sent.")
    delivery: DeliveryConfig = Field(
        default=DeliveryConfig(),
        description="What a delivery promises when the mail server's answer never comes.")
    teams: list[TeamConfig] = Field(
        default_factory=list,
        description="Who receives the brief: one email per team, a summary in the body and the PDF "
                    "attached.")
    owners: list[Annotated[str, Field(pattern=EMAIL)]] = Field(
        default_factory=list, description="Told when a run fails, delivery fails or a brief is held; "
                                          "never sent the brief itself.")
    checks: ChecksConfig = Field(
        default=ChecksConfig(),
        description="Pre-send checks: what must hold before a brief reaches any team.")
    crm: list[CrmTarget] = Field(default_factory=list,
                                 description="Where each delivered run's personas are pushed.")
    api: ApiConfig = Field(
        default=ApiConfig(),
        description="`reporter serve`: who a customer is, right now, over HTTP.")
    logging: LoggingConfig = Field(default=LoggingConfig(), description="The log lines of every command.")

    @model_validator(mode="after")
    def _engine_reads_source(self) -> ReporterConfig:
        if self.engine == "local" and self.source.spark_table is not None:
            raise error_at(("source", "spark_table"), "source.spark_table is read by engine: spark; "
                           "set engine: spark or give source.path")
        if self.engine == "spark" and self.segmentation.algorithm == "gmm":
            raise error_at(("segmentation", "algorithm"), "engine: spark scores kmeans and "
                           "agglomerative models; set segmentation.algorithm to one of them, or "
                           "engine: local for gmm")
        if self.engine == "spark" and self.source.url is not None:
            raise error_at(("source", "url"), "engine: spark reads source.path or source.spark_table; "
                           "a database url is read by engine: local (or expose the table to Spark's "
                           "catalogue)")
        return self

    @field_validator("teams")
    @classmethod
    def _team_names(cls, teams: list[TeamConfig]) -> list[TeamConfig]:
        return unique_names(teams, "team")

    @field_validator("crm")
    @classmethod
    def _target_names(cls, targets: list[CrmTarget]) -> list[CrmTarget]:
        return unique_names(targets, "crm target")


def unique_names(items: list, what: str) -> list:
    """Teams and CRM targets are told apart by name (files, the ledger): a repeated name is
    refused at the second one's `name:` line."""
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.name in seen:
            raise error_at((index, "name"), f'{what} {seen[item.name] + 1} above is also named '
                           f'"{item.name}"; {what} names must be unique, rename one', item.name)
        seen[item.name] = index
    return items


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


RuleCheck = Callable[[PersonasFile, Path], list[Problem]]


def _settings(path: Path, problems: Problems) -> ReporterConfig | None:
    try:
        document, text = read_yaml_mapping(path, "check the path given to --config, or run from the "
                                                 "project folder (the one holding config/reporter.yaml)")
    except ConfigError as exc:
        problems.extend(exc.found)
        return None
    try:
        return ReporterConfig.model_validate(document)
    except ValidationError as exc:
        problems.in_file(path, validation_problems(text, exc, ReporterConfig, document))
        return None


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
        problems.append(Problem(f'"{name}" is not a persona in the rules file', str(path), line or 0,
                                place, _near_name(name, names)))
    return problems


def _near_name(name: str, names: list[str]) -> str:
    return near_name(name, names, "the personas are " + ", ".join(f'"{n}"' for n in names))


def load_config(path: str | Path, check_rules: RuleCheck | None = None) -> Config:
    """Read and check reporter.yaml and the personas file it names in one pass: every problem
    of both files (structure, keys, with `check_rules` the rules themselves, and the persona
    names reporter.yaml uses) is reported together, one per line."""
    config_path = Path(path).expanduser().resolve()
    problems = Problems()
    settings = _settings(config_path, problems)
    if settings is None and not config_path.exists():  # nothing else can be checked without it
        problems.raise_if_any()
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


__all__ = ["Config", "ReporterConfig", "load_config"]


def check_secrets(config: Config) -> None:
    """Every environment variable reporter.yaml names must be set where the command runs
    (`reporter validate`): said before a scheduled run finds out."""
    settings, text = config.settings, config.path.read_text(encoding="utf-8")
    named = [(("smtp", "password_env"), settings.smtp.password_env if settings.smtp else None),
             (("source", "password_env"), settings.source.password_env)]
    for index, target in enumerate(settings.crm):
        named += [(("crm", index, "password_env"), target.password_env),
                  (("crm", index, "secret_env"), target.secret_env)]
    named += [(("api", "tokens", index, "env"), token.env)  # `reporter serve` refused to start
              for index, token in enumerate(settings.api.tokens)]
    document = load_bounded(text)
    problems = [Problem(unset(variable), str(config.path), line_of(text, place) or 0,
                        describe_place(document, place), UNSET_FIX)
                for place, variable in named if variable and read_secret(variable) is None]
    if problems:
        raise ConfigError(str(problems[0]), problems)


def owner_warnings(config: Config) -> list[str]:
    """Without owners nobody hears of a held brief, a failed email or a failed CRM push."""
    if config.settings.owners:
        return []
    return [f"{config.path}: owners: is empty, so nobody is told when a brief is held, an email "
            "fails or a CRM push fails (only the exit code and these lines say so); add the "
            "addresses of the people who look after the briefs"]
