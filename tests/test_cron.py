"""reporter/cron.py checks schedule.cron as text so that reading reporter.yaml does not import
APScheduler; the scheduler must accept what the check lets through, and refuse what it refuses."""

from __future__ import annotations

import pytest
from apscheduler.triggers.cron import CronTrigger

from reporter.cron import FIELDS, cron_problem

EXPRESSIONS = ["0 7 * * mon", "0 25 * * mon", "*/15 * * * *", "0 7 * * mon-fri", "0 7 1-15 * *",
               "0 7 * jan-mar *", "0 7 last * *", "0 7 last fri * *", "0 7 2nd fri * *", "30 0 7 * * mon",
               "0 7 * * 7", "0 7 * * 0-6", "0 7 0 * *", "0 7 32 * *", "0 7 * 13 *", "0 60 * * *",
               "0 7 * * mon,wed,fri", "x 7 * * *", "0 7 */0 * *", "0 7 * * MON", "0 7 * JAN *",
               "1-5/2 * * * *", "0 7 15-10 * *", "0 0 1 */3 *", "0 7 *-3 * *", "0 7 * * 1-7",
               "0,30 7 * * *", "0 7 ? * *", "0 7 L * *", "0 7 2nd * *", "0 7 * * monday", "61 0 7 * * mon"]


def _scheduler_accepts(cron: str) -> bool:
    fields = cron.split()
    try:
        CronTrigger(**dict(zip(FIELDS[-len(fields):], fields, strict=True)), timezone="UTC")
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("cron", EXPRESSIONS)
def test_the_text_check_agrees_with_the_scheduler(cron):
    assert (cron_problem(cron) == "") == _scheduler_accepts(cron), cron_problem(cron)


def test_a_refusal_names_the_field_and_the_range():
    assert cron_problem("0 25 * * mon") == "hour field '25': '25' is outside 0 to 23"
    assert "a name (mon, tue" in cron_problem("0 7 * * someday")
