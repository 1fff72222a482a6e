"""Never a broken or doubled brief: pre-send checks, the ledger, owners, per-team send times.
Against a real SMTP server on 127.0.0.1 and real `reporter` processes."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from reporter.app.cli import main
from reporter.app.params import delivery_params
from reporter.app.schedule import build_scheduler, ensure_job
from reporter.app.settings import load_config
from reporter.data import sample
from reporter.delivery.dispatch import delay_note
from reporter.delivery.ledger import Ledger
from reporter.exits import Exit
from reporter.history.catalogue import delivery_status
from reporter.history.record import read_record
from tests.conftest import QUICK, REPO_ROOT, run_folders, run_main, write_config
from tests.smtp_server import RecordingHandler, free_port, start_server

TEAMS = [
    {"name": "Marketing", "recipients": ["anna@example.com", "ben@example.com"]},
    {"name": "Retention", "recipients": ["cara@example.com"]},
]
OWNER = "owner@example.com"



def _configure(project: Path, port: int, data: Path, teams=TEAMS, **sections) -> Path:
    path = project / "config" / "reporter.yaml"
    write_config(path, source={"path": str(data)}, **QUICK, teams=teams,
                 owners=[OWNER], smtp={"host": "127.0.0.1", "port": port, "security": "none",
                                       "from_address": "briefs@smartcart.test", "retries": 1,
                                       "backoff_seconds": 0.01, "timeout_seconds": 5}, **sections)
    return path


def _reporter(config: Path, *args: str) -> int:
    return main([args[0], "--config", str(config), *args[1:]])


def _recipients(handler: RecordingHandler) -> Counter:
    return Counter(address for message in handler.messages for address in message.rcpt_tos)


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _pdf_says(pdf: Path, words: str) -> bool:
    """Whether the PDF's text, its pages joined, holds `words`: read page by page only as far
    as it takes (pypdf spends about 0.05 s a page)."""
    text = ""
    for page in PdfReader(pdf).pages:
        text += page.extract_text()
        if words in text:
            return True
    return False


def _stale_copy(source: Path, folder: Path) -> Path:
    data = folder / "stale.csv"
    shutil.copy(source, data)
    month_ago = time.time() - 30 * 86400
    os.utime(data, (month_ago, month_ago))
    return data


def test_stale_data_is_held_owners_are_told_and_release_sends_once(project, server, sample_csv,
                                                                   tmp_path, capsys):
    controller, handler = server
    config = _configure(project, controller.port, _stale_copy(sample_csv, tmp_path))
    assert _reporter(config, "run") == 0  # the first run has nothing to be staler than
    assert _recipients(handler) == Counter({"anna@example.com": 1, "ben@example.com": 1,
                                            "cara@example.com": 1})
    first_ids = {_parse(m.content)["Message-ID"] for m in handler.messages}
    handler.messages.clear()

    assert _reporter(config, "run") == Exit.HELD  # the same month-old file again: a cron wrapper sees it
    held = run_folders(project / "output")[-1]
    record = json.loads((held / "run.json").read_text())
    assert record["status"] == "held"
    assert "last changed 30 days ago" in record["held_because"][0]
    assert "Held, not sent to any team" in capsys.readouterr().out
    assert "held: the data file stale.csv was last changed" in (project / "output" / "index.html").read_text()
    (notice,) = handler.messages
    assert notice.rcpt_tos == [OWNER]
    text = _parse(notice.content).get_body(("plain",)).get_content()
    assert f"reporter release {record['run_id']}" in text and "30 days ago" in text

    handler.messages.clear()
    assert _reporter(config, "preview", "--run", record["run_id"], "--out", str(tmp_path / "p")) == 0
    status = capsys.readouterr().out.splitlines()[0]
    assert status.startswith(f"Run {record['run_id']}: held, not sent (the data file stale.csv")
    assert f"reporter release {record['run_id']}" in status
    preview = _parse((tmp_path / "p" / "marketing.eml").read_bytes())
    assert preview.get_body(("plain",)).get_content().startswith(status + ".")
    assert "held, not sent" in preview.get_body(("html",)).get_content()
    assert _reporter(config, "send", "--run", record["run_id"]) == 2  # held: refused, not sent
    assert "is held" in capsys.readouterr().err and handler.messages == []
    assert _reporter(config, "release", record["run_id"]) == 0
    assert _recipients(handler) == Counter({"anna@example.com": 1, "ben@example.com": 1,
                                            "cara@example.com": 1})
    assert _reporter(config, "release", record["run_id"]) == 0
    assert "already sent" in capsys.readouterr().out
    assert len(handler.messages) == 2, "a second release sends nothing"

    message = _parse(handler.messages[0].content)
    assert message["Message-ID"] not in first_ids, "each message has its own Message-ID"
    assert message["In-Reply-To"] is None and message["References"] is None
    assert f"(data as of {record['as_of']})" in message["Subject"]
    assert json.loads((held / "run.json").read_text())["status"] == "released"

    assert main(["archive", "show", "--config", str(config), record["run_id"]]) == 0
    shown = capsys.readouterr().out
    assert "Delivery ledger:" in shown
    assert "brief  sent    Marketing: anna@example.com" in shown
    assert f"notice sent    owners: {OWNER}" in shown


def test_two_schedulers_racing_send_one_copy_per_recipient(archived, server):
    """The brief the racers send is the shared published run (tests/support/archive.py): a
    run whose teams all have a send time, as this test's own run was; the race is the send."""
    controller, handler = server
    later = [{**team, "send_at": "08:00", "timezone": "Europe/Berlin"} for team in TEAMS]
    config = _configure(archived.root, controller.port, archived.data, teams=later)
    assert archived.record()["delivery"] == [], "teams with a send time wait for their scheduled job"
    assert handler.messages == []
    racers = [subprocess.Popen([sys.executable, "-m", "reporter", "send", "--config", str(config),
                                "--team", team["name"], "--scheduled"], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for team in (*later, *later)]
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers), outputs
    assert _recipients(handler) == Counter({"anna@example.com": 1, "ben@example.com": 1,
                                            "cara@example.com": 1})
    assert sum("already sent" in out for out, _ in outputs) == 2


