"""Mail servers that misbehave after the data: at most one copy per recipient, the outcome
recorded as uncertain, the owners told, and nothing sent again unless asked (--force)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from reporter.app.params import delivery_params
from reporter.app.settings import load_config
from reporter.delivery.dispatch import finish_due
from reporter.history.catalogue import find_baseline
from tests.conftest import REPO_ROOT, run_cli, run_main
from tests.faults.conftest import EVERYONE, MARKETING, OWNER, start

pytestmark = pytest.mark.crash

SPARED = {OWNER}


def _record(archive) -> dict:
    return json.loads((archive.folder / "run.json").read_text())


def test_a_late_acknowledgement_is_one_copy_marked_uncertain_and_send_skips_it(archive, faulty):
    """Found on main: a server that stores the message and answers after the client's time-out
    got 3 copies per recipient, and the advised `reporter send` a 4th."""
    port, handler = faulty
    config = archive.configure(port)
    handler.fault = "late"
    sender = start("send", "--config", str(config), "--run", archive.run_id)
    out, err = sender.communicate(timeout=180)  # the client gives up; only then does the server answer
    handler.answer()
    assert handler.copies(SPARED) == EVERYONE, "one copy each, not one per retry"
    assert sender.returncode == 3 and "uncertain" in err, (out, err)
    assert len(err.strip().splitlines()) == 1
    assert archive.ledger() == dict.fromkeys(EVERYONE, "uncertain")
    assert [d["status"] for d in _record(archive)["delivery"]] == ["uncertain", "uncertain"]
    assert handler.notices(OWNER) == [f"[SmartCart briefs] delivery of run {archive.run_id} unconfirmed"]

    handler.fault = ""
    again = run_main("send", "--config", str(config), "--run", archive.run_id)
    assert again.returncode == 0, again.stderr
    assert "not sent again, so it cannot arrive twice" in again.stdout
    assert "--team 'Retention' --force" in again.stdout
    assert handler.copies(SPARED) == EVERYONE, "the advised re-send sends nothing"
    assert len(handler.notices(OWNER)) == 1, "the owners are told once"
    assert finish_due(delivery_params(load_config(config))) == [], \
        "an uncertain copy is settled: nothing is due"
    assert find_baseline(archive.output, _record(archive)["data"]["source_key"], date.max).run_id \
        == archive.run_id, "people (may) have it: it is the baseline"

    forced = run_main("send", "--config", str(config), "--run", archive.run_id, "--team", "Retention",
                      "--force")
    assert forced.returncode == 0 and handler.copies(SPARED)["cara@example.com"] == 2
    assert len(handler.message_ids(SPARED)) == 2, "one Message-ID per run and team, re-sends too"


def test_a_connection_dropped_after_the_data_is_one_copy_marked_uncertain(archive, faulty):
    port, handler = faulty
    config = archive.configure(port)
    handler.fault = "drop"
    result = run_main("send", "--config", str(config), "--run", archive.run_id)
    assert result.returncode == 3, result.stderr
    assert "Email to Marketing: uncertain (the mail server took the message but did not confirm it " \
           "(the connection was closed before its answer))" in result.stdout
    assert handler.copies(SPARED) == EVERYONE
    assert archive.ledger() == dict.fromkeys(EVERYONE, "uncertain")
    handler.fault = ""
    due = run_cli("send", "--config", str(config), "--due")  # the catch-up, in a fresh process
    assert due.returncode == 0 and "Nothing is due" in due.stdout, due.stderr
    assert handler.copies(SPARED) == EVERYONE


def test_4xx_to_a_recipient_and_to_the_data_is_retried_then_sent_once(archive, faulty):
    port, handler = faulty
    config = archive.configure(port)
    handler.busy_recipients, handler.busy_replies = 1, 1
    result = run_main("send", "--config", str(config), "--run", archive.run_id)
    assert result.returncode == 0, result.stderr
    assert handler.copies(SPARED) == EVERYONE
    assert archive.ledger() == dict.fromkeys(EVERYONE, "sent")
    record = _record(archive)
    assert [(d["team"], d["status"], d["attempts"]) for d in record["delivery"]] == [
        ("Marketing", "sent", 3), ("Retention", "sent", 1)]
    assert finish_due(delivery_params(load_config(config))) == []


def test_at_least_once_sends_again_after_no_answer_with_the_same_message_id(archive, faulty):
    port, handler = faulty
    config = archive.configure(port, smtp={"retries": 0}, delivery={"guarantee": "at-least-once"})
    handler.fault = "late"
    result = run_main("send", "--config", str(config), "--run", archive.run_id, "--team", "Marketing")
    handler.answer()
    assert result.returncode == 3 and "may have arrived" in result.stdout, result.stdout
    assert handler.copies(SPARED) == MARKETING
    assert archive.ledger() == dict.fromkeys(MARKETING, "failed")
    handler.fault = ""
    finished = finish_due(delivery_params(load_config(config)))
    assert [(o.team, o.status) for o in finished] == [("Marketing", "sent"), ("Retention", "sent")]
    assert handler.copies(SPARED) == MARKETING + EVERYONE, "a possible duplicate, never a loss"
    assert len(handler.message_ids(SPARED)) == 2, "the duplicate has the first copy's Message-ID"
    assert archive.ledger() == dict.fromkeys(EVERYONE, "sent")


def test_an_email_over_the_size_cap_is_not_sent_and_the_owners_are_told(archive, faulty):
    port, handler = faulty
    config = archive.configure(port, delivery={"max_email_mb": 0.05})
    result = run_main("send", "--config", str(config), "--run", archive.run_id)
    assert result.returncode == 3
    assert "Email to Marketing: too large (the email is " in result.stdout
    assert "over delivery.max_email_mb (0.05 MB), so it was not sent" in result.stdout
    assert f"then `reporter send --run {archive.run_id} --config " in result.stdout, "a runnable hint"
    assert handler.copies(SPARED) == Counter() and archive.ledger() == {}
    (notice,) = handler.notices(OWNER)
    assert notice == f"[SmartCart briefs] delivery failed for run {archive.run_id}"
    assert finish_due(delivery_params(load_config(config))) == [], "retrying cannot help: it is not due again"


def test_send_on_a_read_only_archive_is_one_line_and_sends_nothing(archive, faulty, tmp_path_factory):
    """Found on main: exit 1 with sqlite3.OperationalError."""
    port, handler = faulty
    config = archive.configure(port)
    run_main("send", "--config", str(config), "--run", archive.run_id, "--team", "Retention")
    assert (archive.output / "ledger.sqlite").is_file() and handler.copies(SPARED) == {"cara@example.com": 1}
    result = _as_a_user_who_cannot_write(archive, "send", "--config", str(config), "--run", archive.run_id)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"reporter: error: {archive.output / 'ledger.sqlite'}: the delivery ledger "
                           "cannot be written (it or its folder is read-only for this user)")
    assert "nothing was sent" in line and "writable" in line and "sqlite3" not in line
    assert handler.copies(SPARED) == {"cara@example.com": 1}


def _as_a_user_who_cannot_write(archive, *args: str):
    """`reporter ARGS` with the archive read-only: a read-only bind mount of it for the process
    (root writes through file modes), else the modes alone."""
    command = [sys.executable, "-m", "reporter", *args]
    if os.geteuid() != 0:
        return _with_modes_read_only(archive.output, command)
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("running as root without `unshare -m`: no way to make the archive read-only")
    remount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    return subprocess.run(["unshare", "-m", "sh", "-c", remount, str(archive.output), *command],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def _with_modes_read_only(output: Path, command: list[str]):
    paths = [output, *output.rglob("*")]
    modes = {path: path.stat().st_mode for path in paths}
    for path in paths:
        path.chmod(modes[path] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    finally:
        for path in paths:
            path.chmod(modes[path])
