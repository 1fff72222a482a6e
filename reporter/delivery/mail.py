"""Deliver: turn an archived run into one email per team and send it over SMTP.

The brief is archived before anything is sent, and every team's email (subject, HTML, text) is
archived with it, so `reporter send` re-sends exactly what the run produced. The SMTP
conversation is driven step by step (EHLO, MAIL, RCPT, DATA), so a failure is known to come
before or after the message data was handed to the server. Before: transient failures
(connection refused, time-outs, 4xx replies to MAIL, RCPT or the data) are retried with
exponential backoff; permanent ones (5xx replies, refused recipients, TLS or login errors) are
not. After the data, without the server's answer (a time-out, a dropped connection), the
outcome is unknown: at most once (the default) it is `uncertain` and never sent again by
itself; at least once it is retried. Every brief of a run and team has the same Message-ID, so
a server that de-duplicates keeps one copy. Passwords come only from the environment variable
the config names, and are never logged or written anywhere.
"""

from __future__ import annotations

import base64
import io
import json
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape
from pathlib import Path

from reporter.brief.render import CHART_CID, render_email, size_chart_png
from reporter.brief.view import Brief
from reporter.delivery.calllists import attachment, call_lists, named_customers, team_flags
from reporter.delivery.faults import fault_point
from reporter.delivery.hints import console_command
from reporter.delivery.ledger import AT_LEAST_ONCE, Ledger, LedgerRow
from reporter.delivery.params import DeliveryParams, SmtpParams, TeamParams
from reporter.errors import ArchiveError, ConfigError
from reporter.secrets import read_secret

EMAIL_FOLDER = "email"
CHART_FILE = "persona-sizes.png"
TRANSIENT_ERRORS = (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError, OSError)


MB = 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    team: str
    status: str  # "sent", "partly sent", "failed", "uncertain", "too large", "already sent"
    #              (the ledger), "skipped" (the team left the config) or "written" (.eml)
    recipients: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)  # address -> the server's reply
    attempts: int = 0  # 0: nothing was sent this time
    error: str = ""
    at: str = ""
    eml: str = ""  # file name, when written instead of sent
    skipped: dict[str, str] = field(default_factory=dict)  # address -> why it was not sent again

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "too large")

    @property
    def unconfirmed(self) -> bool:
        """This attempt handed the message over and got no answer."""
        return self.status == "uncertain" and self.attempts > 0


@dataclass(frozen=True)
class Steps:
    """What a send tells its caller as it goes, so the ledger knows the phase if the process
    dies: the data is about to be handed over, or the server refused it (nothing delivered)."""

    handing_over: Callable[[tuple[str, ...]], None] = lambda recipients: None
    taken_back: Callable[[tuple[str, ...]], None] = lambda recipients: None


class Unconfirmed(Exception):
    """The message data was handed to the server, and its answer never came."""

    def __init__(self, reason: str, refused: dict):
        super().__init__(reason)
        self.reason, self.refused = reason, refused