def test_a_dry_run_is_never_what_a_scheduled_send_or_the_catch_up_push_delivers(archived, server):
    """The real run is the shared published run (tests/support/archive.py: every team has a
    send time, nothing sent), copied; the dry run after it is this test's own run."""
    controller, handler = server
    later = [{**TEAMS[0], "send_at": "08:00", "timezone": "Europe/Berlin"}]
    config = _configure(archived.root, controller.port, archived.data, teams=later)
    assert _reporter(config, "run", "--dry-run") == 0
    real, dry = (json.loads((folder / "run.json").read_text())["run_id"]
                 for folder in run_folders(archived.output))
    assert real == archived.run_id
    assert _reporter(config, "send", "--team", TEAMS[0]["name"], "--scheduled") == 0
    assert _recipients(handler) == Counter({"anna@example.com": 1, "ben@example.com": 1})
    ids = {_parse(message.content)["Message-ID"] for message in handler.messages}
    assert all(real in i and dry not in i for i in ids), ids


def test_a_restart_after_partial_delivery_sends_only_to_those_missing(archived):
    """The partial delivery is the first `send` of a copy of the shared published run
    (tests/support/archive.py), the dispatch a run makes; the team is one the archive built an
    email for (Marketing), given four recipients."""
    project = archived.root
    handler = RecordingHandler(refuse={"cara@example.com"})
    controller = start_server(handler)
    team = [{"name": "Marketing", "recipients": ["anna@example.com", "ben@example.com",
                                                 "cara@example.com", "dan@example.com"]}]
    config = _configure(project, controller.port, archived.data, teams=team)
    try:
        assert _reporter(config, "send") == 0
        run_id = archived.run_id
        assert _recipients(handler) == Counter({"anna@example.com": 1, "ben@example.com": 1,
                                                "dan@example.com": 1})
        # a sender killed after claiming cara, before the server answered, leaves a dead claim
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from reporter.delivery.ledger import Ledger; "
                        "Ledger(Path(sys.argv[1])).claim(sys.argv[2], 'Marketing', ['cara@example.com'])",
                        str(project / "output"), run_id], check=True, cwd=REPO_ROOT)
    finally:
        controller.stop()
    handler = RecordingHandler()
    controller = start_server(handler)
    try:
        _configure(project, controller.port, archived.data, teams=team)
        assert _reporter(config, "send", "--run", run_id) == 0
    finally:
        controller.stop()
    assert _recipients(handler) == Counter({"cara@example.com": 1})
    rows = Ledger(project / "output").rows(run_id)
    assert Counter(r.recipient for r in rows if r.status == "sent") == Counter(
        {"anna@example.com": 1, "ben@example.com": 1, "cara@example.com": 1, "dan@example.com": 1})
    assert [r.detail for r in rows if r.status == "failed"] == [
        "550 5.1.1 mailbox unavailable", "interrupted before the message was handed to the mail server"]


