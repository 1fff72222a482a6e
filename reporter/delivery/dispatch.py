"""Dispatch: which teams receive an archived brief and when, holding and releasing briefs, the
CRM push that follows a delivery, and what the owners are told.

A brief is built once per run. Teams without `send_at` get it as soon as the run is archived;
a team with `send_at` gets it from its own scheduled job at that local time (`reporter
schedule`), with "delayed by N hours" when the job catches up after downtime. A held brief
goes to nobody but the owners' notice until `reporter release`. The ledger makes every path
safe to repeat.

Nothing lost: `finish_due` (the scheduler, at start-up and before each run, and `reporter send
--due`) sends the newest run to the teams that should have it by now and do not (a process
killed after publishing, a delivery that failed), once, and tells the owners. A run is a
baseline and is served only once its deliveries are settled (history.record).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from reporter.archive import find_run, published_runs
from reporter.brief.checks import CheckReport
from reporter.brief.index import rebuild_index
from reporter.brief.view import read_brief
from reporter.delivery.crm import Pushed, RunRows, push, run_rows
from reporter.delivery.faults import fault_point
from reporter.delivery.hints import console_command, mailed_command
from reporter.delivery.ledger import Ledger
from reporter.delivery.mail import Outcome, build_message, inline_images, notify_owners, send_run, slug
from reporter.delivery.params import CrmParams, DeliveryParams, ScheduleParams, TeamParams
from reporter.errors import ArchiveError, ConfigError, ReporterError
from reporter.history.record import (
    NOT_SETTLED,
    DeliveryEntry,
    RunRecord,
    add_deliveries,
    read_record,
    release_record,
)
from reporter.secrets import env_secret

log = logging.getLogger("reporter")

DELAY_WORTH_SAYING = timedelta(hours=1)


class HeldBrief(ReporterError):
    """The run was held by a pre-send check and has not been released."""


class OlderRun(ReporterError):
    """A push by hand of a run older than one a CRM target already holds, or the release of a
    held run older than one the teams have had since."""


@dataclass(frozen=True)
class Delivered:
    """What one dispatch did: each team's email, then each CRM push (the console prints both)."""

    outcomes: tuple[Outcome, ...] = ()
    pushes: tuple[Pushed, ...] = ()


def dispatch_run(folder: Path, config: DeliveryParams, team: str | None = None, dry_run: bool = False,
            force: bool = False, immediate_only: bool = False, note: str = "",
            rebuild: bool = True) -> Delivered:
    """Send an archived run to its teams (through the ledger), record the outcomes, then push
    it to the CRM targets that have not had it."""
    record = read_record(folder)
    if record.held and not dry_run:
        raise HeldBrief(f"run {record.run_id} is held ({'; '.join(record.held_because)});"
                        f" check it, then send it with "
                        f"`{console_command(config.config_path, 'release', record.run_id)}`")
    teams = [t for t in config.teams if (team is None or t.name == team)
             and not (immediate_only and t.send_at)]
    if team is not None and not teams:
        known = ", ".join(t.name for t in config.teams) or "none"
        raise ConfigError(f"no team named {team!r} in reporter.yaml (teams: {known})")
    return _dispatch(folder, config, record, teams, dry_run, force, note, rebuild)


def _dispatch(folder: Path, config: DeliveryParams, record: RunRecord, teams: list[TeamParams], dry_run: bool,
              force: bool, note: str, rebuild: bool, push: bool = True) -> Delivered:
    ledger = _ledger(config) if config.smtp and not dry_run else None
    outcomes = send_run(folder, record.run_id, config, teams, ledger, dry_run=dry_run, force=force,
                        note=note, config_path=config.config_path)
    fault_point("settled")
    if outcomes:
        add_deliveries(folder, [DeliveryEntry(**asdict(outcome)) for outcome in outcomes])
    failed = [o for o in outcomes if o.failed]
    if failed:
        notify_owners(config, ledger, record.run_id, f"delivery failed for run {record.run_id}",
                      "\n".join(f"{o.team}: {o.error or o.refused}" for o in failed)
                      + "\n\nRe-send with: "
                      + mailed_command(config.config_path, "send", "--run", record.run_id) + "\n")
    if ledger is not None:
        tell_owners_uncertain(config, ledger, record.run_id)
    # after the email, so a CRM that is down never delays it
    pushes = push_run(folder, config) if push and not dry_run else []
    if rebuild:
        rebuild_index(config.output_dir)
    return Delivered(tuple(outcomes), tuple(pushes))


