"""The scheduler as systemd runs it: a real `reporter schedule` process, signals, a job store."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from reporter.app.schedule import (
    JOB_ID,
    build_scheduler,
    described,
    ensure_job,
    jobstore_path,
    run_brief_job,
    trigger,
)
from reporter.app.settings import ScheduleConfig, load_config
from tests.conftest import REPO_ROOT, archive_entries, run_cli, run_main, write_config

UTC = ZoneInfo("UTC")


def runs(project):
    return [p for p in archive_entries(project / "output") if p.name.startswith("20")]


def start(config_path, console_script: bool = False):
    """`reporter schedule` in a child process; its output is collected line by line as it
    comes (`process.lines`), so a test can wait for a line instead of a head start. With
    `console_script`, started as systemd starts it: the installed `reporter` script."""
    command = ([str(Path(sys.executable).parent / "reporter")] if console_script
               else [sys.executable, "-m", "reporter"])
    process = subprocess.Popen([*command, "schedule", "--config", str(config_path)], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    process.lines = []
    process.reader = threading.Thread(target=lambda: process.lines.extend(process.stdout), daemon=True)
    process.reader.start()
    return process


def said(process, text: str) -> bool:
    return any(text in line for line in list(process.lines))


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def stop(process) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    process.reader.join(timeout=30)
    return process.returncode, "".join(process.lines)


def configure(project, cron: str):
    path = project / "config" / "reporter.yaml"
    import yaml

    source = yaml.safe_load(path.read_text())["source"]
    return write_config(path, source=source, teams=[],
                        schedule={"cron": cron, "timezone": "UTC", "misfire_grace_hours": 1,
                                  "jobstore": None})


def test_monday_seven_stays_seven_across_daylight_saving():
    monday = trigger(ScheduleConfig(cron="0 7 * * mon", timezone="Europe/London"))
    first = monday.get_next_fire_time(None, datetime(2026, 3, 17, tzinfo=UTC))  # clocks change 29 March
    second = monday.get_next_fire_time(None, first + timedelta(minutes=1))
    assert (first.hour, second.hour) == (7, 7)
    assert first.utcoffset() == timedelta(0) and second.utcoffset() == timedelta(hours=1)
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(days=7, hours=-1)


def test_cron_with_seconds_and_bad_cron():
    six = trigger(ScheduleConfig(cron="30 0 7 * * mon"))
    assert six.get_next_fire_time(None, datetime(2026, 11, 27, tzinfo=UTC)).second == 30
    with pytest.raises(ValueError, match="cron '0 25 \\* \\* mon' is not valid"):
        ScheduleConfig(cron="0 25 * * mon")
    with pytest.raises(ValueError, match="unknown timezone"):
        ScheduleConfig(timezone="Mars/Olympus")


def test_the_listing_says_the_schedule_as_configured_in_words(project):
    """--list printed APScheduler's repr (cron[month='*', day='*', day_of_week='mon', ...]); it
    says the cron as written, its zone and, for a plain weekly or daily time, in words."""
    config_path = configure(project, "0 7 * * mon")
    config_path.write_text(config_path.read_text().replace("timezone: UTC", "timezone: Europe/London"))
    before = run_main("schedule", "--list", "--config", str(config_path))
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith(f'{JOB_ID}: cron "0 7 * * mon" (Europe/London), every Monday at 07:00; '
                                    "not yet stored")
    config = load_config(config_path)
    scheduler = build_scheduler(config)
    scheduler.start(paused=True)
    try:
        ensure_job(scheduler, config)
    finally:
        scheduler.shutdown(wait=False)
    stored = run_main("schedule", "--list", "--config", str(config_path)).stdout
    assert stored.startswith(f'{JOB_ID}: cron "0 7 * * mon" (Europe/London), every Monday at 07:00; '
                             "next run ")
    assert "day_of_week=" not in stored


def test_a_schedule_is_said_in_words_where_it_is_plain():
    words = {cron: described(trigger(ScheduleConfig(cron=cron))) for cron in
             ("0 7 * * *", "30 6 * * mon-fri", "0 7 1 * *", "0 7 1 jan *", "*/15 * * * *")}
    assert words == {"0 7 * * *": 'cron "0 7 * * *" (UTC), every day at 07:00',
                     "30 6 * * mon-fri": 'cron "30 6 * * mon-fri" (UTC), every Monday to Friday at 06:30',
                     "0 7 1 * *": 'cron "0 7 1 * *" (UTC), on day 1 of every month at 07:00',
                     "0 7 1 jan *": 'cron "0 7 1 jan *" (UTC), every year on 1 January at 07:00',
                     "*/15 * * * *": 'cron "*/15 * * * *" (UTC)'}


def store_due_job(config_path, overdue: timedelta, function: str = "reporter.jobs:run_brief_job") -> None:
    """A job store as a scheduler leaves it when the machine went down before a run that was
    due `overdue` ago: the next scheduler start finds it there. No head start, no race."""
    config = load_config(config_path)
    jobstore_path(config).parent.mkdir(parents=True, exist_ok=True)
    store = SQLAlchemyJobStore(url=f"sqlite:///{jobstore_path(config)}")
    store.start(BackgroundScheduler(timezone=UTC), "default")  # the store alone: nothing runs here
    try:
        store.add_job(Job(BackgroundScheduler(timezone=UTC), id=JOB_ID, func=function,
                          trigger=trigger(config.settings.schedule), executor="default",
                          args=[str(config.path)], kwargs={}, name="weekly brief",
                          misfire_grace_time=3600, coalesce=True, max_instances=1,
                          next_run_time=datetime.now(UTC) - overdue))
    finally:
        store.shutdown()


@pytest.mark.server
def test_a_run_missed_while_down_runs_once_at_start_and_sigterm_lets_it_finish(project):
    config_path = configure(project, "0 7 1 1 *")  # next due in January: only the missed run runs
    store_due_job(config_path, overdue=timedelta(minutes=5))
    process = start(config_path)
    try:
        assert wait_for(lambda: said(process, "starting scheduled run"), 120), process.lines
    finally:
        code, output = stop(process)  # SIGTERM while the run is under way
    assert code == 0 and len(runs(project)) == 1, output
    assert (output.index("stopping: a run in progress is allowed to finish")
            < output.index("finished with exit code 0") < output.index("scheduler stopped"))
    listed = run_main("schedule", "--list", "--config", str(config_path))
    assert listed.returncode == 0 and f"{JOB_ID}: cron" in listed.stdout
    january = trigger(ScheduleConfig(cron="0 7 1 1 *", timezone="UTC")).get_next_fire_time(
        None, datetime.now(UTC))
    assert f"next run {january:%Y-%m-%dT%H:%M:%S}" in listed.stdout


@pytest.mark.server
def test_a_run_missed_beyond_the_grace_time_is_skipped_and_said(project):
    config_path = configure(project, "0 7 1 1 *")  # misfire_grace_hours is 1
    store_due_job(config_path, overdue=timedelta(hours=3))
    process = start(config_path)
    try:
        assert wait_for(lambda: said(process, "was missed beyond the grace time"), 60), process.lines
    finally:
        code, output = stop(process)
    assert code == 0 and runs(project) == [], output
    assert "was missed beyond the grace time" in output


@pytest.mark.server
def test_a_job_store_from_the_flat_layout_still_runs(project):
    """Version 0.1 stored "reporter.schedule:run_brief_job"; the job still runs, and the
    scheduler rewrites the reference to reporter.jobs, which never moves."""
    config_path = configure(project, "0 7 1 1 *")
    store_due_job(config_path, overdue=timedelta(minutes=5), function="reporter.schedule:run_brief_job")
    process = start(config_path, console_script=True)
    try:
        assert wait_for(lambda: len(runs(project)) == 1, 120), "the stored job did not run"
    finally:
        code, output = stop(process)
    assert code == 0, output
    scheduler = build_scheduler(load_config(config_path))
    scheduler.start(paused=True)
    try:
        assert scheduler.get_job(JOB_ID).func_ref == "reporter.jobs:run_brief_job"
    finally:
        scheduler.shutdown(wait=False)


@pytest.mark.server
def test_a_second_scheduler_on_the_same_archive_is_refused(project):
    config_path = configure(project, "0 7 1 1 *")
    first = start(config_path)
    try:
        assert wait_for(lambda: (project / "output" / "scheduler.lock").exists()
                        and (project / "output" / "scheduler.lock").read_text().strip().isdigit(), 30)
        second = run_cli("schedule", "--config", str(config_path))
    finally:
        code, _ = stop(first)
    assert second.returncode == 2
    assert "another scheduler (pid" in second.stderr and "already running" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert code == 0


@pytest.mark.server
def test_the_job_is_the_one_shot_command(project):
    config_path = configure(project, "0 7 * * mon")
    assert run_brief_job(str(config_path)) == 0
    assert len(runs(project)) == 1


def _modules_at_start(out: str) -> None:
    import json
    import os

    Path(out).write_text(json.dumps({"pipeline": "reporter.app.pipeline" in sys.modules,
                                     "weasyprint": "weasyprint" in sys.modules,
                                     "parent": os.getppid()}))


def test_scheduled_runs_start_in_a_warm_child_not_a_fork_of_the_scheduler(tmp_path):
    """Each run is a process of its own, forked from the single-threaded forkserver that has
    already imported the pipeline: no interpreter start-up, no fork of a threaded process."""
    import json
    import os

    from reporter import jobs

    out = tmp_path / "child.json"
    child = jobs._warm().Process(target=_modules_at_start, args=(str(out),))
    child.start()
    child.join()
    seen = json.loads(out.read_text())
    assert child.exitcode == 0
    assert seen["pipeline"] and seen["weasyprint"], "imported before the run started"
    assert seen["parent"] != os.getpid(), "forked from the forkserver, not from the scheduler"
    assert jobs.run_command(["validate", "--config", str(tmp_path / "missing.yaml")]) == 2
