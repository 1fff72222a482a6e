"""The scheduler as systemd runs it: a real `reporter schedule` process, signals, a job store."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reporter.app.schedule import JOB_ID, run_brief_job, trigger
from reporter.config import ScheduleConfig
from tests.conftest import REPO_ROOT, archive_entries, run_cli, write_config

UTC = ZoneInfo("UTC")


def runs(project):
    return [p for p in archive_entries(project / "output") if p.name.startswith("20")]


def start(config_path):
    return subprocess.Popen([sys.executable, "-m", "reporter", "schedule", "--config", str(config_path)],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def stop(process) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


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


def test_a_run_due_seconds_ahead_runs_once(project):
    due = datetime.now(UTC) + timedelta(seconds=8)  # time for the scheduler to start first
    config = configure(project, f"{due.second} {due.minute} {due.hour} * * *")
    process = start(config)
    try:
        assert wait_for(lambda: len(runs(project)) == 1, 90), "the scheduled run did not arrive"
        time.sleep(3)
    finally:
        code, output = stop(process)
    assert code == 0, output
    assert len(runs(project)) == 1
    assert "scheduler started; next run" in output and "after run; next run" in output
    assert "finished with exit code 0" in output


def test_a_run_missed_while_down_runs_once_at_start(project):
    """Stop the scheduler before a run is due, let the time pass, start it again."""
    due = datetime.now(UTC) + timedelta(seconds=12)
    config_path = configure(project, f"{due.second} {due.minute} {due.hour} * * *")
    lock = project / "output" / "scheduler.lock"
    first = start(config_path)
    assert wait_for(lambda: lock.exists() and lock.read_text().strip().isdigit(), 30)
    code, _ = stop(first)
    assert code == 0 and runs(project) == []
    wait_for(lambda: datetime.now(UTC) > due + timedelta(seconds=1), 30)
    second = start(config_path)
    try:
        assert wait_for(lambda: len(runs(project)) == 1, 90), "the missed run did not run"
        time.sleep(2)
    finally:
        code, output = stop(second)
    assert code == 0 and len(runs(project)) == 1, output
    listed = run_cli("schedule", "--list", "--config", str(config_path))
    assert listed.returncode == 0 and f"{JOB_ID}: cron" in listed.stdout
    tomorrow = (due + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert f"next run {tomorrow}" in listed.stdout


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


def test_the_job_is_the_one_shot_command(project):
    config_path = configure(project, "0 7 * * mon")
    assert run_brief_job(str(config_path)) == 0
    assert len(runs(project)) == 1
