"""Every outcome visible and every hint runnable (issue #30): one line per email, CRM push and
pruned run, exit codes that tell delivered, held and a failed push apart, suggested commands
that run as printed from any folder, one copy and one To: line per person, inline images.
Against a real SMTP server (aiosmtpd), a real webhook server and real `reporter` processes."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from reporter.data import sample
from reporter.delivery.ledger import Ledger
from reporter.exits import INTERRUPTED, MEANING, PIPE_CLOSED, Exit
from tests.conftest import QUICK, REPO_ROOT, run_main, write_config
from tests.smtp_server import FaultyHandler, parse, start_server
from tests.webhook_server import SECRET, Behaviour, Webhook

OWNER = "owner@example.com"
TEAMS = [{"name": "Marketing", "recipients": ["ada@example.com", "ben@example.com"]},
         {"name": "Retention", "recipients": ["ada@example.com", "cara@example.com"]}]
SUGGESTED = re.compile(r"reporter (?:release|send|push|run|preview|rerender|archive show)\b[^`\r\n]*")


@pytest.fixture
def mail():
    handler = FaultyHandler(spared={OWNER})
    controller = start_server(handler)
    yield controller, handler
    controller.stop()


def _configure(project: Path, port: int, teams=TEAMS, **sections) -> Path:
    """The project's config (source: the sample table) with these teams, an owner and SMTP."""
    path = project / "config" / "reporter.yaml"
    source = yaml.safe_load(path.read_text())["source"]
    write_config(path, source=source, **QUICK, teams=teams,
                 owners=[OWNER], smtp={"host": "127.0.0.1", "port": port, "security": "none",
                                       "from_address": "briefs@smartcart.test", "retries": 0,
                                       "backoff_seconds": 0.01, "timeout_seconds": 5}, **sections)
    return path


def _owner_texts(handler: FaultyHandler) -> list[str]:
    return [parse(m.content).get_body(("plain",)).get_content() for m in handler.messages
            if OWNER in m.rcpt_tos]


def _team_messages(handler: FaultyHandler) -> list:
    return [parse(m.content) for m in handler.messages if OWNER not in m.rcpt_tos]


def _suggested(*texts: str) -> list[str]:
    """Every command a text suggests, in order, once each, trailing punctuation dropped."""
    found = [match.rstrip(" .)") for text in texts for match in SUGGESTED.findall(text)]
    return list(dict.fromkeys(found))


