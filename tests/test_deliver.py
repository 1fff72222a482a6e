"""Delivery against a real SMTP server on 127.0.0.1: whole runs where the test is about the run
(its dry run, what it leaves, what it writes to disk), the rest sending a run archived once per
worker (tests/support/archive.py) as `reporter send` does, and as a run does after publishing
(the pipeline's delivery is the same `dispatch_run` from the archived files)."""

from __future__ import annotations

import email
import email.policy
import json
from types import SimpleNamespace

import pytest
import trustme

from reporter.app.params import delivery_params
from reporter.app.pipeline import run
from reporter.app.settings import load_config
from reporter.delivery.dispatch import dispatch_run
from tests.conftest import QUICK, archive_entries, run_folders, run_main, write_config
from tests.smtp_server import RecordingHandler, free_port, start_server
from tests.support.archive import TEAMS as ARCHIVED_TEAMS

TEAMS = ARCHIVED_TEAMS[:2]  # Marketing, Retention
MARKETING_ANNA = [{"name": "Marketing", "recipients": ["anna@example.com"]}]



def deliver(folder, config, **options):
    """Send an archived run as `reporter send` does: the delivery parameters of `config`."""
    return dispatch_run(folder, delivery_params(config), **options)

def smtp_settings(port: int, **overrides) -> dict:
    return {"host": "127.0.0.1", "port": port, "security": "none", "from_address": "briefs@smartcart.test",
            "timeout_seconds": 5, "retries": 2, "backoff_seconds": 0.01, **overrides}


def configure(project, smtp: dict | None, teams=TEAMS):
    sections = {"teams": teams}
    if smtp is not None:
        sections["smtp"] = smtp
    config_path = project / "config" / "reporter.yaml"
    text = config_path.read_text()
    write_config(config_path, source={"path": _source(text)}, **QUICK, **sections)
    return load_config(config_path)


def _source(text: str) -> str:
    import yaml

    return yaml.safe_load(text)["source"]["path"]



def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_each_team_gets_one_complete_message(archived, server):
    """The shared published run (tests/support/archive.py), copied and sent as a run sends
    it after publishing (the same dispatch from the archived files)."""
    from reporter.brief.view import read_brief

    controller, handler = server
    delivered = deliver(archived.folder, configure(archived.root, smtp_settings(controller.port)))
    result = SimpleNamespace(brief=read_brief(archived.folder), pdf=archived.folder / "brief.pdf",
                             folder=archived.folder)
    assert [o.status for o in delivered.outcomes] == ["sent", "sent"]
    assert len(handler.messages) == 2
    by_team = {parse(m.content)["List-Id"].split("<")[1].split(".")[0]: m for m in handler.messages}
    assert by_team["marketing"].rcpt_tos == ["anna@example.com", "ben@example.com"]
    assert by_team["retention"].rcpt_tos == ["cara@example.com"]
    message = parse(by_team["retention"].content)
    assert message["Subject"].startswith(f"Retention brief {result.brief.run_date:%Y-%m-%d}: ")
    to_contact = sum(1 for _ in (archived.folder / "churn_risk.csv").open()) - 1  # as the list holds
    flagged = next(f for f in result.brief.flags if f.name == "Churn Risk")
    assert f": {to_contact:,} to win back" in message["Subject"], message["Subject"]
    marketing = parse(by_team["marketing"].content)["Subject"]
    assert f": {to_contact:,} churn risk customers to contact" in marketing, marketing
    assert flagged.held_back and flagged.count == to_contact + flagged.held_back
    assert message["Message-ID"].endswith("@smartcart.test>") and message["Date"]
    assert message.get_body(("plain",)).get_content().startswith(result.brief.title)
    html = message.get_body(("html",)).get_content()
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and f'src="cid:{images[0]["Content-ID"].strip("<>")}"' in html
    assert images[0].get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    (pdf,) = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_content()[:5] == b"%PDF-" and pdf.get_content() == result.pdf.read_bytes()
    table = html[html.index("<table"):]
    assert table.index("Low Engagement") < table.index("Premium"), "the team's personas come first"
    assert html.index("Churn Risk: ") < html.index("<table")
    record = json.loads((result.folder / "run.json").read_text())
    assert [d["status"] for d in record["delivery"]] == ["sent", "sent"]