def _ledger(config: DeliveryParams) -> Ledger:
    return Ledger(config.output_dir, config.guarantee)


def tell_owners_uncertain(config: DeliveryParams, ledger: Ledger, run_id: str) -> None:
    """The owners hear once of every copy whose outcome is unknown, and what to do about it."""
    rows = ledger.untold_uncertain(run_id)
    if not rows:
        return
    lines = "".join(f"- {row.team}: {row.recipient} ({row.detail})\n" for row in rows)
    teams = sorted({row.team for row in rows})
    told = notify_owners(config, ledger, run_id, f"delivery of run {run_id} unconfirmed", (
        "The mail server was handed these copies of the brief but never confirmed them, so "
        "they may or may not have arrived:\n" + lines + "\nThey are not sent again by themselves "
        "(delivery.guarantee: at-most-once), so nobody gets the brief twice. Ask the recipients, "
        "or look for the Message-ID in the mail server's log. Only if a copy did not arrive, send "
        "it again with:\n" + "".join(
            f"  {mailed_command(config.config_path, 'send', '--run', run_id, '--team', team, '--force')}\n"
            for team in teams)))
    if told is None or not told.failed:
        ledger.mark_told(run_id, [row.recipient for row in rows])


def newer_there(config: DeliveryParams, record: RunRecord, targets: list[str] | None = None
                ) -> list[tuple[str, RunRecord]]:
    """Each target (of `targets`, or all) that a newer run of the same source was pushed to,
    with the newest such run: pushing `record` there would put older personas and flags back."""
    mine = (record.as_of, record.started_at)
    sent: dict[str, set[str]] = {}
    for row in _ledger(config).rows():
        if row.kind in ("push", "push-again") and row.status == "sent" and row.run_id != record.run_id:
            sent.setdefault(row.recipient.removeprefix("crm:"), set()).add(row.run_id)
    if not sent:
        return []
    records = _records_of(config, set().union(*sent.values()))
    found = []
    for target in config.crm:
        if targets is not None and target.name not in targets:
            continue
        newer = [other for other in (records.get(run_id) for run_id in sent.get(target.name, ()))
                 if other is not None and other.data.source_key == record.data.source_key
                 and (other.as_of, other.started_at) > mine]
        if newer:
            found.append((target.name, max(newer, key=lambda r: (r.as_of, r.started_at))))
    return found


def _records_of(config: DeliveryParams, run_ids: set[str]) -> dict[str, RunRecord]:
    """The records of these runs, each read once over the archive listed once (find_run lists
    it per call); a pruned or unreadable run is left out: it holds nothing to compare with."""
    records = {}
    for folder in published_runs(config.output_dir):
        run_id = next((r for r in run_ids if folder.name.endswith(r)), None)
        if run_id is None:
            continue
        try:
            records[run_id] = read_record(folder)
        except ReporterError:
            continue
    return records


