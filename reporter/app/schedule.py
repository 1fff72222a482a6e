"""Schedule: run `reporter run` on a cron schedule, unattended, for years.

APScheduler 3 with a SQLite job store, so a run missed while the machine was down runs once at
start-up (within `misfire_grace_hours`; several missed runs coalesce into one). One run at a
time (one job instance, one worker) and one scheduler per archive (a lock file). Each run is a
child process, so a crash or a leak in one week's run cannot take the scheduler down. SIGTERM
and Ctrl-C stop it cleanly: a run in progress finishes, and the archive is atomic anyway.
Nothing is lost to a crash: at start-up (before any job runs) and before each weekly run, the
newest run is finished for the teams that should have it and do not (`finish_due`), once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import signal
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from reporter.app.outcomes import delivery_lines, push_line
from reporter.app.params import delivery_params, team_params
from reporter.app.settings import Config, ScheduleConfig
from reporter.delivery.dispatch import finish_due, finish_pushes, latest_deliverable, team_trigger
from reporter.delivery.mail import slug
from reporter.errors import ConfigError, ReporterError
from reporter.history.record import read_record
from reporter.jobs import run_brief_job, run_team_job

JOB_ID = "weekly-brief"
LOCK_FILE = "scheduler.lock"
log = logging.getLogger("reporter.schedule")


class AlreadyRunning(ReporterError):
    """Another scheduler holds this archive's lock."""


def trigger(schedule: ScheduleConfig) -> CronTrigger:
    """5-field crontab (minute hour day month weekday), or 6 fields with seconds first."""
    zone = ZoneInfo(schedule.timezone)
    fields = schedule.cron.split()
    try:
        if len(fields) == 5:
            minute, hour, day, month, weekday = fields
            second = "0"
        else:
            second, minute, hour, day, month, weekday = fields
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=crontab_weekdays(weekday), timezone=zone)
    except ValueError as exc:
        raise ConfigError(f"schedule.cron '{schedule.cron}' is not a valid cron expression ({exc}); "
                          "for Mondays at 07:00 write '0 7 * * mon'") from None


CRONTAB_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")  # crontab: 0 and 7 are Sunday
DAY = r"(?:\d+|[a-z]{3})"
WEEKDAY_PART = re.compile(rf"(\*|{DAY}(?:-{DAY})?)(?:/(\d+))?", re.IGNORECASE)


def crontab_weekdays(field: str) -> str:
    """The weekday field as crontab reads it, in day names: APScheduler counts 0 as Monday, so
    `0 7 * * 1-5` ran Tuesday to Saturday and `* * * * 1` on Tuesdays. A part of names only
    means the same in both and passes as written; what is no weekday is left for the trigger
    to refuse."""
    return ",".join(_weekday_names(part) for part in field.split(","))


def _weekday_names(part: str) -> str:
    found = WEEKDAY_PART.fullmatch(part)
    every = found is not None and found[1] == "*"
    if found is None or (every and not found[2]) or (not every and not any(c.isdigit() for c in found[1])):
        return part
    ends = ["0", "6"] if every else found[1].split("-")
    low, high = _day_number(ends[0], start=True), _day_number(ends[-1], start=False)
    if len(ends) == 1 and found[2]:  # crontab's 1/2: from 1 to the end of the week
        high = 7
    step = int(found[2] or 1)
    if low is None or high is None or high > 7 or low > high or step < 1:
        return part
    return _runs({CRONTAB_DAYS[n] for n in range(low, high + 1, step)})


def _day_number(day: str, start: bool) -> int | None:
    """A weekday as crontab numbers it; sun is 0 where a range starts, 7 where it ends."""
    if day.isdigit():
        return int(day)
    name = day.lower()
    if name not in CRONTAB_DAYS:
        return None
    return 7 if name == "sun" and not start else CRONTAB_DAYS.index(name)


def _runs(days: set[str]) -> str:
    """Day names in APScheduler's order, three or more in a row as a range (mon-fri), so the
    listing reads as the crontab was written."""
    order = CRONTAB_DAYS[1:]  # mon ... sun
    picked = [i for i, day in enumerate(order) if day in days]
    parts, start = [], 0
    while start < len(picked):
        end = start
        while end + 1 < len(picked) and picked[end + 1] == picked[end] + 1:
            end += 1
        first, last = order[picked[start]], order[picked[end]]
        parts.append(f"{first}-{last}" if end - start >= 2 else
                     ",".join(order[i] for i in picked[start:end + 1]))
        start = end + 1
    return ",".join(parts)