def test_starttls_with_login_password_from_the_environment(project, monkeypatch, tmp_path):
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    server_context = __import__("ssl").create_default_context(__import__("ssl").Purpose.CLIENT_AUTH)
    certificate.configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    handler = RecordingHandler()
    secret = "s3cret-Passw0rd"
    controller = start_server(handler, tls=server_context, login=("briefs", secret))
    monkeypatch.setenv("SMTP_PASSWORD", secret)
    try:
        config = configure(project, smtp_settings(controller.port, security="starttls",
                                                  username="briefs", password_env="SMTP_PASSWORD",
                                                  ca_file=str(ca_file)))
        result = run(config)
    finally:
        controller.stop()
    assert [o.status for o in result.deliveries] == ["sent", "sent"]
    assert handler.logins == ["briefs", "briefs"] and len(handler.messages) == 2
    for path in result.folder.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"the password leaked into {path.name}"


def test_implicit_tls(archived, tmp_path):
    import ssl

    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    handler = RecordingHandler()
    controller = start_server(handler, tls=context, implicit_tls=True)
    try:
        result = deliver(archived.folder, configure(archived.root, smtp_settings(
            controller.port, security="ssl", ca_file=str(tmp_path / "ca.pem"))))
    finally:
        controller.stop()
    assert [o.status for o in result.outcomes] == ["sent", "sent"]


def test_untrusted_certificate_is_a_permanent_failure(archived):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    controller = start_server(RecordingHandler(), tls=context)
    try:
        result = deliver(archived.folder, configure(archived.root, smtp_settings(controller.port,
                                                                                  security="starttls")))
    finally:
        controller.stop()
    assert len(result.outcomes) == 2
    assert all(o.status == "failed" and o.attempts == 1 and "TLS" in o.error for o in result.outcomes)


@pytest.mark.e2e
def test_refused_connection_is_retried_then_failed_and_the_archive_stays(project):
    config_path = project / "config" / "reporter.yaml"
    configure(project, smtp_settings(free_port()))
    result = run_main("run", "--config", str(config_path))
    assert result.returncode == 3, result.stderr
    assert "delivery failed for Marketing, Retention" in result.stderr
    (folder,) = run_folders(project / "output")
    assert {"brief.pdf", "brief.html", "segments.csv", "run.json"} <= {p.name for p in folder.iterdir()}
    record = json.loads((folder / "run.json").read_text())
    assert [(d["status"], d["attempts"]) for d in record["delivery"]] == [("failed", 3), ("failed", 3)]
    assert "ConnectionRefusedError" in record["delivery"][0]["error"]


def test_refused_recipient_is_reported_not_retried(archived, server):
    controller, handler = server
    teams = ARCHIVED_TEAMS[2:]  # Mixed: ok@ and refuse-me@; Gone: refuse-all@
    result = deliver(archived.folder, configure(archived.root, smtp_settings(controller.port), teams=teams))
    mixed, gone = result.outcomes
    assert (mixed.status, mixed.attempts) == ("partly sent", 1)
    assert mixed.refused == {"refuse-me@example.com": "550 5.1.1 mailbox unavailable"}
    assert (gone.status, gone.attempts) == ("failed", 1)
    assert handler.messages[0].rcpt_tos == ["ok@example.com"] and len(handler.messages) == 1
    assert [d["status"] for d in archived.record()["delivery"]] == ["partly sent", "failed"]


def test_a_busy_server_is_retried_with_backoff(archived, server):
    controller, handler = server
    handler.busy_replies = 1
    result = deliver(archived.folder, configure(archived.root, smtp_settings(controller.port),
                                                teams=MARKETING_ANNA))
    (outcome,) = result.outcomes
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    assert len(handler.messages) == 1


