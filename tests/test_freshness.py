"""Freshness by content: data the last delivered run already read is held (or skipped),
whatever the file's age; different bytes are not."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from reporter.app.pipeline import RunResult, run
from reporter.app.settings import load_config
from reporter.data import sample
from tests.conftest import QUICK, REPO_ROOT, archive_entries, new_project, run_main, write_config

WEEK1 = datetime(2026, 11, 23, 7, 0).astimezone()
WEEK2 = WEEK1 + timedelta(days=7)


def _configure(project: Path, data: Path, port: int | None = None, **checks: dict) -> Path:
    """The shipped checks (unchanged_data as reporter.yaml has it), some replaced."""
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "retries": 0,
            "from_address": "briefs@smartcart.test", "timeout_seconds": 5} if port else None
    path = write_config(project / "config" / "reporter.yaml", source={"path": str(data)},
                        **QUICK,
                        **({"smtp": smtp} if smtp else {}))
    return _shipped_checks(path, **checks)


def _shipped_checks(path: Path, **checks: dict) -> Path:
    document = yaml.safe_load(path.read_text())
    document["checks"] = yaml.safe_load((REPO_ROOT / "config" / "reporter.yaml").read_text())["checks"]
    document["checks"].update(checks)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _touch(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def _export(project: Path, sample_csv: Path) -> Path:
    data = project / "drop" / "customers.csv"
    data.parent.mkdir()
    shutil.copy(sample_csv, data)
    _touch(data, WEEK1 - timedelta(hours=1))
    return data


@dataclass(frozen=True)
class FirstWeek:
    """A project whose export was briefed and sent at WEEK1, with the shipped checks."""

    project: Path
    data: Path  # outside the project: every copy reads this same file, so the same source
    result: RunResult
    sent: tuple  # what the SMTP server received from that run


@pytest.fixture(scope="module")
def first_week(tmp_path_factory, sample_csv, smtp_server) -> FirstWeek:
    """The first week of the two tests of an unchanged export, made once (each briefs a
    copy): a copy takes milliseconds, a run and its PDF seconds."""
    controller, handler = smtp_server
    root = tmp_path_factory.mktemp("first-week")
    data = _export(root, sample_csv)
    project = root / "project"
    new_project(project, data)  # config/ with the shipped personas.yaml, as `project` has it
    handler.reset()
    result = run(load_config(_configure(project, data, controller.port)), now=WEEK1)
    sent = tuple(handler.messages)
    handler.reset()
    return FirstWeek(project, data, result, sent)


def _copy(first_week: FirstWeek, tmp_path: Path) -> Path:
    """A copy of the first week's project, to run the next week in."""
    return Path(shutil.copytree(first_week.project, tmp_path / "project"))


def test_an_unchanged_export_touched_a_week_later_is_held_naming_the_earlier_run(first_week, tmp_path,
                                                                               server):
    _, handler = server
    data, first = first_week.data, first_week.result
    config = load_config(_copy(first_week, tmp_path) / "config" / "reporter.yaml")  # the same smtp
    assert not first.checks.held and first_week.sent, "the first run is delivered"

    _touch(data, WEEK2 - timedelta(hours=1))  # the export job rewrote the same bytes
    held = run(config, as_of=first.brief.as_of + timedelta(days=7), now=WEEK2)
    assert held.checks.held and handler.messages == [], "no team gets last week's customers again"
    (reason,) = [r.problem for r in held.checks.holding]
    assert f"exactly the customers run {first.run_id} read on 2026-11-23" in reason
    assert "customers.csv" in reason and "--allow-unchanged" in reason
    assert [r.name for r in held.checks.holding] == ["unchanged_data"], "not for its age"

    again = run(config, as_of=first.brief.as_of + timedelta(days=7), now=WEEK2, allow_unchanged=True)
    assert not again.checks.held and handler.messages, "a re-run on purpose goes out"


def test_with_skip_an_unchanged_export_archives_nothing_and_exits_6(first_week, tmp_path):
    data, first = first_week.data, first_week.result
    project = _copy(first_week, tmp_path)
    config_path = _configure(project, data, unchanged_data={"mode": "skip"})
    _touch(data, datetime.now() - timedelta(hours=1))
    before = archive_entries(project / "output")
    index = (project / "output" / "index.html").read_bytes()

    skipped = run_main("run", "--config", str(config_path),
                       "--as-of", (first.brief.as_of + timedelta(days=7)).isoformat())
    assert skipped.returncode == 6, skipped.stderr
    assert skipped.stdout.count("\n") == 1 and skipped.stderr == ""
    assert skipped.stdout.startswith("Skipped, nothing archived: the data file customers.csv holds "
                                     f"exactly the customers run {first.run_id} read")
    assert archive_entries(project / "output") == before
    assert (project / "output" / "index.html").read_bytes() == index