def jobstore_path(config: Config) -> Path:
    configured = config.settings.schedule.jobstore
    return config.resolve(configured) if configured else config.output_dir / "scheduler.sqlite"


def build_scheduler(config: Config) -> BackgroundScheduler:
    schedule = config.settings.schedule
    store = jobstore_path(config)
    store.parent.mkdir(parents=True, exist_ok=True)
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{store}")},
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": int(schedule.misfire_grace_hours * 3600)},
        timezone=ZoneInfo(schedule.timezone),
    )


def ensure_job(scheduler: BackgroundScheduler, config: Config) -> None:
    """Add the job, or update it when the schedule changed. An unchanged job keeps its stored
    next run time, which is how a run missed while the machine was down is noticed."""
    wanted = trigger(config.settings.schedule)
    args = [str(config.path)]
    _ensure(scheduler, JOB_ID, run_brief_job, wanted, args, "weekly brief")
    team_jobs = {}
    for team in config.settings.teams:
        if team.send_at:
            job_id = f"team-{slug(team.name)}"
            team_jobs[job_id] = team
            sends = team_trigger(team_params(team), delivery_params(config).schedule)
            _ensure(scheduler, job_id, run_team_job, sends,
                    [str(config.path), team.name], f"send to {team.name}")
    for job in scheduler.get_jobs():
        if job.id.startswith("team-") and job.id not in team_jobs:
            scheduler.remove_job(job.id)  # the team or its send_at left the config


def _ensure(scheduler: BackgroundScheduler, job_id: str, function, wanted: CronTrigger, args: list,
            name: str) -> None:
    job = scheduler.get_job(job_id)
    if job is None:
        scheduler.add_job(function, wanted, args=args, id=job_id, name=name)
        return
    if job.func_ref != _reference(function):  # a store written by an older layout
        job.modify(func=function)
    if str(job.trigger) != str(wanted) or list(job.args) != args:
        job.modify(args=args)
        scheduler.reschedule_job(job_id, trigger=wanted)


def _reference(function) -> str:
    return f"{function.__module__}:{function.__qualname__}"