def slug(name: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", name.lower())) or "team"


def archive_emails(write_bytes: Callable[[str, bytes], object], brief: Brief,
                   teams: list[TeamParams], size_of: Callable[[str], int | None] = lambda name: None,
                   limits: tuple[float, float] = (2, 10), where: str = "") -> None:
    """Write each team's rendered email into the run folder (called before it is published).
    `size_of`: a run file's size (None: not written); `limits`: delivery.max_list_mb and
    max_email_mb; `where`: the run folder as the body names it for a list not attached."""
    if not teams:
        return
    write_bytes(f"{EMAIL_FOLDER}/{CHART_FILE}", size_chart_png(brief))
    for team in teams:
        flags = team_flags(brief, tuple(team.personas))
        pdf = (size_of("brief.pdf") or 0) if "pdf" in team.formats else 0
        lists = call_lists(flags, size_of, team.attach_lists, *limits, pdf, where)
        calls = named_customers(brief, flags, team.name_customers)
        body = render_email(brief, team.name, tuple(team.personas), team.subject, calls, lists)
        document = {"team": team.name, "subject": body.subject, "html": body.html, "text": body.text,
                    "attachments": [{"file": c.file, "size": c.size} for c in lists if c.attached]}
        write_bytes(f"{EMAIL_FOLDER}/{slug(team.name)}.json",
                    json.dumps(document, indent=1).encode("utf-8"))


def build_message(folder: Path, run_id: str, team: TeamParams, sender: str,
                  to: tuple[str, ...] | None = None, note: str = "", test: bool = False) -> EmailMessage:
    """A multipart message from the archived files: text, HTML with the CID chart, the PDF.
    `note` (e.g. a delay) opens the body; a test copy says so in the subject and the body.
    A run's email to a team always has the same Message-ID (a server that de-duplicates keeps
    one copy of a re-send); a test copy gets its own. No References: weekly briefs never thread."""
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
    message["Message-ID"] = (make_msgid(idstring=f"{run_id}.{slug(team.name)}.test", domain=domain)
                             if test else brief_message_id(run_id, team.name, domain))
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
        html_part.add_related(chart, "image", "png", cid=f"<{CHART_CID}>", filename=CHART_FILE,
                              disposition="inline")  # shown in the HTML, not a download
    if "pdf" in team.formats:
        message.add_attachment((folder / "brief.pdf").read_bytes(), maintype="application",
                               subtype="pdf", filename=f"smartcart-brief-{run_id}.pdf")
    _attach_lists(message, folder, document.get("attachments", []))
    return message


def _attach_lists(message: EmailMessage, folder: Path, attachments: object) -> None:
    """The team's call lists the body says are attached (the archived document names them)."""
    if not isinstance(attachments, list):
        raise ArchiveError(f"{folder}: the archived email's attachments are not a list; send again "
                           "after `reporter rerender`")
    for entry in attachments:
        name = entry.get("file") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(size, int):
            raise ArchiveError(f"{folder}: an archived email attachment is not a file and size")
        data = attachment(folder, name, size)
        message.add_attachment(data, maintype="text", subtype="csv",
                               filename=name.replace("/", "-"))


def brief_message_id(run_id: str, team: str, domain: str) -> str:
    """The one Message-ID of a run's brief to a team, however often it is sent."""
    return f"<brief.{run_id}.{slug(team)}@{domain}>"


def inline_images(html: str, folder: Path) -> str:
    """The email's HTML for a browser: the cid: chart as a data: URL (the sent mail keeps cid:)."""
    chart = base64.b64encode((folder / EMAIL_FOLDER / CHART_FILE).read_bytes()).decode("ascii")
    return html.replace(f"cid:{CHART_CID}", f"data:image/png;base64,{chart}")


def send_run(folder: Path, run_id: str, settings: DeliveryParams, teams: list[TeamParams],
             ledger: Ledger | None, dry_run: bool = False, force: bool = False, note: str = "",
             sleep: Callable[[float], None] = time.sleep,
             config_path: Path | None = None) -> list[Outcome]:
    """Send each team's email of a run to the recipients the ledger lets this process claim
    (or, without SMTP or with dry_run, write it as .eml). `config_path` goes into the commands
    the outcomes suggest."""
    smtp = settings.smtp
    sender = smtp.from_address if smtp else "briefs@localhost.localdomain"
    outcomes = []
    for team in teams:
        message = build_message(folder, run_id, team, sender, note=note)
        if smtp is None or dry_run or ledger is None:
            outcomes.append(_write_eml(folder, team, message))
            continue
        too_large = _too_large(message, team, settings.max_email_mb,
                               console_command(config_path, "send", "--run", run_id))
        outcomes.append(too_large or _send_team(message, run_id, team, smtp, ledger, force, sleep,
                                                settings.guarantee == AT_LEAST_ONCE,
                                                config_path))
    return outcomes


def _too_large(message: EmailMessage, team: TeamParams, max_mb: float,
               resend: str) -> Outcome | None:
    size = len(bytes(message))
    if size <= max_mb * MB:
        return None
    return Outcome(team.name, "too large", tuple(team.recipients), at=_now(), error=(
        f"the email is {size / MB:.1f} MB, over delivery.max_email_mb ({max_mb:g} MB), so it was "
        "not sent; send a smaller brief (fewer formats for this team, a shorter personas.yaml) "
        f"or raise the limit if the mail server accepts it, then `{resend}`"))


def _send_team(message: EmailMessage, run_id: str, team: TeamParams, smtp: SmtpParams, ledger: Ledger,
               force: bool, sleep: Callable[[float], None], at_least_once: bool,
               config_path: Path | None = None) -> Outcome:
    """Claim, send, settle one team's email; recipients not sent again are said with why. A
    recipient who has the brief through another team is left out of this team's To: header
    and recorded as skipped, once."""
    claimed = tuple(ledger.claim(run_id, team.name, team.recipients, "forced" if force else "brief"))
    kept = ledger.standing(run_id, [r for r in team.recipients if r not in claimed])
    elsewhere = {r: row for r, row in kept.items() if row.team != team.name}
    _note_elsewhere(ledger, run_id, team.name, elsewhere)
    skipped = {r: _why_skipped(row, config_path) for r, row in kept.items()
               if row.status == "uncertain" and r not in elsewhere}
    skipped |= {r: with_team(row) for r, row in elsewhere.items()}
    if not claimed:
        uncertain = any(row.status == "uncertain" for row in kept.values())
        return Outcome(team.name, "uncertain" if uncertain else "already sent", (), at=_now(),
                       skipped=skipped)
    if elsewhere:
        message.replace_header("To", ", ".join(r for r in team.recipients if r not in elsewhere))
    fault_point("claimed")
    steps = Steps(lambda accepted: ledger.mark(run_id, accepted, "claimed", "sending"),
                  lambda accepted: ledger.mark(run_id, accepted, "sending", "claimed"))
    outcome = send(message, team.name, claimed, smtp, sleep, steps, at_least_once)
    fault_point("answered")
    _settle(ledger, run_id, claimed, outcome, message["Message-ID"])
    return replace(outcome, skipped=skipped)


def with_team(row: LedgerRow) -> str:
    """'received with team Marketing': the detail of a `skipped` ledger row."""
    return f"{'received' if row.status == 'sent' else row.status} with team {row.team}"


def _note_elsewhere(ledger: Ledger, run_id: str, team: str, elsewhere: dict[str, LedgerRow]) -> None:
    """One `skipped` row per recipient and team: the copy went with another team's email."""
    noted = {row.recipient for row in ledger.rows(run_id) if row.team == team
             and row.status == "skipped"}
    for recipient, row in elsewhere.items():
        if recipient not in noted:
            ledger.note(run_id, team, recipient, "brief", "skipped", with_team(row), row.message_id)


def _why_skipped(row: LedgerRow, config_path: Path | None = None) -> str:
    again = console_command(config_path, "send", "--run", row.run_id, "--team", row.team, "--force")
    return (f"uncertain since {row.at}: {row.detail or 'the mail server never confirmed it'}; not sent "
            "again, so it cannot arrive twice: ask the recipient or check the mail server's log, and "
            f"only if it did not arrive, `{again}`")


def _settle(ledger: Ledger, run_id: str, claimed: tuple[str, ...], outcome: Outcome,
            message_id: str) -> None:
    if outcome.status == "failed":
        ledger.settle(run_id, claimed, "failed", outcome.error or "refused", message_id)
        return
    status = "uncertain" if outcome.status == "uncertain" else "sent"
    for recipient in claimed:
        refused = outcome.refused.get(recipient)
        ledger.settle(run_id, [recipient], "failed" if refused else status, refused or outcome.error,
                      message_id)


def send_test(folder: Path, run_id: str, settings: DeliveryParams, team: TeamParams,
              address: str) -> Outcome:
    """One copy of a run's email to one address, marked as a test; the ledger is not touched."""
    if settings.smtp is None:
        raise ConfigError("reporter.yaml has no smtp section; a test email needs a mail server")
    message = build_message(folder, run_id, team, settings.smtp.from_address, to=(address,), test=True)
    return send(message, f"{team.name} (test)", (address,), settings.smtp)


def notify_owners(settings: DeliveryParams, ledger: Ledger | None, run_id: str, subject: str,
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
            ledger.note(run_id, "owners", owner, "notice", outcome.status if outcome.failed
                        or outcome.unconfirmed else "sent", subject, message["Message-ID"])
    return outcome


def _write_eml(folder: Path, team: TeamParams, message: EmailMessage) -> Outcome:
    target = folder / EMAIL_FOLDER / f"{slug(team.name)}.eml"
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(bytes(message))
    partial.replace(target)
    return Outcome(team.name, "written", tuple(team.recipients), at=_now(),
                   eml=f"{EMAIL_FOLDER}/{target.name}")


def send(message: EmailMessage, team: str, recipients: tuple[str, ...], smtp: SmtpParams,
         sleep: Callable[[float], None] = time.sleep, steps: Steps = Steps(),
         at_least_once: bool = False) -> Outcome:
    """Send with retries for failures before the data was handed over; report permanent ones
    at once. A message handed over without an answer is uncertain (at most once) or retried
    (at least once)."""
    missing = _missing_password(smtp)
    if missing:  # nothing to try again: no server was asked
        return Outcome(team, "failed", recipients, {}, 0, missing, _now())
    error = ""
    for attempt in range(1, smtp.retries + 2):
        try:
            refused = _send_once(message, recipients, smtp, steps, last=attempt > smtp.retries)
        except Unconfirmed as exc:
            if not at_least_once:
                return Outcome(team, "uncertain", recipients, _replies(exc.refused), attempt,
                               exc.reason, _now())
            error = exc.reason + "; it may have arrived"
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


def _send_once(message: EmailMessage, recipients: tuple[str, ...], smtp: SmtpParams, steps: Steps,
               last: bool) -> dict:
    """One SMTP conversation; the recipients refused for good. Raises Unconfirmed once the
    data was handed over without an answer, and the usual smtplib errors before that."""
    client = _connect(smtp)
    try:
        accepted, refused = _envelope(client, recipients, smtp, last)
        return _hand_over(client, message, accepted, refused, steps)
    finally:
        _close(client)


def _connect(smtp: SmtpParams) -> smtplib.SMTP:
    context = ssl.create_default_context(cafile=smtp.ca_file)
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
    try:
        client.ehlo_or_helo_if_needed()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.username:
            client.login(smtp.username, _password(smtp))
    except BaseException:
        _close(client)
        raise
    return client


def _envelope(client: smtplib.SMTP, recipients: tuple[str, ...], smtp: SmtpParams,
              last: bool) -> tuple[tuple[str, ...], dict]:
    """MAIL and RCPT: the recipients the server took and those it refused. A 4xx to a
    recipient is retried (nothing was sent yet) until the last attempt, where it counts as
    refused."""
    code, reply = client.mail(smtp.from_address)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, smtp.from_address)
    refused = {}
    for recipient in recipients:
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
    busy = [answer for answer in refused.values() if 400 <= answer[0] < 500]
    if busy and not last:
        client.rset()
        raise smtplib.SMTPResponseException(*busy[0])
    accepted = tuple(r for r in recipients if r not in refused)
    if not accepted:
        client.rset()
        raise smtplib.SMTPRecipientsRefused(refused)
    return accepted, refused


def _hand_over(client: smtplib.SMTP, message: EmailMessage, accepted: tuple[str, ...], refused: dict,
               steps: Steps) -> dict:
    """DATA: the ledger hears 'sending' before the content leaves; once the final dot is sent,
    a missing answer is Unconfirmed, not a failure that may be retried."""
    code, reply = client.docmd("DATA")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    steps.handing_over(accepted)
    try:
        client.send(_wire(message))
    except BaseException:
        steps.taken_back(accepted)  # the final dot never left: the server cannot deliver it
        raise
    try:
        code, reply = client.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise Unconfirmed(f"the mail server took the message but did not confirm it "
                          f"({_reason(exc)})", refused) from None
    if code != 250:
        steps.taken_back(accepted)
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _wire(message: EmailMessage) -> bytes:
    """The message as DATA sends it: CRLF lines, leading dots doubled, the final dot."""
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=message.policy.clone(linesep="\r\n")).flatten(message, linesep="\r\n")
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", buffer.getvalue())
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n"


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    if "timed out" in text or isinstance(exc, TimeoutError):
        return "no answer within smtp.timeout_seconds"
    return "the connection was closed before its answer"


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _missing_password(smtp: SmtpParams) -> str:
    """Why no login can be tried: the password's variable is not set. It was raised as a made-up
    server reply ("535 ..."), and the advice after it was to wait for the mail server."""
    if not smtp.username or not smtp.password_env or read_secret(smtp.password_env) is not None:
        return ""
    return (f"{smtp.password_env} is not set in this environment, so no mail server was asked; "
            "export it where reporter runs (for the scheduler: in its service's EnvironmentFile)")


def _password(smtp: SmtpParams) -> str:
    return (read_secret(smtp.password_env) or "") if smtp.password_env else ""


def _replies(refused: dict) -> dict[str, str]:
    return {address: f"{code} {_text(reply)}" for address, (code, reply) in refused.items()}


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