def test_forced_and_test_sends_are_the_only_second_copies(archived, server, capsys):
    """On a copy of the shared published run (tests/support/archive.py): its first `send`
    delivers the brief as the run itself would, and every later send is the subject."""
    controller, handler = server
    config = _configure(archived.root, controller.port, archived.data, teams=TEAMS[1:])
    project = archived.root
    assert _reporter(config, "send") == 0 and len(handler.messages) == 1  # the brief, once
    assert _reporter(config, "send") == 0 and len(handler.messages) == 1
    assert _reporter(config, "send", "--force") == 0 and len(handler.messages) == 2
    assert _reporter(config, "send", "--test", "--to", "me@example.com") == 0
    test_copy = _parse(handler.messages[-1].content)
    # the archived Retention subject is long enough that "Subject:" is folded before it, and
    # the parser keeps the fold's leading space
    assert handler.messages[-1].rcpt_tos == ["me@example.com"] and \
        test_copy["Subject"].lstrip().startswith("[TEST] ")
    assert "Test copy" in test_copy.get_body(("plain",)).get_content()
    kinds = Counter((r.kind, r.recipient) for r in Ledger(project / "output").rows())
    assert kinds == Counter({("brief", "cara@example.com"): 1, ("forced", "cara@example.com"): 1})
    out = project / "look"
    assert _reporter(config, "preview", "--out", str(out)) == 0
    assert (out / "retention.eml").is_file() and "<html" in (out / "retention.html").read_text()


def test_a_password_variable_not_set_fails_its_team_in_words_and_asks_no_server(archived, server, capsys,
                                                                                monkeypatch):
    """It was a made-up server reply, "535 environment variable ... is not set", and the advice
    was to send again "once the mail server is reachable"."""
    controller, handler = server
    monkeypatch.delenv("REPORTER_TEST_NO_PASSWORD", raising=False)
    config = write_config(archived.config, source={"path": str(archived.data)}, **QUICK, teams=TEAMS[1:],
                          smtp={"host": "127.0.0.1", "port": controller.port, "security": "none",
                                "from_address": "briefs@smartcart.test", "username": "briefs",
                                "password_env": "REPORTER_TEST_NO_PASSWORD", "retries": 1,
                                "backoff_seconds": 0.01, "timeout_seconds": 5})
    capsys.readouterr()
    assert _reporter(config, "send") == 3  # reporter.exits: delivery failed
    said = capsys.readouterr()
    assert handler.messages == [] and "535" not in said.out + said.err
    assert "Retention: failed (REPORTER_TEST_NO_PASSWORD is not set in this environment, so no mail " \
           "server was asked; export it where reporter runs" in said.out + said.err
    assert "once the cause above is put right" in said.err


def test_a_failed_forced_copy_leaves_the_run_delivered_and_says_to_force_again(archived, server, capsys):
    """After a delivered run's --force copy failed, `archive show` said "not delivered", the
    run stopped being the next run's baseline (unsettled), and the command given to re-send
    left out --force, so it did nothing ("already sent")."""
    controller, handler = server
    config = _configure(archived.root, controller.port, archived.data, teams=TEAMS[1:])
    assert _reporter(config, "send") == 0 and len(handler.messages) == 1
    delivered = read_record(archived.folder)
    dead = _configure(archived.root, free_port(), archived.data, teams=TEAMS[1:])  # nobody listens
    capsys.readouterr()
    assert _reporter(dead, "send", "--force") == Exit.DELIVERY_FAILED
    (resend,) = [line for line in capsys.readouterr().err.splitlines() if "re-send it with" in line]
    assert f"`reporter send --run {archived.run_id} --force --config " in resend
    record = read_record(archived.folder)
    assert [e.status for e in record.delivery] == ["sent", "failed"]
    assert record.team_status() == delivered.team_status() and record.team_status()["Retention"] == "sent"
    assert (record.settled, record.is_baseline) == (delivered.settled, delivered.is_baseline)
    assert "Retention: sent" in delivery_status(record)


def test_a_warning_check_sends_the_brief_with_a_banner(project, server, sample_csv, tmp_path):
    controller, handler = server
    # the suite's sample: a worker draws its charts and fits its models once (tests/support/memo.py)
    first = Path(shutil.copy(sample_csv, tmp_path / "week1.csv"))
    config = _configure(project, controller.port, first, checks={"share_move": {"mode": "warn",
                                                                                "max_points": 0.01}})
    assert _reporter(config, "run") == 0
    shifted = pd.read_csv(first)
    shifted["Recency"] = (shifted["Recency"] + 40).clip(upper=99)
    second = sample.write(shifted, tmp_path / "week2.csv")
    handler.messages.clear()
    assert _reporter(config, "run", "--data", str(second)) == 0
    folder = run_folders(project / "output")[-1]
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "ready"
    assert [c["check"] for c in record["checks"] if not c["passed"]] == ["share_move"]
    assert "Check before use:</strong> persona shares moved" in (folder / "brief.html").read_text()
    assert len(handler.messages) == 2


