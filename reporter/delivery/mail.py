"""Deliver: turn an archived run into one email per team and send it over SMTP.

The brief is archived before anything is sent, and every team's email (subject, HTML, text) is
archived with it, so `reporter send` re-sends exactly what the run produced. Transient failures
(connection refused, time-outs, 4xx replies) are retried with exponential backoff; permanent
ones (5xx replies, refused recipients, TLS or login errors) are not. Passwords come only from
the environment variable the config names, and are never logged or written anywhere.
"""

from __future__ import annotations

import base64
import json
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from pathlib import Path

from reporter.brief.render import CHART_CID, render_email, size_chart_png
from reporter.brief.view import Brief
from reporter.config import ReporterConfig, SmtpConfig, TeamConfig
from reporter.delivery.ledger import Ledger
from reporter.errors import ConfigError

EMAIL_FOLDER = "email"
CHART_FILE = "persona-sizes.png"
TRANSIENT_ERRORS = (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError, OSError)


@dataclass(frozen=True)
class Outcome:
    team: str
    status: str  # "sent", "partly sent", "failed", "already sent" (the ledger) or "written" (.eml)
    recipients: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)  # address -> the server's reply
    attempts: int = 0
    error: str = ""
    at: str = ""
    eml: str = ""  # file name, when written instead of sent

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def slug(name: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", name.lower())) or "team"


def archive_emails(write_bytes: Callable[[str, bytes], object], brief: Brief,
                   teams: list[TeamConfig]) -> None:
    """Write each team's rendered email into the run folder (called before it is published)."""
    if not teams:
        return
    write_bytes(f"{EMAIL_FOLDER}/{CHART_FILE}", size_chart_png(brief))
    for team in teams:
        body = render_email(brief, team.name, tuple(team.personas), team.subject)
        document = {"team": team.name, "subject": body.subject, "html": body.html, "text": body.text}
        write_bytes(f"{EMAIL_FOLDER}/{slug(team.name)}.json",
                    json.dumps(document, indent=1).encode("utf-8"))


def build_message(folder: Path, run_id: str, team: TeamConfig, sender: str,
                  to: tuple[str, ...] | None = None, note: str = "", test: bool = False) -> EmailMessage:
    """A multipart message from the archived files: text, HTML with the CID chart, the PDF.
    `note` (e.g. a delay) opens the body; a test copy says so in the subject and the body.
    Every message gets its own Message-ID and no References, so weekly briefs never thread."""
    document = json.loads((folder / EMAIL_FOLDER / f"{slug(team.name)}.json").read_text("utf-8"))
    domain = sender.rsplit("@", 1)[1]
    if test:
        note = " ".join(filter(None, ["Test copy: sent by `reporter send --test`, not to the team.",
                                      note]))
    message = EmailMessage()
    message["Subject"] = ("[TEST] " if test else "") + document["subject"]
    message["From"] = sender
    message["To"] = ", ".join(to or team.recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(idstring=f"{run_id}.{slug(team.name)}", domain=domain)
    message["List-Id"] = f"SmartCart briefs for {team.name} <{slug(team.name)}.briefs.{domain}>"
    message.set_content(f"{note}\n\n{document['text']}" if note else document["text"])
    if "html" in team.formats:
        html = document["html"]
        if note:
            html = re.sub(r"(<body[^>]*>)", lambda m: f"{m.group(1)}<p><strong>{escape(note)}</strong></p>",
                          html, count=1)
        message.add_alternative(html, subtype="html")
        html_part = message.get_payload()[-1]
        chart = (folder / EMAIL_FOLDER / CHART_FILE).read_bytes()
        html_part.add_related(chart, "image", "png", cid=f"<{CHART_CID}>", filename=CHART_FILE)
    if "pdf" in team.formats:
        message.add_attachment((folder / "brief.pdf").read_bytes(), maintype="application",
                               subtype="pdf", filename=f"smartcart-brief-{run_id}.pdf")
    return message


def inline_images(html: str, folder: Path) -> str:
    """The email's HTML for a browser: the cid: chart as a data: URL (the sent mail keeps cid:)."""
    chart = base64.b64encode((folder / EMAIL_FOLDER / CHART_FILE).read_bytes()).decode("ascii")
    return html.replace(f"cid:{CHART_CID}", f"data:image/png;base64,{chart}")


def send_run(folder: Path, run_id: str, settings: ReporterConfig, teams: list[TeamConfig],
             ledger: Ledger | None, dry_run: bool = False, force: bool = False, note: str = "",
             sleep: Callable[[float], None] = time.sleep) -> list[Outcome]:
    """Send each team's email of a run to the recipients the ledger lets this process claim
    (or, without SMTP or with dry_run, write it as .eml)."""
    smtp = settings.smtp
    sender = smtp.from_address if smtp else "briefs@localhost.localdomain"
    outcomes = []
    for team in teams:
        if smtp is None or dry_run or ledger is None:
            outcomes.append(_write_eml(folder, team, build_message(folder, run_id, team, sender)))
            continue
        claimed = tuple(ledger.claim(run_id, team.name, team.recipients, "forced" if force else "brief"))
        if not claimed:
            outcomes.append(Outcome(team.name, "already sent", (), at=_now()))
            continue
        message = build_message(folder, run_id, team, sender, note=note)
        outcome = send(message, team.name, claimed, smtp, sleep)
        _settle(ledger, run_id, claimed, outcome, message["Message-ID"])
        outcomes.append(outcome)
    return outcomes


def _settle(ledger: Ledger, run_id: str, claimed: tuple[str, ...], outcome: Outcome,
            message_id: str) -> None:
    if outcome.failed:
        ledger.settle(run_id, claimed, "failed", outcome.error or "refused", message_id)
        return
    for recipient in claimed:
        refused = outcome.refused.get(recipient)
        ledger.settle(run_id, [recipient], "failed" if refused else "sent", refused or "", message_id)


def send_test(folder: Path, run_id: str, settings: ReporterConfig, team: TeamConfig,
              address: str) -> Outcome:
    """One copy of a run's email to one address, marked as a test; the ledger is not touched."""
    if settings.smtp is None:
        raise ConfigError("reporter.yaml has no smtp section; a test email needs a mail server")
    message = build_message(folder, run_id, team, settings.smtp.from_address, to=(address,), test=True)
    return send(message, f"{team.name} (test)", (address,), settings.smtp)


def notify_owners(settings: ReporterConfig, ledger: Ledger | None, run_id: str, subject: str,
                  text: str) -> Outcome | None:
    """A short plain-text notice to `owners` (never the brief). Best effort: a failure here
    must not hide the failure being reported."""
    if not settings.owners or settings.smtp is None:
        return None
    smtp = settings.smtp
    message = EmailMessage()
    message["Subject"] = f"[SmartCart briefs] {subject}"
    message["From"] = smtp.from_address
    message["To"] = ", ".join(settings.owners)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(idstring=f"{run_id or 'notice'}.owners",
                                       domain=smtp.from_address.rsplit("@", 1)[1])
    message.set_content(text)
    outcome = send(message, "owners", tuple(settings.owners), smtp)
    if ledger is not None:
        for owner in settings.owners:
            ledger.note(run_id, "owners", owner, "notice", "failed" if outcome.failed else "sent",
                        subject, message["Message-ID"])
    return outcome


def _write_eml(folder: Path, team: TeamConfig, message: EmailMessage) -> Outcome:
    target = folder / EMAIL_FOLDER / f"{slug(team.name)}.eml"
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(bytes(message))
    partial.replace(target)
    return Outcome(team.name, "written", tuple(team.recipients), at=_now(),
                   eml=f"{EMAIL_FOLDER}/{target.name}")


def send(message: EmailMessage, team: str, recipients: tuple[str, ...], smtp: SmtpConfig,
         sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Send with retries for transient failures; report permanent ones at once."""
    error = ""
    for attempt in range(1, smtp.retries + 2):
        try:
            refused = _send_once(message, recipients, smtp)
        except smtplib.SMTPRecipientsRefused as exc:
            return Outcome(team, "failed", recipients, _replies(exc.recipients), attempt,
                           "every recipient was refused", _now())
        except smtplib.SMTPResponseException as exc:
            error = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if not 400 <= exc.smtp_code < 500:
                return Outcome(team, "failed", recipients, {}, attempt, error, _now())
        except ssl.SSLError as exc:
            return Outcome(team, "failed", recipients, {}, attempt, f"TLS: {exc}", _now())
        except smtplib.SMTPNotSupportedError as exc:
            return Outcome(team, "failed", recipients, {}, attempt, str(exc), _now())
        except TRANSIENT_ERRORS as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            status = "partly sent" if refused else "sent"
            return Outcome(team, status, recipients, _replies(refused), attempt, "", _now())
        if attempt <= smtp.retries:
            sleep(smtp.backoff_seconds * 2 ** (attempt - 1))
    return Outcome(team, "failed", recipients, {}, smtp.retries + 1,
                   f"gave up after {smtp.retries + 1} attempts: {error}", _now())


def _send_once(message: EmailMessage, recipients: tuple[str, ...], smtp: SmtpConfig) -> dict:
    context = ssl.create_default_context(cafile=smtp.ca_file)
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, _password(smtp))
        return client.send_message(message, from_addr=smtp.from_address, to_addrs=list(recipients))


def _password(smtp: SmtpConfig) -> str:
    if not smtp.password_env:
        return ""
    value = os.environ.get(smtp.password_env)
    if value is None:
        raise smtplib.SMTPAuthenticationError(
            535, f"environment variable {smtp.password_env} is not set; export it before running")
    return value


def _replies(refused: dict) -> dict[str, str]:
    return {address: f"{code} {_text(reply)}" for address, (code, reply) in refused.items()}


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
