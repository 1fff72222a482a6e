"""reporter/cron.py checks schedule.cron as text so that reading reporter.yaml does not import
APScheduler; the scheduler must accept what the check lets through, and refuse what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger

from reporter.app.schedule import crontab_weekdays, trigger
from reporter.app.settings import ScheduleConfig
from reporter.cron import FIELDS, cron_problem

EXPRESSIONS = ["0 7 * * mon", "0 25 * * mon", "*/15 * * * *", "0 7 * * mon-fri", "0 7 1-15 * *",
               "0 7 * jan-mar *", "0 7 last * *", "0 7 last fri * *", "0 7 2nd fri * *", "30 0 7 * * mon",
               "0 7 * * 7", "0 7 * * 0-6", "0 7 0 * *", "0 7 32 * *", "0 7 * 13 *", "0 60 * * *",
               "0 7 * * mon,wed,fri", "x 7 * * *", "0 7 */0 * *", "0 7 * * MON", "0 7 * JAN *",
               "1-5/2 * * * *", "0 7 15-10 * *", "0 0 1 */3 *", "0 7 *-3 * *", "0 7 * * 1-7",
               "0,30 7 * * *", "0 7 ? * *", "0 7 L * *", "0 7 2nd * *", "0 7 * * monday", "61 0 7 * * mon"]


def _scheduler_accepts(cron: str) -> bool:
    fields = cron.split()
    named = dict(zip(FIELDS[-len(fields):], fields, strict=True))
    try:
        CronTrigger(**{**named, "day_of_week": crontab_weekdays(named["day_of_week"])}, timezone="UTC")
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("cron", "days"), [
    ("0 7 * * 1", {"Monday"}), ("0 7 * * 1-5", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}),
    ("0 7 * * 0", {"Sunday"}), ("0 7 * * 7", {"Sunday"}), ("0 7 * * mon,fri", {"Monday", "Friday"}),
    ("0 7 * * */3", {"Sunday", "Wednesday", "Saturday"}), ("0 7 * * 1/2", {"Monday", "Wednesday", "Friday",
                                                                            "Sunday"}),
    ("0 7 * * mon-7", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}),
    ("0 7 * * 1-fri", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"})])
def test_weekday_numbers_mean_what_crontab_means(cron, days):
    """APScheduler counts 0 as Monday: `0 7 * * 1-5` ran Tuesday to Saturday."""
    weekly = trigger(ScheduleConfig(cron=cron, timezone="UTC"))
    fired, at = set(), datetime(2026, 12, 1, tzinfo=UTC)
    for _ in range(14):
        at = weekly.get_next_fire_time(None, at + timedelta(minutes=1))
        fired.add(f"{at:%A}")
    assert fired == days


@pytest.mark.parametrize("cron", EXPRESSIONS)
def test_the_text_check_agrees_with_the_scheduler(cron):
    assert (cron_problem(cron) == "") == _scheduler_accepts(cron), cron_problem(cron)


def test_a_refusal_names_the_field_and_the_range():
    assert cron_problem("0 25 * * mon") == "hour field '25': '25' is outside 0 to 23"
    assert "a name (mon, tue" in cron_problem("0 7 * * someday")