def test_the_pdf_the_checks_read_is_the_one_archived_and_sent(project, server, sample_csv):
    """A PDF check in warn mode adds a banner, so the brief is rendered again: the new PDF is
    checked again, and those very bytes are archived and attached."""
    controller, handler = server
    config = _configure(project, controller.port, sample_csv,
                        checks={"pdf_complete": {"mode": "warn", "max_mb": 0.001}})
    assert _reporter(config, "run") == 0
    folder = run_folders(project / "output")[-1]
    record = json.loads((folder / "run.json").read_text())
    archived = (folder / "brief.pdf").read_bytes()
    assert record["pdf_sha256"] == hashlib.sha256(archived).hexdigest()
    (failed,) = [c for c in record["checks"] if not c["passed"]]
    assert failed["check"] == "pdf_complete" and "over the limit of 0.001 MB" in failed["problem"]
    assert _pdf_says(folder / "brief.pdf", "over the limit of 0.001 MB")  # the banner is archived
    attachments = [part.get_content() for message in handler.messages
                   for part in _parse(message.content).iter_attachments()
                   if part.get_content_type() == "application/pdf"]  # the call lists go too
    assert len(attachments) == 2 and all(pdf == archived for pdf in attachments)


@pytest.mark.e2e
def test_a_failed_run_tells_the_owners(project, server, tmp_path):
    controller, handler = server
    broken = tmp_path / "broken.csv"
    broken.write_text("ID,Income\n1,2\n")
    config = _configure(project, controller.port, broken)
    result = run_main("run", "--config", str(config))
    assert result.returncode == 2
    (notice,) = handler.messages
    assert notice.rcpt_tos == [OWNER]
    assert "missing required column" in _parse(notice.content).get_body(("plain",)).get_content()


def test_each_team_keeps_its_local_send_hour_across_daylight_saving(project, sample_csv):
    teams = [{"name": "Berlin", "recipients": ["b@example.com"], "send_at": "08:00",
              "timezone": "Europe/Berlin"},
             {"name": "New York", "recipients": ["n@example.com"], "send_at": "08:00",
              "timezone": "America/New_York"}]
    path = project / "config" / "reporter.yaml"
    write_config(path, source={"path": str(sample_csv)}, teams=teams)
    config = load_config(path)
    scheduler = build_scheduler(config)
    scheduler.start(paused=True)
    try:
        ensure_job(scheduler, config)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        utc_hours = {}
        for job_id in ("team-berlin", "team-new-york"):
            trigger = jobs[job_id].trigger
            moment = datetime(2026, 10, 20, tzinfo=UTC)  # the scheduler's clock, pinned
            fires = []
            for _ in range(16):  # across 25 Oct (Europe) and 1 Nov (United States)
                moment = trigger.get_next_fire_time(None, moment)
                fires.append(moment)
                moment = moment.replace(second=1)
            assert {(f.hour, f.minute) for f in fires} == {(8, 0)}, "08:00 local, every day"
            utc_hours[job_id] = sorted({f.astimezone(UTC).hour for f in fires})
    finally:
        scheduler.shutdown(wait=False)
    assert utc_hours == {"team-berlin": [6, 7], "team-new-york": [12, 13]}
    delivery = delivery_params(config)
    berlin = delivery.teams[0]
    built = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    assert delay_note(berlin, delivery.schedule, built, datetime(2026, 11, 2, 7, 30, tzinfo=UTC)) == ""
    late = delay_note(berlin, delivery.schedule, built, datetime(2026, 11, 2, 12, 10, tzinfo=UTC))
    assert late == "Delayed by 5 hours: this brief was due at 08:00 Europe/Berlin on 2026-11-02."


def test_a_dead_claim_is_failed_before_the_data_and_uncertain_after_it(tmp_path):
    """A process that died having claimed a and b, and begun handing b's data to the server."""
    def die_mid_send(run_id: str) -> None:
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from reporter.delivery.ledger import Ledger; ledger = Ledger(Path(sys.argv[1])); "
                        "ledger.claim(sys.argv[2], 'T', ['a@example.com', 'b@example.com']); "
                        "ledger.mark(sys.argv[2], ['b@example.com'], 'claimed', 'sending')",
                        str(tmp_path), run_id], check=True, cwd=REPO_ROOT)

    die_mid_send("r1")
    most = Ledger(tmp_path)  # at most once, the default
    assert most.claim("r1", "T", ["a@example.com", "b@example.com"]) == ["a@example.com"]
    assert [(r.recipient, r.status) for r in most.rows("r1")] == [
        ("a@example.com", "failed"), ("b@example.com", "uncertain"), ("a@example.com", "claimed")]
    assert "whether it arrived is unknown" in most.rows("r1")[1].detail
    die_mid_send("r2")
    least = Ledger(tmp_path, "at-least-once")
    assert least.claim("r2", "T", ["a@example.com", "b@example.com"]) == ["a@example.com", "b@example.com"]
    assert [r.status for r in least.rows("r2")] == ["failed", "failed", "claimed", "claimed"]