def test_an_export_with_different_bytes_is_not_held(project, tmp_path):
    week1 = sample.generate(1000, seed=31)
    data = sample.write(week1, project / "drop" / "customers.csv")
    _touch(data, WEEK1 - timedelta(hours=1))
    config = load_config(_configure(project, data))
    first = run(config, now=WEEK1)
    sample.write(sample.age(week1, 7, seed=32), data)
    _touch(data, WEEK2 - timedelta(hours=1))
    second = run(config, now=WEEK2)
    assert not first.checks.held and not second.checks.held, second.checks.holding
    assert next(c for c in second.checks.results if c.name == "unchanged_data").passed


def test_a_database_returning_the_rows_the_last_run_read_is_held_at_once(tmp_path, sample_csv, postgres,
                                                                         monkeypatch):
    """No file date to go by: the same rows are held the next day, not only after max_age_days.
    The 600-customer sample in the database, not the real table: what is held is the rows
    being the same, whatever their number (tests/test_databases.py reads the real table)."""
    from tests import postgres_server
    from tests.test_databases import CRM_NAMES, NEWEST, project, to_postgres, typed

    url = to_postgres(postgres, typed(sample_csv), "crm_unchanged")
    monkeypatch.setenv("CRM_DB_PASSWORD", postgres_server.PASSWORD)
    config = _shipped_checks(project(tmp_path, "unchanged", url=url, password_env="CRM_DB_PASSWORD",
                                     columns=CRM_NAMES,
                                     query=f"SELECT * FROM crm_customers WHERE snapshot = '{NEWEST}'"))
    first = run(load_config(config), now=WEEK1)
    second = run(load_config(config), now=WEEK1 + timedelta(days=1))
    assert not first.checks.held and second.checks.held
    (reason,) = [r.problem for r in second.checks.holding]
    assert " query " in reason, "names what was read"
    assert f"holds exactly the customers run {first.run_id} read on 2026-11-23" in reason
    assert "password" not in reason.lower() and postgres_server.PASSWORD not in reason


def test_an_export_older_than_the_brief_already_sent_is_held(first_week, tmp_path, server):
    """An export cut short loses its newest sign-ups, so its customers are as of an earlier day
    than last week's: no baseline is that old, and it went to every team as a first brief
    ("no saved model in the archive yet") while the CRM and the API kept the newer run."""
    _, handler = server
    first = first_week.result
    project = _copy(first_week, tmp_path)
    table = pd.read_csv(first_week.data)
    joined = pd.to_datetime(table["Dt_Customer"], format="%d-%m-%Y")
    cut = sample.write(table.loc[joined < joined.max() - timedelta(days=30)],
                       first_week.data.with_name("customers-cut.csv"))  # beside it: the same source
    _touch(cut, WEEK2 - timedelta(hours=1))
    held = run(load_config(project / "config" / "reporter.yaml"), data=cut, now=WEEK2)
    assert held.checks.held and handler.messages == [], "no team gets the older customers"
    (reason,) = [r.problem for r in held.checks.holding if r.name == "data_fresh"]
    assert reason.startswith(f"these customers are as of {held.brief.as_of:%Y-%m-%d} (their newest join "
                             f"date), older than those of run {first.run_id} (as of "
                             f"{first.brief.as_of:%Y-%m-%d}), which was already sent")
    record = json.loads((held.folder / "run.json").read_text())
    assert record["model"]["reason"] == (f"the saved model is of newer customers (run {first.run_id}, "
                                         f"as of {first.brief.as_of:%Y-%m-%d}) than these")


def test_an_export_with_far_fewer_customers_is_held(first_week, tmp_path, server):
    """A filtered export (1,700 customers, then 636) went to every team and the CRM with
    "1,082 gone" as its only sign."""
    _, handler = server
    first = first_week.result
    table = pd.read_csv(first_week.data)
    newest = pd.to_datetime(table["Dt_Customer"], format="%d-%m-%Y").idxmax()  # the same as-of day
    kept = table.loc[(table.index % 3 == 0) | (table.index == newest)]
    part = sample.write(kept, first_week.data.with_name("customers-part.csv"))
    _touch(part, WEEK2 - timedelta(hours=1))
    held = run(load_config(_copy(first_week, tmp_path) / "config" / "reporter.yaml"), data=part, now=WEEK2)
    assert held.checks.held and handler.messages == []
    (reason,) = [r.problem for r in held.checks.holding]
    before = first.brief.customers
    assert reason == (f"{held.brief.customers:,} customers, against {before:,} in run {first.run_id} "
                      f"(-{100 * (before - held.brief.customers) / before:.0f}%, more than the 25% allowed "
                      "by checks.customer_count): an export cut short or filtered? export the whole "
                      "customer table")
