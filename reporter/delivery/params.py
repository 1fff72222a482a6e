"""Plain parameters of delivery (email, CRM push, owners' notes), made from reporter.yaml at
the edge (app/params.py). Secrets are named here, never held: `reporter.secrets` reads each
one when its target is used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SmtpParams:
    host: str
    from_address: str
    port: int = 587
    security: str = "starttls"  # "starttls", "ssl" or "none"
    username: str | None = None
    password_env: str | None = None  # the environment variable holding the password
    timeout_seconds: float = 30
    retries: int = 3
    backoff_seconds: float = 5
    ca_file: str | None = None


@dataclass(frozen=True)
class TeamParams:
    name: str
    recipients: tuple[str, ...]
    personas: tuple[str, ...] = ()
    subject: str = "SmartCart weekly brief, {{ date }}: {{ summary }}"
    formats: tuple[str, ...] = ("pdf", "html")
    send_at: str | None = None  # HH:MM local time, or as soon as built
    timezone: str | None = None  # for send_at; None: the schedule's
    name_customers: int = 5  # first customers of each of the team's flags named in the body
    attach_lists: bool = True  # the team's flag call lists attached as CSV


@dataclass(frozen=True)
class CrmParams:
    """A database table upserted by customer ID (url) or a webhook (signed with secret_env)."""

    name: str
    url: str | None = None
    table: str = "smartcart_personas"
    password_env: str | None = None
    webhook: str | None = None
    secret_env: str | None = None
    batch_size: int = 500
    timeout_seconds: float = 30
    retries: int = 4
    backoff_seconds: float = 2


@dataclass(frozen=True)
class ScheduleParams:
    cron: str = "0 7 * * mon"
    timezone: str = "UTC"


@dataclass(frozen=True)
class DeliveryParams:
    """Who gets what, through which server, and where the archive is."""

    config_path: Path  # for the commands mailed to owners
    output_dir: Path
    base_dir: Path  # relative database files are read from here
    teams: tuple[TeamParams, ...] = ()
    smtp: SmtpParams | None = None
    owners: tuple[str, ...] = ()
    guarantee: str = "at-most-once"  # or "at-least-once"
    max_email_mb: float = 10
    schedule: ScheduleParams = ScheduleParams()
    crm: tuple[CrmParams, ...] = ()