def push_run(folder: Path, config: DeliveryParams, targets: list[str] | None = None,
             again: bool = False) -> list[Pushed]:
    """Push a delivered run to each CRM target that has not had it (every named one again, by
    hand). The ledger claims each target first, so no restart or second scheduler pushes a
    run to a target twice; failures are recorded and told to the owners."""
    chosen = [t for t in config.crm if targets is None or t.name in targets]
    if targets is not None and len(chosen) < len(set(targets)):
        known = ", ".join(t.name for t in config.crm) or "none"
        raise ConfigError(f"no crm target named {', '.join(sorted(set(targets) - {t.name for t in chosen}))}"
                          f" in reporter.yaml (targets: {known})")
    if not chosen:
        return []
    record = read_record(folder)
    ledger = _ledger(config)
    kind = "push-again" if again else "push"
    newer = {} if again else dict(newer_there(config, record, [t.name for t in chosen]))
    rows, results = None, [_passed_over(target.name, record.run_id, newer[target.name], config)
                           for target in chosen if target.name in newer]
    for target in (t for t in chosen if t.name not in newer):  # claimed, pushed and settled one by one
        earlier = _failed_before(ledger, record.run_id, target.name)
        if not ledger.claim(record.run_id, "crm", [f"crm:{target.name}"], kind):
            continue  # pushed, or being pushed, by another process
        rows = rows or run_rows(folder, config.output_dir, record.run_id, record.as_of,
                                record.baseline)
        results.append(_retried(_push_one(target, rows, config), earlier, again))
        ledger.settle(record.run_id, [f"crm:{target.name}"], results[-1].status, results[-1].detail)
    if not results:
        return []
    at = datetime.now().astimezone().isoformat(timespec="seconds")
    add_deliveries(folder, [DeliveryEntry(f"crm: {r.target}", r.status, attempts=r.attempts, at=at,
                                          error=r.detail if r.status != "sent" else "") for r in results])
    failed = [r for r in results if r.failed]
    if failed:
        notify_owners(config, ledger if config.smtp else None, record.run_id,
                      f"CRM push failed for run {record.run_id}",
                      "".join(f"{r.target}: {r.detail}\n" for r in failed) + "\nThe brief itself was "
                      "delivered. The next send of this run pushes it again by itself (so does the "
                      "scheduler's next run):\n  "
                      + mailed_command(config.config_path, "send", "--run", record.run_id)
                      + "\nor push it now:\n  "
                      + mailed_command(config.config_path, "push", "--run", record.run_id) + "\n")
    partial = [r for r in results if not r.failed and r.lacking]
    if partial:  # it landed, but the CRM cannot sort by a prediction until the owner adds it
        notify_owners(config, ledger if config.smtp else None, record.run_id,
                      f"CRM push of run {record.run_id} went without predictions",
                      "".join(f"{r.target}: {r.detail}\n" for r in partial)
                      + "\nEvery customer was pushed. Once the columns are there, the next push "
                      "fills them:\n  " + mailed_command(config.config_path, "push", "--run",
                                                          record.run_id) + "\n")
    return results


def _passed_over(target: str, run_id: str, newer: RunRecord, config: DeliveryParams) -> Pushed:
    """An automatic push (a send, a release, the scheduler's catch-up) of a run older than one
    the target holds is left out: it would put older personas and flags back in the CRM. Not
    claimed in the ledger, so a push by hand with --older can still do it."""
    return Pushed(target, "skipped", detail=(
        f"run {newer.run_id} (customers as of {newer.as_of}) is there already and is newer, so this "
        "run is not pushed over it; to push it anyway: "
        f"`{console_command(config.config_path, 'push', '--run', run_id, '--older')}`"))


RETRIED = "a retry: the push of this run failed at "


def _failed_before(ledger: Ledger, run_id: str, target: str) -> str:
    """When this target's last push of the run failed ('' if it never did): a later `send`
    pushes again, and says so."""
    failed = [row for row in ledger.rows(run_id) if row.recipient == f"crm:{target}"
              and row.kind in ("push", "push-again") and row.status == "failed"]
    return failed[-1].at if failed else ""


def _retried(result: Pushed, earlier: str, by_hand: bool) -> Pushed:
    if not earlier or by_hand:
        return result
    return replace(result, detail=f"{result.detail} ({RETRIED}{earlier})".lstrip())


def _push_one(target: CrmParams, rows: RunRows, config: DeliveryParams) -> Pushed:
    try:
        secret = env_secret(target.secret_env, f'crm "{target.name}", secret_env')
        password = env_secret(target.password_env, f'crm "{target.name}", password_env')
    except ConfigError as exc:
        return Pushed(target.name, "failed", detail=exc.one_line())
    return push(target, rows, secret, password, config.base_dir)