def _run_as_printed(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The printed words, split as a shell splits them, given to `reporter`'s main from `cwd`:
    in this process (run_main), as what is checked is that the words and their paths work, not
    how an interpreter starts (three fresh ones were ~9 s)."""
    words = shlex.split(command)
    assert words[0] == "reporter"
    return run_main(*words[1:], cwd=cwd)


def test_a_failed_push_is_printed_changes_the_exit_code_and_a_later_send_retries_it(
        project, mail, monkeypatch):
    controller, _ = mail
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", SECRET)
    hook = Webhook(Behaviour(fail_first=1, status=403))
    try:
        config = _configure(project, controller.port, crm=[
            {"name": "warehouse", "url": "sqlite:///crm.db"},
            {"name": "shop", "webhook": hook.url, "secret_env": "CRM_WEBHOOK_SECRET",
             "batch_size": 250, "backoff_seconds": 0.01, "timeout_seconds": 20}])
        ran = run_main("run", "--config", str(config))
        assert ran.returncode == Exit.PUSH_FAILED, ran.stdout + ran.stderr
        lines = ran.stdout.splitlines()
        assert "Email to Marketing: sent" in lines and "Email to Retention: sent" in lines
        (warehouse,) = [line for line in lines if line.startswith("crm warehouse: sent (")]
        assert "600 customers upserted" in warehouse
        (shop,) = [line for line in lines if line.startswith("crm shop: failed (")]
        assert "403" in shop and f"--config {config}" in shop

        again = run_main("send", "--config", str(config))  # the webhook answers now
        assert again.returncode == Exit.OK, again.stdout + again.stderr
        (retried,) = [line for line in again.stdout.splitlines() if line.startswith("crm shop: sent")]
        assert "a retry: the push of this run failed at" in retried
        assert not any(line.startswith("crm warehouse") for line in again.stdout.splitlines()), \
            "a target that had the run is not pushed again"
    finally:
        hook.stop()
    guide = " ".join((REPO_ROOT / "docs" / "operations" / "crm.md").read_text().split())
    assert "A later `reporter send` of the run pushes a failed push again" in guide


def test_the_documented_exit_code_table_is_the_one_the_code_uses():
    """docs/operations/exit-codes.md's meaning column is exits.MEANING, code for code; the
    signal conventions (Ctrl-C, a closed pipe), not reporter's outcomes, are documented too."""
    page = (REPO_ROOT / "docs" / "operations" / "exit-codes.md").read_text()
    rows = dict(re.findall(r"^\| `(\d+)` \| (.+?) \| .+ \|$", page, flags=re.M))
    documented = {int(code): text for code, text in rows.items()}
    assert documented.pop(INTERRUPTED, None) is not None, "exit code 130 (Ctrl-C) is documented"
    assert documented.pop(PIPE_CLOSED, None) is not None, "exit code 141 (a closed pipe) is documented"
    assert documented == {int(c): t for c, t in MEANING.items()}


def test_every_suggested_command_runs_as_printed_from_another_folder(project, mail, tmp_path):
    """A failed, an uncertain and a held delivery: each command the console and the owners'
    emails suggest is run exactly as printed, from a folder with no config in it."""
    controller, handler = mail
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    teams = [{"name": "Marketing", "recipients": ["ada@example.com"]},
             {"name": "Retention Team", "recipients": ["cara@example.com"]}]
    config = _configure(project, controller.port, teams=teams)
    handler.refuse = {"ada@example.com"}  # Marketing's one address is refused: failed
    handler.fault = "drop"  # Retention's copy is stored, then the connection dropped: uncertain
    ran = run_main("run", "--config", str(config), cwd=REPO_ROOT)
    assert ran.returncode == Exit.DELIVERY_FAILED, ran.stdout + ran.stderr
    assert "RUN_ID" not in ran.stderr and "TEAM" not in ran.stderr
    commands = _suggested(ran.stdout, ran.stderr, *_owner_texts(handler))

    handler.fault, handler.messages = "", []
    _configure(project, controller.port, teams=teams,
               checks={"pdf_complete": {"mode": "hold", "max_mb": 0.01}})
    held = run_main("run", "--config", str(config), cwd=REPO_ROOT)
    assert held.returncode == Exit.HELD, held.stdout + held.stderr
    commands = list(dict.fromkeys(commands + _suggested(held.stdout, *_owner_texts(handler))))

    kinds = Counter(" ".join(w for w in shlex.split(c) if w in ("send", "release", "--force"))
                    for c in commands)
    assert set(kinds) == {"send", "send --force", "release"}, commands
    assert all(f"--config {config}" in c for c in commands), commands
    handler.refuse, handler.messages = set(), []  # the mail server is fixed
    for command in commands:
        done = _run_as_printed(command, elsewhere)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    copies = Counter(a for m in handler.messages for a in m.rcpt_tos if a != OWNER)
    assert copies == Counter({"ada@example.com": 2, "cara@example.com": 2}), \
        "the re-send, the forced re-send and the released brief"


def test_latest_names_the_newest_run_wherever_a_run_is_named(archived, mail, tmp_path):
    """The newest run is a copy of the shared published run (tests/support/archive.py), not a
    dry run of this test's own: "latest" is a name for whichever run is newest."""
    controller, _ = mail
    config = str(_configure(archived.root, controller.port))
    latest = run_main("archive", "show", "latest", "--config", config)
    assert archived.run_id in latest.stdout, latest.stdout + latest.stderr
    for command in (["archive", "show", "latest"], ["rerender", "latest", "--out", str(tmp_path / "r")],
                    ["preview", "--run", "latest", "--out", str(tmp_path / "p")],
                    ["send", "--run", "latest", "--dry-run"], ["release", "latest"]):
        done = run_main(*command, "--config", config)
        assert done.returncode == 0, (command, done.stderr)


def test_a_recipient_in_two_teams_gets_one_copy_and_is_listed_once(archived, mail):
    """The brief is the shared published run (tests/support/archive.py), copied, that nobody
    was sent yet: its first `send` is the delivery a run makes (the same dispatch)."""
    controller, handler = mail
    project = archived.root
    config = _configure(project, controller.port)
    ran = run_main("send", "--config", str(config))
    assert ran.returncode == Exit.OK, ran.stdout + ran.stderr
    copies = Counter(a for m in handler.messages for a in m.rcpt_tos)
    assert copies == Counter({"ada@example.com": 1, "ben@example.com": 1, "cara@example.com": 1})
    headers = {m["List-Id"].split(" <")[0]: m["To"] for m in _team_messages(handler)}
    assert headers == {"SmartCart briefs for Marketing": "ada@example.com, ben@example.com",
                       "SmartCart briefs for Retention": "cara@example.com"}
    assert "  ada@example.com: received with team Marketing" in ran.stdout.splitlines()

    assert run_main("send", "--config", str(config)).returncode == Exit.OK  # nothing new, no new row
    skipped = [(r.team, r.recipient, r.status, r.detail) for r in Ledger(project / "output").rows()
               if r.status == "skipped"]
    assert skipped == [("Retention", "ada@example.com", "skipped", "received with team Marketing")]
    shown = run_main("archive", "show", "latest", "--config", str(config)).stdout
    assert "brief  skipped Retention: ada@example.com (received with team Marketing)" in shown


def test_the_inline_chart_is_inline_and_the_pdf_an_attachment(archived, mail):
    """The message of the shared published run (tests/support/archive.py), copied and sent:
    the email is built from the archived files either way."""
    controller, handler = mail
    config = _configure(archived.root, controller.port, teams=TEAMS[:1])
    assert run_main("send", "--config", str(config)).returncode == Exit.OK
    (message,) = _team_messages(handler)
    parts = {part.get_filename(): part for part in message.walk() if part.get_filename()}
    chart = parts["persona-sizes.png"]
    assert chart["Content-ID"] and chart.get_content_disposition() == "inline"
    assert f"cid:{chart['Content-ID'].strip('<>')}" in message.get_body(("html",)).get_content()
    (pdf,) = [part for name, part in parts.items() if name.endswith(".pdf")]
    assert pdf.get_content_disposition() == "attachment"


def test_validate_warns_when_nobody_is_told(project):
    done = run_main("validate", "--config", str(project / "config" / "reporter.yaml"))
    assert done.returncode == 0
    assert "owners: is empty, so nobody is told when a brief is held" in done.stderr


def test_a_held_brief_exits_with_the_held_code(project, sample_csv):
    config = write_config(project / "config" / "reporter.yaml", source={"path": str(sample_csv)},
                          **QUICK,
                          checks={"pdf_complete": {"mode": "hold", "max_mb": 0.01}})
    done = run_main("run", "--config", str(config))
    assert done.returncode == Exit.HELD == 4, done.stdout + done.stderr
    assert "Held, not sent to any team" in done.stdout


def test_each_pruned_run_is_printed(project, mail, sample_csv, tmp_path):
    controller, _ = mail
    data = tmp_path / "drop" / "customers.csv"  # the drop folder: this week's file, then next week's
    data.parent.mkdir()
    shutil.copy(sample_csv, data)
    config = _configure(project, controller.port, teams=TEAMS[:1], history={"retention_runs": 1})
    write_config(config, **(yaml.safe_load(config.read_text()) | {"source": {"path": str(data)},
                                                                  "output": {"dir": "../output"}}))
    first = run_main("run", "--config", str(config))
    assert first.returncode == Exit.OK, first.stdout + first.stderr
    sample.write(sample.age(pd.read_csv(sample_csv), 7, seed=3), data)
    second = run_main("run", "--config", str(config))
    assert second.returncode == Exit.OK, second.stdout + second.stderr
    first_id = re.search(r"^Brief (\S+):", first.stdout, flags=re.M).group(1)
    kept = [line for line in second.stdout.splitlines() if line.startswith("Kept run ")]
    assert len(kept) == 1 and first_id in kept[0] and "baseline" in kept[0], second.stdout
    sample.write(sample.age(pd.read_csv(data), 7, seed=4), data)
    third = run_main("run", "--config", str(config))  # the first run is no baseline any more
    assert third.returncode == Exit.OK, third.stdout + third.stderr
    pruned = [line for line in third.stdout.splitlines() if line.startswith("Pruned run ")]
    assert len(pruned) == 1 and first_id in pruned[0], third.stdout
    assert not any(first_id in p.name for p in (project / "output").iterdir()), "and it is gone"


def _to_a_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, its stdout a pipe whose reader has already gone, as `| head -1`
    leaves it once it has its line (so every write of the command fails, whatever its size)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "reporter", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("command", [
    ["archive", "show", "latest"], ["archive", "list"], ["--version"], ["sample", "--rows", "30"],
], ids=" ".join)
def test_a_command_whose_reader_left_stops_quietly_with_141(archived, tmp_path, command):
    """`reporter archive show latest | head -1` printed "unexpected failure (a bug ...)" and a
    BrokenPipeError traceback, exit 1 (--version: a bare traceback); every command now ends as
    git does there: nothing on stderr, 141 (what a shell shows for SIGPIPE)."""
    extra = {"archive": ["--config", str(archived.config)], "sample": ["--out", str(tmp_path / "s.csv")]}
    done = _to_a_closed_pipe(*command, *extra.get(command[0], []))
    assert (done.returncode, done.stderr) == (141, "")
