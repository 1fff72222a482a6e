"""A cron expression checked as text, so reading reporter.yaml does not import the scheduler.

The syntax is APScheduler's CronTrigger (which runs the schedule): per field a comma list of
`*`, a value, or a range `a-b`, each optionally `/step`; month and day_of_week also take names
(jan, mon; day_of_week numbered as crontab numbers it, 0 and 7 = sun, 1 = mon, turned into names
for APScheduler by app/schedule.py), day also `last`, `last mon` or `2nd fri`."""

from __future__ import annotations

import re

FIELDS = ("second", "minute", "hour", "day", "month", "day_of_week")
RANGES = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12),
          "day_of_week": (0, 7)}
NAMES = {"month": ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
         "day_of_week": ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
PART = re.compile(r"(?P<start>\*|\w+)(?:-(?P<end>\w+))?(?:/(?P<step>\d+))?")
WEEKDAY_IN_MONTH = re.compile(r"(?:last|[1-5](?:st|nd|rd|th)) (?:mon|tue|wed|thu|fri|sat|sun)|last")


def cron_problem(cron: str) -> str:
    """What is wrong with a 5-field (minute hour day month weekday) or 6-field (seconds first)
    expression, in words; '' when it is valid."""
    fields = cron.split()
    if len(fields) not in (5, 6):
        return f"{len(fields)} fields, not 5 or 6"
    for name, text in zip(FIELDS[-len(fields):], fields, strict=True):
        for part in text.split(","):
            wrong = _part_problem(name, part)
            if wrong:
                return f"{name} field '{text}': {wrong}"
    return ""


def _part_problem(name: str, part: str) -> str:
    if name == "day" and WEEKDAY_IN_MONTH.fullmatch(part):
        return ""
    found = PART.fullmatch(part)
    if not found:
        return f"'{part}' is not a value, a range a-b or a step */n"
    low, high = RANGES[name]
    if found["step"] is not None and int(found["step"]) == 0:
        return "a step must be at least 1"
    if found["start"] == "*":
        return "" if found["end"] is None else "'*' cannot start a range"
    values = [_value(name, found[key]) for key in ("start", "end") if found[key] is not None]
    if None in values:
        known = f" or a name ({', '.join(NAMES[name])})" if name in NAMES else ""
        return f"'{part}' is not a number from {low} to {high}{known}"
    if any(not low <= value <= high for value in values):
        return f"'{part}' is outside {low} to {high}"
    if len(values) == 2 and values[0] > values[1]:
        return f"the range '{part}' runs backwards"
    return ""


def _value(name: str, text: str) -> int | None:
    if text.isdigit():
        return int(text)
    names = NAMES.get(name, ())
    return names.index(text.lower()) + (1 if name == "month" else 0) if text.lower() in names else None