def tell_owners_held(folder: Path, config: DeliveryParams, report: CheckReport) -> None:
    """Tell the owners what held a run and how to release it."""
    run_id = read_record(folder).run_id
    reasons = [r.problem for r in report.holding]
    ledger = _ledger(config) if config.smtp else None
    notify_owners(config, ledger, run_id, f"brief {run_id} held, not sent",
                  "The brief was archived but no team received it, because:\n"
                  + "".join(f"- {reason}\n" for reason in reasons)
                  + f"\nBrief: {folder / 'brief.html'}\n"
                  f"When it is fine to send, run: {mailed_command(config.config_path, 'release', run_id)}\n")


def release(config: DeliveryParams, run_id: str) -> Delivered:
    """Send a held brief to every team, once."""
    folder = find_run(config.output_dir, run_id)
    if read_record(folder).held:
        release_record(folder, datetime.now().astimezone())
    return dispatch_run(folder, config)


def scheduled_send(config: DeliveryParams, team_name: str) -> Delivered:
    """A team's scheduled job: the newest brief that is not held, to the recipients who have
    not had it, saying so when it leaves late."""
    folder = latest_deliverable(config.output_dir)
    if folder is None:
        return Delivered()
    team = next(t for t in config.teams if t.name == team_name)
    built_at = datetime.fromisoformat(read_record(folder).started_at)
    note = delay_note(team, config.schedule, built_at, datetime.now().astimezone()) \
        if team.send_at else ""
    return dispatch_run(folder, config, team=team_name, note=note)


