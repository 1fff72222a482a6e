"""SIGKILL of a real `reporter` between every two delivery steps (published, claimed, data
handed over, answered, settled), each at a handshake: a restart finishes what is due, and
every recipient ends with exactly one copy."""

from __future__ import annotations

import json
from datetime import date

import pytest

from reporter.app.api import Archive as ServedArchive
from reporter.app.params import delivery_params
from reporter.app.settings import load_config
from reporter.delivery.dispatch import finish_due
from reporter.history.catalogue import find_baseline
from tests.conftest import run_cli, run_main
from tests.faults.conftest import EVERYONE, MARKETING, OWNER, configure, kill, start, wait_until
from tests.test_schedule import said, stop, wait_for
from tests.test_schedule import start as start_scheduler

pytestmark = pytest.mark.crash

SPARED = {OWNER}


def _source(archive) -> str:
    return json.loads((archive.folder / "run.json").read_text())["data"]["source_key"]


def test_a_run_killed_after_publishing_is_not_delivered_until_the_scheduler_finishes_it(archive, faulty):
    """Found on main: killed after publish and before any email, the run became the baseline
    of the next run and the model `serve` answers with, and a restarted scheduler sent nothing."""
    port, handler = faulty
    config = archive.configure(port)
    assert find_baseline(archive.output, _source(archive), date.max) is None, "nobody received it"
    assert ServedArchive(load_config(config)).current() is None, "serve does not answer with it"
    listed = run_main("archive", "list", "--config", str(config))
    assert "[not delivered: Marketing: not sent, Retention: not sent]" in listed.stdout

    scheduler = start_scheduler(config)  # a real `reporter schedule`, as after a reboot
    try:
        assert wait_for(lambda: said(scheduler, "catch-up at start-up"), 180), scheduler.lines
    finally:
        code, output = stop(scheduler)
    assert code == 0 and "catch-up at start-up: 2 team(s) finished" in output, output
    assert handler.copies(SPARED) == EVERYONE
    assert archive.ledger() == dict.fromkeys(EVERYONE, "sent")
    assert handler.notices(OWNER) == [
        f"[SmartCart briefs] run {archive.run_id} finished after an interruption"]
    assert find_baseline(archive.output, _source(archive), date.max).run_id == archive.run_id
    assert ServedArchive(load_config(config)).current().run.run_id == archive.run_id
    assert finish_due(delivery_params(load_config(config))) == [], "exactly once: nothing is due any more"
    assert handler.copies(SPARED) == EVERYONE


def test_killed_once_the_server_has_the_data_is_one_copy_not_two(archive, faulty):
    """Found on main: SIGKILL right after the server accepted a message, then `reporter send`:
    2 copies (the dead claim was 'failed (interrupted)' and sent again)."""
    port, handler = faulty
    config = archive.configure(port)
    handler.fault = "late"  # the server stores Marketing's message and holds its answer
    sender = start("send", "--config", str(config), "--run", archive.run_id)
    wait_until(handler.stored.is_set, sender)
    kill(sender)  # while it waits for the answer
    handler.answer()
    handler.fault = ""
    again = run_main("send", "--config", str(config), "--run", archive.run_id)
    assert handler.copies(SPARED) == EVERYONE, "one copy each, not two"
    assert again.returncode == 0, again.stderr
    assert "not sent again" in again.stdout
    assert archive.ledger() == {"anna@example.com": "uncertain", "ben@example.com": "uncertain",
                                "cara@example.com": "sent"}
    assert handler.notices(OWNER) == [f"[SmartCart briefs] delivery of run {archive.run_id} unconfirmed"]


POINTS = {  # where it is killed: copies at the kill, ledger after the catch-up
    "claimed": ({}, dict.fromkeys(EVERYONE, "sent")),
    "data": (MARKETING, {**dict.fromkeys(MARKETING, "uncertain"), "cara@example.com": "sent"}),
    "answered": (MARKETING, {**dict.fromkeys(MARKETING, "uncertain"), "cara@example.com": "sent"}),
    "settled": (EVERYONE, dict.fromkeys(EVERYONE, "sent")),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_a_kill_between_two_steps_ends_with_one_copy_each_after_the_catch_up(archive, faulty, tmp_path,
                                                                            point):
    port, handler = faulty
    config = archive.configure(port)
    marker = tmp_path / "at-fault"
    if point == "data":
        handler.fault = "late"
        sender = start("send", "--config", str(config), "--run", archive.run_id)
        wait_until(handler.stored.is_set, sender)
    else:
        sender = start("send", "--config", str(config), "--run", archive.run_id, fault=point, marker=marker)
        wait_until(marker.exists, sender)
    kill(sender)
    handler.answer()
    handler.fault = ""
    at_kill, after = POINTS[point]
    assert handler.copies(SPARED) == at_kill

    due = run_cli("send", "--config", str(config), "--due")  # what a restarted scheduler does first
    assert due.returncode == 0, due.stdout + due.stderr
    assert handler.copies(SPARED) == EVERYONE, "every recipient has exactly one copy"
    assert archive.ledger() == after
    told = handler.notices(OWNER)
    assert f"[SmartCart briefs] run {archive.run_id} finished after an interruption" in told
    assert (f"[SmartCart briefs] delivery of run {archive.run_id} unconfirmed" in told) == \
        ("uncertain" in after.values())
    assert finish_due(delivery_params(load_config(config))) == [], "a second restart finds nothing due"
    assert handler.copies(SPARED) == EVERYONE
    assert find_baseline(archive.output, _source(archive), date.max).run_id == archive.run_id


def test_the_weekly_job_finishes_the_last_run_before_it_starts_the_next(archive, faulty, tmp_path):
    """The scheduler's job (`reporter.jobs:run_brief_job`): `send --due` in a child, then the
    run (here one that fails on its data, so the test makes no second brief)."""
    from reporter.jobs import run_brief_job

    port, handler = faulty
    broken = tmp_path / "broken.csv"
    broken.write_text("ID,Income\n1,2\n")
    config = configure(archive.root, port, broken)
    assert run_brief_job(str(config)) == 2
    assert handler.copies(SPARED) == EVERYONE
    told = handler.notices(OWNER)
    assert told[0] == f"[SmartCart briefs] run {archive.run_id} finished after an interruption"
    assert told[1] == "[SmartCart briefs] a run failed; no brief this time"