class ArchiveLock:
    """An exclusive lock on the archive, released by the OS even if the process is killed."""

    def __init__(self, output_dir: Path):
        self.path = output_dir / LOCK_FILE
        self.handle = None

    def __enter__(self) -> ArchiveLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "unknown"
            self.handle.close()
            raise AlreadyRunning(
                f"{self.path}: another scheduler (pid {holder}) is already running on this "
                "archive; stop it first, or give this one another output.dir"
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.handle:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def serve(config: Config) -> int:
    """Run until SIGTERM or Ctrl-C; return the exit code."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with ArchiveLock(config.output_dir):
        scheduler = build_scheduler(config)
        weekly = trigger(config.settings.schedule)
        scheduler.add_listener(lambda event: _after_run(weekly, event),
                               EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        scheduler.start(paused=True)
        ensure_job(scheduler, config)
        _finish_due(config)  # before a missed run starts: what was due comes first
        scheduler.resume()
        _log_next(scheduler, "scheduler started")
        _finish_pushes(config)
        stop.wait()
        log.info("stopping: a run in progress is allowed to finish")
        scheduler.shutdown(wait=True)
    log.info("scheduler stopped")
    return 0


def _finish_due(config: Config) -> None:
    """A run published but not (fully) delivered before a crash or a restart is finished now."""
    try:
        outcomes = finish_due(delivery_params(config))
    except ReporterError as exc:
        log.error("finishing what was due at start-up: %s", exc.one_line())
        return
    for outcome in outcomes:
        for line in delivery_lines(outcome):
            log.info("catch-up: %s", line)
    log.info("catch-up at start-up: %s",
             f"{len(outcomes)} team(s) finished" if outcomes else "nothing was due")


def _finish_pushes(config: Config) -> None:
    """A CRM push cut off by a crash or a restart is finished at start-up (the ledger pushes
    each target once)."""
    try:
        pushes = finish_pushes(delivery_params(config))
        folder = latest_deliverable(config.output_dir) if pushes else None
        run_id = read_record(folder).run_id if folder is not None else ""
        for result in pushes:
            log.info("%s", push_line(result, run_id, config.path))
    except ReporterError as exc:
        log.error("crm push at start-up: %s", exc.one_line())


def list_jobs(config: Config) -> str:
    scheduler = build_scheduler(config)
    scheduler.start(paused=True)
    try:
        jobs = scheduler.get_jobs()
        lines = [f"{job.id}: {described(job.trigger)}; next run {_when(job.next_run_time)}" for job in jobs]
    finally:
        scheduler.shutdown(wait=False)
    if not lines:
        weekly = trigger(config.settings.schedule)
        upcoming = weekly.get_next_fire_time(None, datetime.now().astimezone())
        lines = [f"{JOB_ID}: {described(weekly)}; not yet stored (start `reporter schedule`), it "
                 f"would run {_when(upcoming)}"]
    return "\n".join(lines) + "\n"


CRONTAB = ("minute", "hour", "day", "month", "day_of_week")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


def described(cron: CronTrigger) -> str:
    """A job's trigger as schedule.cron writes it, with its zone and, where it is a plain
    weekly, daily, monthly or yearly time, in words: 'cron "0 7 * * mon" (Europe/London),
    every Monday at 07:00' (APScheduler's own repr is for programmers)."""
    fields = {field.name: str(field) for field in cron.fields}
    written = [fields[name] for name in CRONTAB]
    if fields["second"] != "0":
        written.insert(0, fields["second"])
    words = _in_words(fields)
    return f'cron "{" ".join(written)}" ({cron.timezone})' + (f", {words}" if words else "")


def _in_words(fields: dict[str, str]) -> str:
    """The common schedules in words; '' for any other (the expression says it)."""
    minute, hour, day, month, weekday = (fields[name] for name in CRONTAB)
    if not (minute.isdigit() and hour.isdigit() and fields["second"] == "0"
            and fields.get("year", "*") == fields.get("week", "*") == "*"):
        return ""
    at = f"at {int(hour):02d}:{int(minute):02d}"
    days = _weekdays(weekday)
    if day == month == "*":
        return f"every day {at}" if weekday == "*" else f"every {days} {at}" if days else ""
    if weekday != "*" or not day.isdigit():
        return ""
    if month == "*":
        return f"on day {day} of every month {at}"
    number = month if month.isdigit() else str(_index(month, MONTHS) + 1)
    return f"every year on {day} {MONTHS[int(number) - 1]} {at}" if 1 <= int(number) <= 12 else ""


def _weekdays(text: str) -> str:
    """'mon' -> 'Monday', 'mon,thu' -> 'Monday and Thursday', 'mon-fri' -> 'Monday to Friday'
    (APScheduler counts 0 as Monday); '' for a step or anything else."""
    parts = []
    for part in text.split(","):
        ends = [_index(end, DAYS) for end in part.split("-")]
        if len(ends) > 2 or -1 in ends:
            return ""
        parts.append(" to ".join(DAYS[end] for end in ends))
    return " and ".join(parts)


def _index(text: str, names: tuple[str, ...]) -> int:
    """A day or month by number (days from 0, months from 1) or by its first three letters; -1 if neither."""
    short = [name[:3].lower() for name in names]
    if text.isdigit():
        number = int(text) - (1 if names is MONTHS else 0)
        return number if 0 <= number < len(names) else -1
    return short.index(text.lower()) if text.lower() in short else -1


def _after_run(weekly: CronTrigger, event: JobEvent) -> None:
    """Runs in the job's thread. It must not ask the scheduler anything: a shutdown waiting for
    this very job holds the scheduler's job-store lock (a SIGTERM during a run hung here)."""
    if event.code == EVENT_JOB_MISSED:
        log.warning("a run due %s was missed beyond the grace time", _when(event.scheduled_run_time))
    if event.code == EVENT_JOB_ERROR:
        log.error("the scheduled run could not be started: %s", event.exception)
    upcoming = weekly.get_next_fire_time(None, datetime.now(weekly.timezone))
    log.info("after run; next run %s", _when(upcoming))


def _log_next(scheduler: BackgroundScheduler, when: str) -> None:
    job = scheduler.get_job(JOB_ID)
    log.info("%s; next run %s", when, _when(job.next_run_time if job else None))


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "never (paused or ended)"