def email_preview(folder: Path, config: DeliveryParams, out: Path) -> list[Path]:
    """Each team's email of a run as it would be sent: <team>.eml, and <team>.html to open in a
    browser, with the chart inline (a browser cannot follow the mail's cid: reference)."""
    sender = config.smtp.from_address if config.smtp else "briefs@localhost.localdomain"
    record = read_record(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    note = preview_note(folder, record, config)
    for team in config.teams:
        message = build_message(folder, record.run_id, team, sender, note=note)
        html = message.get_body(("html",))
        page = inline_images(html.get_content(), folder) if html else ""
        for name, content in ((f"{slug(team.name)}.eml", bytes(message)),
                              (f"{slug(team.name)}.html", page.encode())):
            (out / name).write_bytes(content)
            written.append(out / name)
    return written


def preview_status(record: RunRecord, config: DeliveryParams) -> str:
    """What `reporter preview` says first: the run's state, and for a held run why and how
    to release it."""
    if not record.held:
        return f"Run {record.run_id}: {record.status}"
    return (f"Run {record.run_id}: held, not sent ({'; '.join(record.held_because)}); when it is "
            f"fine to send: `{console_command(config.config_path, 'release', record.run_id)}`")


def preview_note(folder: Path, record: RunRecord, config: DeliveryParams) -> str:
    """The banner a preview opens with: held (why, how to release) and every 'check before
    use' warning the brief carries, so a preview never looks like a brief ready to go."""
    parts = [preview_status(record, config) + "."] if record.held else []
    try:
        parts += [f"Check before use: {w}" for w in read_brief(folder).warnings]
    except ArchiveError:
        parts.append("Check before use: the run's brief.json cannot be read back.")
    return " ".join(parts)


def finish_due(config: DeliveryParams, now: datetime | None = None) -> list[Outcome]:
    """The newest run, to every team it is addressed to that should have it by now and has no
    settled outcome in run.json (killed after publishing, cut off mid-send, failed), through
    the ledger (a recipient with a copy sent, in flight or uncertain is not sent again); the
    owners are told what was finished. Held and dry runs wait; a run recorded
    before teams were kept is left as it is. The CRM push is not part of it: `finish_pushes`,
    called right after by every caller, pushes (and reports) it."""
    runs = published_runs(config.output_dir)
    record = read_record(runs[-1]) if runs else None
    if record is None or record.held or record.dry_run or record.teams is None:
        return []
    now = now or datetime.now().astimezone()
    status = record.team_status()
    configured = {team.name: team for team in config.teams}
    outcomes = [Outcome(name, "skipped", (), error="the team is no longer in reporter.yaml",
                        at=now.isoformat(timespec="seconds"))
                for name in record.teams if name not in configured and _unsettled(status[name])]
    if outcomes:
        add_deliveries(runs[-1], [DeliveryEntry(**asdict(outcome)) for outcome in outcomes])
    for team in (configured[name] for name in record.teams if name in configured):
        if _unsettled(status[team.name]) and _is_due(team, config, record, now):
            outcomes += _dispatch(runs[-1], config, record, [team], False, False,
                                  _late_note(team, config.schedule, record, now), False,
                                  push=False).outcomes
    if outcomes:
        _tell_finished(config, record.run_id, outcomes)
        rebuild_index(config.output_dir)
    return outcomes


def _unsettled(status: str) -> bool:
    return not status or status in NOT_SETTLED


def _is_due(team: TeamParams, config: DeliveryParams, record: RunRecord, now: datetime) -> bool:
    """Teams without send_at are due at once; the others from their send time on."""
    if not team.send_at:
        return True
    due = team_trigger(team, config.schedule).get_next_fire_time(
        None, datetime.fromisoformat(record.started_at))
    return due is not None and due <= now


def _late_note(team: TeamParams, schedule: ScheduleParams, record: RunRecord, now: datetime) -> str:
    built_at = datetime.fromisoformat(record.started_at)
    if team.send_at:
        return delay_note(team, schedule, built_at, now)
    if now - built_at < DELAY_WORTH_SAYING:
        return ""
    hours = int((now - built_at).total_seconds() // 3600)
    return (f"Delayed by {hours} hour{'s' if hours != 1 else ''}: this brief was built at "
            f"{built_at:%H:%M} on {built_at:%Y-%m-%d}.")


def _tell_finished(config: DeliveryParams, run_id: str, outcomes: list[Outcome]) -> None:
    ledger = _ledger(config) if config.smtp else None
    notify_owners(config, ledger, run_id, f"run {run_id} finished after an interruption", (
        f"Run {run_id} was published but had not reached every team (the process stopped, or a "
        "delivery failed). Finished now (recipients the ledger shows as sent or uncertain were "
        "left out):\n"
        + "".join(f"- {o.team}: {o.status}" + (f" ({o.error})" if o.error else "") + "\n"
                  for o in outcomes)))


def finish_pushes(config: DeliveryParams) -> list[Pushed]:
    """A CRM push cut off by a crash or a restart: the newest run that is not held, to each
    target that has not had it (the ledger pushes each once)."""
    folder = latest_deliverable(config.output_dir)
    if folder is None or not config.crm:
        return []
    return push_run(folder, config)


def latest_deliverable(output_dir: Path) -> Path | None:
    """The newest run that is neither held nor a dry run: what a team's scheduled job sends
    and the scheduler's catch-up pushes (a `--dry-run` was never meant for anybody)."""
    for folder in reversed(published_runs(output_dir)):
        record = read_record(folder)
        if not (record.held or record.dry_run):
            return folder
    return None


def team_trigger(team: TeamParams, schedule: ScheduleParams) -> CronTrigger:
    """Every day at the team's local send time: a day without a new brief sends nothing,
    because the ledger already holds every copy of the latest one."""
    hour, minute = (int(part) for part in team.send_at.split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=ZoneInfo(team.timezone or schedule.timezone))


def delay_note(team: TeamParams, schedule: ScheduleParams, built_at: datetime, now: datetime) -> str:
    """'Delayed by N hours' when this copy leaves an hour or more after it was due."""
    due = team_trigger(team, schedule).get_next_fire_time(None, built_at)
    if due is None or now - due < DELAY_WORTH_SAYING:
        return ""
    hours = int((now - due).total_seconds() // 3600)
    zone = team.timezone or schedule.timezone
    return (f"Delayed by {hours} hour{'s' if hours != 1 else ''}: this brief was due at "
            f"{due:%H:%M} {zone} on {due:%Y-%m-%d}.")


def tell_owners_failed(params: DeliveryParams, problem: str) -> None:
    """Best effort: the owners hear of a failed run; a mail problem must not hide the failure."""
    try:
        notify_owners(params, None, "", "a run failed; no brief this time",
                      f"reporter run failed:\n\n{problem}\n\nConfig: {params.config_path}\n"
                      f"Once it is fixed, run it again with: {mailed_command(params.config_path, 'run')}\n")
    except Exception:
        log.warning("reporter: the owners could not be told of the failure", exc_info=True)