def test_send_re_sends_an_archived_run(archived, server):
    failed = deliver(archived.folder, configure(archived.root, smtp_settings(free_port())))
    assert [o.status for o in failed.outcomes] == ["failed", "failed"]
    controller, handler = server
    config = configure(archived.root, smtp_settings(controller.port))
    outcome = run_main("send", "--config", str(config.path), "--run", archived.run_id,
                       "--team", "Retention")
    assert outcome.returncode == 0, outcome.stderr
    assert "Email to Retention: sent" in outcome.stdout
    assert [m.rcpt_tos for m in handler.messages] == [["cara@example.com"]]
    assert [d["status"] for d in archived.record()["delivery"]] == ["failed", "failed", "sent"]


def test_a_dry_run_writes_its_messages_as_eml(project, server):
    controller, handler = server
    dry = run(configure(project, smtp_settings(controller.port)), dry_run=True)
    assert [o.status for o in dry.deliveries] == ["written", "written"] and handler.messages == []
    eml = parse((dry.folder / "email" / "marketing.eml").read_bytes())
    assert eml["To"] == "anna@example.com, ben@example.com"


def test_without_smtp_messages_are_written_as_eml(archived):
    offline = deliver(archived.folder, configure(archived.root, None))
    assert [o.status for o in offline.outcomes] == ["written", "written"]
    assert (archived.folder / "email" / "retention.eml").is_file()
    again = deliver(archived.folder, configure(archived.root, None), team="Marketing")
    assert [o.team for o in again.outcomes] == ["Marketing"]


def test_subject_templates_are_sandboxed(project):
    teams = [{"name": "Evil", "recipients": ["x@example.com"],
              "subject": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}]
    with pytest.raises(Exception, match="subject of team 'Evil' cannot be rendered"):
        run(configure(project, None, teams=teams))
    assert archive_entries(project / "output") == []


def test_a_server_that_never_answers_times_out_and_is_retried(archived):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept_and_stay_silent():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_stay_silent, daemon=True)
    thread.start()
    try:
        result = deliver(archived.folder, configure(archived.root, smtp_settings(
            listener.getsockname()[1], timeout_seconds=0.5, retries=1), teams=MARKETING_ANNA))
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()
    (outcome,) = result.outcomes
    assert (outcome.status, outcome.attempts) == ("failed", 2)
    assert "timed out" in outcome.error.lower() and len(accepted) == 2
    assert [d["status"] for d in archived.record()["delivery"]] == ["failed"], "recorded in run.json"


def _attached_lists(handler) -> dict:
    import io

    import pandas as pd

    return {part.get_filename(): pd.read_csv(io.BytesIO(part.get_content().encode()), dtype=str)
            for message in handler.messages for part in parse(message.content).iter_attachments()
            if part.get_content_type() == "text/csv"}


def test_call_lists_say_each_prediction_in_plain_words_rounded(archived, server, monkeypatch):
    """Issue 34: the emailed call lists carried p_response as 0.123457, or not at all; now
    "Chance to answer next campaign" as 12%, and a prediction added to PREDICTIONS goes too."""
    import pandas as pd

    from reporter.predict import columns

    listed = pd.read_csv(archived.folder / "churn_risk.csv").rename(columns={"deal_share": "p_dummy"})
    listed.to_csv(archived.folder / "churn_risk.csv", index=False)  # no larger than archived
    monkeypatch.setattr(columns, "PREDICTIONS",
                        (*columns.PREDICTIONS, columns.Prediction("p_dummy", "Dummy orders", "count")))
    controller, handler = server
    result = deliver(archived.folder, configure(archived.root, smtp_settings(controller.port)),
                     team="Retention")
    assert [o.status for o in result.outcomes] == ["sent"]
    sent = _attached_lists(handler)["churn_risk.csv"]
    assert "p_response" not in sent and "p_dummy" not in sent
    assert sent["ID"].astype(int).tolist() == listed["ID"].tolist()
    assert sent["Chance to answer next campaign"].tolist() == \
        [f"{p:.0%}" for p in listed["p_response"]]
    assert sent["Dummy orders"].tolist() == [f"{v:.1f}" for v in listed["p_dummy"]]
