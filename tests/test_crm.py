"""Personas and flags pushed back where the CRM reads them: database tables upserted by customer
ID (a real PostgreSQL server, SQLite, DuckDB), a signed webhook on a real HTTP server, each
target once per run whatever is killed or restarted, and a failed push never holds the email."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from reporter.app.cli import main
from reporter.app.pipeline import run
from reporter.app.settings import load_config
from reporter.delivery import crm as crm_push
from reporter.delivery.ledger import Ledger
from reporter.delivery.params import CrmParams
from reporter.history.record import read_record
from tests import postgres_server
from tests.conftest import QUICK, REPO_ROOT, run_main, write_config
from tests.test_schedule import said, wait_for
from tests.test_schedule import start as start_scheduler
from tests.test_schedule import stop as stop_scheduler
from tests.webhook_server import SECRET, Behaviour, Webhook

OWNER = "owner@example.com"
TEAM = {"name": "Marketing", "recipients": ["anna@example.com"]}


@pytest.fixture
def webhook():
    hooks: list[Webhook] = []

    def start(**behaviour) -> Webhook:
        hooks.append(Webhook(Behaviour(**behaviour)))
        return hooks[-1]

    yield start
    for hook in hooks:
        hook.stop()


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("CRM_DB_PASSWORD", postgres_server.PASSWORD)


def configure(project: Path, crm: list[dict], **sections) -> Path:
    """The project's config (the 600-customer sample) with these CRM targets."""
    source = yaml.safe_load((project / "config" / "reporter.yaml").read_text())["source"]
    return write_config(project / "config" / "reporter.yaml", source=source,
                        **QUICK, crm=crm, **sections)


def hook_target(url: str, **extra) -> dict:
    return {"name": "shop", "webhook": url, "secret_env": "CRM_WEBHOOK_SECRET", "batch_size": 250,
            "backoff_seconds": 0.01, "timeout_seconds": 20, **extra}


def table_rows(kind: str, where, table: str = "smartcart_personas",
               database: str = "crm_push") -> pd.DataFrame:
    query = f"SELECT * FROM {table} ORDER BY customer_id"
    if kind == "postgresql":
        with where.connect(database) as connection:
            cursor = connection.execute(query)
            return pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
    if kind == "sqlite":
        with sqlite3.connect(where) as connection:
            return pd.read_sql_query(query, connection)
    with duckdb.connect(str(where), read_only=True) as connection:
        return connection.execute(query).df()


def test_crm_tables_hold_every_customer_after_each_run(project, postgres):
    url = postgres.create_database("crm_push")
    targets = [
        {"name": "warehouse", "url": url, "password_env": "CRM_DB_PASSWORD"},
        {"name": "local", "url": "sqlite:///crm.db", "table": "personas"},  # beside the config
        {"name": "lake", "url": f"duckdb:///{project / 'crm.duckdb'}"},
    ]
    config = configure(project, targets)
    week1 = run(load_config(config))
    week2 = run(load_config(config), refit=True)
    customers = pd.read_csv(week2.folder / "customers.csv")
    flags = [c for c in customers.columns if c.startswith("flag_")]
    for kind, where, table in (("postgresql", postgres, "smartcart_personas"),
                               ("sqlite", project / "config" / "crm.db", "personas"),
                               ("duckdb", project / "crm.duckdb", "smartcart_personas")):
        rows = table_rows(kind, where, table)
        assert len(rows) == len(customers) and rows["customer_id"].is_unique, kind
        assert set(rows["run_id"]) == {week2.run_id}, f"{kind}: week 2 replaced week 1"
        merged = rows.merge(customers, left_on="customer_id", right_on="ID")
        assert (merged["persona_x"] == merged["persona_y"]).all()
        assert (merged["segment"] == merged["cluster"]).all()
        assert (merged["m_score_x"] == merged["m_score_y"]).all() and merged["m_score_x"].between(1, 5).all()
        expected_flags = merged.apply(  # the flags to act on: a flag's control group is not
            lambda row: sorted(c.removeprefix("flag_") for c in flags  # pushed with it (issue 35)
                               if row[c] and not row.get("control_" + c.removeprefix("flag_"), 0)),
            axis=1)
        assert (merged["flags"].map(lambda text: sorted(json.loads(text))) == expected_flags).all()
        predictions = [p for p in crm_push.PREDICTION_COLUMNS if p in customers]
        assert "p_response" in predictions, "the quick settings' runs score a propensity"
        for name in predictions:
            assert merged[f"{name}_x"].astype(float).to_numpy() == pytest.approx(
                merged[f"{name}_y"].to_numpy(), abs=1e-12, nan_ok=True), f"{kind}: {name}"
    ledger = Ledger(project / "output")
    pushes = [(r.run_id, r.recipient, r.status) for r in ledger.rows() if r.kind == "push"]
    assert sorted(pushes) == sorted((w.run_id, f"crm:{t['name']}", "sent")
                                    for w in (week1, week2) for t in targets)
    entries = {e.team: e.status for e in read_record(week2.folder).delivery if e.team.startswith("crm")}
    assert entries == {"crm: warehouse": "sent", "crm: local": "sent", "crm: lake": "sent"}


def test_pushing_an_older_run_by_hand_is_refused_unless_asked_for(project):
    """`reporter push --run <last week>` put last week's personas back over this week's, said
    "sent" and exited 0. Refused now, naming the newer run; --older does it on purpose. And a
    `send` of last week's run whose push had failed (the same for a release or the scheduler's
    catch-up) retried that push over this week's: it is left out now, and says why."""
    config = configure(project, [{"name": "local", "url": "sqlite:///crm.db", "table": "personas"}])
    where = project / "config" / "crm.db"
    where.mkdir()  # not a database file: week 1's push fails
    week1 = run(load_config(config))
    assert [p.status for p in week1.pushes] == ["failed"]
    where.rmdir()
    week2 = run(load_config(config), allow_unchanged=True)
    assert [p.status for p in week2.pushes] == ["sent"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["send", "--config", str(config), "--run", week1.run_id]) == 0
    assert (f"crm local: skipped (run {week2.run_id} (customers as of {week2.brief.as_of:%Y-%m-%d}) "
            "is there already and is newer") in printed.getvalue(), printed.getvalue()
    assert f"push --run {week1.run_id} --older" in printed.getvalue()
    assert set(table_rows("sqlite", where, "personas")["run_id"]) == {week2.run_id}
    assert read_record(week1.folder).delivery[-1].status == "skipped"
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        assert main(["push", "--config", str(config), "--run", week1.run_id]) == 2
    assert said.getvalue().count("\n") == 1 and (
        f"crm local: run {week1.run_id} (customers as of {week1.brief.as_of:%Y-%m-%d}) is older than run "
        f"{week2.run_id}") in said.getvalue() and "add --older" in said.getvalue(), said.getvalue()
    assert set(table_rows("sqlite", where, "personas")["run_id"]) == {week2.run_id}
    assert main(["push", "--config", str(config), "--run", week2.run_id]) == 0  # the newest: again
    assert main(["push", "--config", str(config), "--run", week1.run_id, "--older"]) == 0
    assert set(table_rows("sqlite", where, "personas")["run_id"]) == {week1.run_id}


def test_the_webhook_gets_changed_customers_signed_in_batches_and_retries(project, webhook):
    hook = webhook(fail_first=2, status=503)  # two 5xx answers first: retried with back-off
    config = configure(project, [hook_target(hook.url)])
    week1 = run(load_config(config))
    behaviour = hook.behaviour
    everyone = pd.read_csv(week1.folder / "customers.csv")
    assert all(r.signed for r in behaviour.received)
    assert sorted(c["customer_id"] for c in behaviour.customers()) == sorted(everyone["ID"])
    assert [r.delivery for r in behaviour.received] == [f"{week1.run_id}:shop:{n}" for n in (1, 2, 3)]
    assert {r.document["batches"] for r in behaviour.received} == {3}
    assert read_record(week1.folder).delivery[-1].attempts == 5  # 3 batches, 2 of them retried

    personas = project / "config" / "personas.yaml"  # more customers at churn risk
    personas.write_text(personas.read_text().replace("recency > 60", "recency > 45"))
    behaviour.received.clear()
    week2 = run(load_config(config))
    before = pd.read_csv(week1.folder / "customers.csv").set_index("ID")
    after = pd.read_csv(week2.folder / "customers.csv").set_index("ID")
    act_before, act_after = (t["flag_churn_risk"] & ~t["control_churn_risk"].astype(bool)
                             for t in (before, after))  # a control customer is pushed without it
    moved = set(after.index[(after["persona"] != before["persona"]) | (act_after != act_before)])
    posted = {c["customer_id"]: c for c in behaviour.customers()}
    assert moved and set(posted) == moved and len(moved) < len(after)
    assert all(posted[i]["flags"] == ["churn_risk"] and posted[i]["previous_flags"] == []
               for i in moved if act_after[i] and not act_before[i])
    assert all(c["persona"] == after.at[i, "persona"] for i, c in posted.items())


def test_a_failed_push_tells_the_owners_and_never_holds_the_email(project, server, webhook):
    controller, handler = server
    hook = webhook(fail_first=10**6, status=401)  # the receiver does not know our secret
    config = configure(project, [hook_target(hook.url)], teams=[TEAM], owners=[OWNER],
                       smtp={"host": "127.0.0.1", "port": controller.port, "security": "none",
                             "from_address": "briefs@smartcart.test", "retries": 0})
    assert main(["run", "--config", str(config)]) == 5  # delivered, a push failed (issue #30)
    to = [m.rcpt_tos for m in handler.messages]
    assert ["anna@example.com"] in to, "the brief went out"
    notice = next(m for m in handler.messages if m.rcpt_tos == [OWNER]).content.decode()
    assert "CRM push failed" in notice and "answered 401" in notice
    assert "same secret as secret_env" in notice and "reporter push --run" in notice
    record = read_record(next((project / "output").glob("20*")))
    assert [(e.team, e.status) for e in record.delivery if e.team.startswith("crm")] == [
        ("crm: shop", "failed")]

    hook.behaviour.fail_first = 0  # the receiver is fixed: push again by hand
    assert main(["push", "--config", str(config), "--run", record.run_id]) == 0
    assert hook.behaviour.received and all(r.signed for r in hook.behaviour.received)
    rows = [(r.kind, r.status) for r in Ledger(project / "output").rows() if r.team == "crm"]
    assert rows == [("push", "failed"), ("push-again", "sent")]


@pytest.mark.crash
def test_a_killed_push_is_pushed_once_after_a_restart(project, postgres, webhook):
    """The run is killed while the webhook holds its first batch open: the table was pushed,
    the webhook was not. The restarted scheduler pushes the webhook once and the table not
    again, and a later dispatch pushes nothing."""
    url = postgres.create_database("crm_killed")
    hook = webhook(hold_first=True)
    config = configure(project, [{"name": "warehouse", "url": url, "password_env": "CRM_DB_PASSWORD"},
                                 hook_target(hook.url)], schedule={"cron": "0 7 1 1 *"})
    process = subprocess.Popen([sys.executable, "-m", "reporter", "run", "--config", str(config)],
                               cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=os.environ.copy())
    try:
        assert hook.behaviour.holding.wait(timeout=300), "the push never reached the webhook"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    ledger = Ledger(project / "output")
    assert {(r.recipient, r.status) for r in ledger.rows()} == {("crm:warehouse", "sent"),
                                                                ("crm:shop", "claimed")}
    with postgres.connect("crm_killed") as connection:
        pushed_at = connection.execute("SELECT DISTINCT pushed_at FROM smartcart_personas").fetchall()

    scheduler = start_scheduler(config)  # the restart: it finishes what was cut off
    try:
        assert wait_for(lambda: said(scheduler, "crm shop: sent"), 300), scheduler.lines
    finally:
        stop_scheduler(scheduler)
    assert main(["send", "--config", str(config)]) == 0  # a second dispatch pushes nothing
    rows = [(r.recipient, r.kind, r.status, r.detail) for r in ledger.rows()]
    assert [r[:3] for r in rows] == [("crm:warehouse", "push", "sent"), ("crm:shop", "push", "failed"),
                                     ("crm:shop", "push", "sent")]
    assert "interrupted" in rows[1][3]
    run_id = read_record(next((project / "output").glob("20*"))).run_id
    deliveries = [r.delivery for r in hook.behaviour.received]
    assert deliveries == [f"{run_id}:shop:{n}" for n in (1, 2, 3)], "each batch once after restart"
    with postgres.connect("crm_killed") as connection:
        assert connection.execute("SELECT DISTINCT pushed_at FROM smartcart_personas").fetchall() \
            == pushed_at, "the table was not pushed again"


def test_crm_targets_are_checked_before_anything_runs(project):
    for crm, expected in (([{"name": "shop", "webhook": "http://127.0.0.1:9/x"}], "a webhook needs "
                           "secret_env"),
                          ([{"name": "a", "url": "sqlite:///a.db"}, {"name": "a", "url": "sqlite:///b.db"}],
                           "crm target names must be unique"),
                          ([{"name": "a", "url": "postgresql://u:pw@h/db"}], "url holds a password")):
        result = run_main("validate", "--config", str(configure(project, crm)))
        assert result.returncode == 2 and expected in result.stderr, result.stderr


WRITER_PASSWORD = "crm-writer-secret"  # a test role's own password


@pytest.fixture
def crmout(postgres):
    """A database with schema crmout and three writer roles: one granted what
    docs/operations/crm.md grants, one without CREATE on the schema, and one given a table made
    beforehand without INSERT on it."""
    name = "crm_schema"
    with postgres.connect() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        for role in ("smartcart_crm", "crm_no_create", "crm_no_insert"):
            connection.execute(f"DROP ROLE IF EXISTS {role}")
            connection.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{WRITER_PASSWORD}'")
    url = postgres.create_database(name)
    with postgres.connect(name) as connection:
        connection.execute("CREATE SCHEMA crmout")
        connection.execute("GRANT USAGE, CREATE ON SCHEMA crmout TO smartcart_crm")  # as crm.md says
        connection.execute("GRANT USAGE ON SCHEMA crmout TO crm_no_create, crm_no_insert")
        connection.execute("CREATE TABLE crmout.made_before (" + ", ".join(
            f"{c} {kind}" for c, kind in crm_push.TABLE_COLUMNS.items()) + ")")
        connection.execute("GRANT SELECT, UPDATE ON crmout.made_before TO crm_no_insert")
    return url


def as_role(url: str, role: str) -> str:
    return url.replace(f"//{postgres_server.USER}@", f"//{role}@")


def writer(url: str, role: str, table: str) -> CrmParams:
    return CrmParams(name="warehouse", url=as_role(url, role), table=table,
                     password_env="CRM_WRITER_PASSWORD")


def test_a_schema_table_is_pushed_by_a_writer_role_of_its_own(archived_once, tmp_path, postgres, crmout,
                                                             monkeypatch):
    """Issue 30: `table: crmout.smartcart_personas` was refused by validate, and a table made
    beforehand needed CREATE on its schema (CREATE TABLE IF NOT EXISTS asks for it). The run
    pushed is a copy of the shared published run (tests/support/archive.py), pushed by
    `reporter push`: the same push of the same rows a run makes after its email."""
    monkeypatch.setenv("CRM_WRITER_PASSWORD", WRITER_PASSWORD)
    copy = archived_once.copy_to(tmp_path / "archived")
    target = {"name": "warehouse", "url": as_role(crmout, "smartcart_crm"),
              "table": "crmout.smartcart_personas", "password_env": "CRM_WRITER_PASSWORD"}
    project = copy.root
    config = configure(project, [target])
    checked = run_main("validate", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    pushed = run_main("push", "--config", str(config), "--run", copy.run_id)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    result = copy
    customers = pd.read_csv(result.folder / "customers.csv")
    rows = table_rows("postgresql", postgres, "crmout.smartcart_personas", database="crm_schema")
    assert sorted(rows["customer_id"]) == sorted(customers["ID"])
    assert set(rows["run_id"]) == {result.run_id}
    assert [(e.team, e.status) for e in read_record(result.folder).delivery
            if e.team.startswith("crm")] == [("crm: warehouse", "sent")]

    with postgres.connect("crm_schema") as connection:  # a table made beforehand: no CREATE needed
        connection.execute("GRANT INSERT, UPDATE, SELECT ON crmout.made_before TO crm_no_create")
    record = read_record(result.folder)
    found = crm_push.run_rows(result.folder, project / "output", record.run_id, record.as_of, "")
    pushed = crm_push.push(writer(crmout, "crm_no_create", "crmout.made_before"), found, "", WRITER_PASSWORD)
    assert (pushed.status, pushed.customers) == ("sent", len(customers)), pushed.detail
    assert len(table_rows("postgresql", postgres, "crmout.made_before", database="crm_schema")) \
        == len(customers)


@pytest.fixture
def archived(archived_once):
    """The run folder archived once per worker (tests/support/archive.py), for the push tests
    that need its rows and only read them."""
    return archived_once.folder


@pytest.mark.parametrize(("role", "table", "expected"), [
    ("crm_no_create", "crmout.smartcart_personas",
     "user crm_no_create lacks CREATE on schema crmout, needed to create table "
     "crmout.smartcart_personas; as the owner run `GRANT CREATE ON SCHEMA crmout TO crm_no_create`"),
    ("crm_no_insert", "crmout.made_before",
     "user crm_no_insert lacks INSERT on table crmout.made_before, needed to upsert into table "
     "crmout.made_before; as the owner run `GRANT INSERT ON TABLE crmout.made_before TO crm_no_insert`"),
    ("smartcart_crm", "nowhere.smartcart_personas",
     "schema nowhere does not exist; create it (CREATE SCHEMA nowhere)"),
], ids=["create on schema", "insert on table", "no schema"])
def test_a_refused_push_names_the_missing_privilege_and_object(archived, crmout, role, table, expected):
    """Issue 30: PostgreSQL's 42501 read "grant it the rights it needs (SELECT to read, INSERT
    and UPDATE for a CRM table)" when the missing right was CREATE on the schema."""
    record = read_record(archived)
    found = crm_push.run_rows(archived, archived.parent, record.run_id, record.as_of, "")
    pushed = crm_push.push(writer(crmout, role, table), found, "", WRITER_PASSWORD)
    assert pushed.failed and expected in pushed.detail, pushed.detail
    assert "crm_schema on 127.0.0.1" in pushed.detail and WRITER_PASSWORD not in pushed.detail


def _old_table(execute, table: str, without: tuple[str, ...] = crm_push.ADDED_LATER) -> None:
    """A table as an earlier reporter made it (before control_lists and the predictions were
    pushed), holding one stale row."""
    execute(f"CREATE TABLE {table} (" + ", ".join(
        f"{c} {kind}" for c, kind in crm_push.TABLE_COLUMNS.items() if c not in without) + ")")
    execute(f"INSERT INTO {table} (customer_id, persona) VALUES (-1, 'stale')")


def _rows_of(folder: Path) -> crm_push.RunRows:
    record = read_record(folder)
    return crm_push.run_rows(folder, folder.parent, record.run_id, record.as_of, "")


def test_a_table_made_before_predictions_gets_their_columns_and_a_run_without_one_clears_it(
        archived_once, tmp_path):
    """The table target pushed no prediction (only the webhook did). A file database's table
    from before control_lists and the predictions gets the columns; a later run that made no
    propensity leaves p_response empty, not last week's chance."""
    folder = archived_once.copy_to(tmp_path / "copy").folder
    customers = pd.read_csv(folder / "customers.csv").set_index("ID")
    sqlite_file, duckdb_file = tmp_path / "crm.db", tmp_path / "crm.duckdb"
    targets = (("sqlite", f"sqlite:///{sqlite_file}", "personas", sqlite_file),
               ("duckdb", f"duckdb:///{duckdb_file}", "smartcart_personas", duckdb_file))
    with sqlite3.connect(sqlite_file) as connection:
        _old_table(connection.execute, "personas")
    with duckdb.connect(str(duckdb_file)) as connection:
        _old_table(connection.execute, "smartcart_personas")
    made = [p for p in crm_push.PREDICTION_COLUMNS if p in customers]
    assert "p_response" in made
    for kind, url, table, where in targets:
        pushed = crm_push.push(CrmParams(name=kind, url=url, table=table), _rows_of(folder), "")
        assert pushed.status == "sent" and "without" not in pushed.detail, pushed.detail
        rows = table_rows(kind, where, table).set_index("customer_id").drop(index=-1)
        assert set(crm_push.ADDED_LATER) <= set(rows.columns), kind
        assert rows["control_lists"].map(lambda text: isinstance(json.loads(text), list)).all(), kind
        for name in made:
            assert rows[name].to_numpy() == pytest.approx(customers.loc[rows.index, name].to_numpy(),
                                                          abs=1e-12, nan_ok=True), f"{kind}: {name}"
    customers.drop(columns="p_response").reset_index().to_csv(folder / "customers.csv", index=False)
    for kind, url, table, where in targets:  # the next run scored no propensity
        pushed = crm_push.push(CrmParams(name=kind, url=url, table=table), _rows_of(folder), "")
        rows = table_rows(kind, where, table).set_index("customer_id")
        assert pushed.status == "sent" and rows.drop(index=-1)["p_response"].isna().all(), kind
        assert rows.at[-1, "persona"] == "stale", f"{kind}: a customer not in the run keeps their row"


def test_an_old_table_the_writer_may_not_alter_is_pushed_without_predictions_and_says_so(
        archived_once, tmp_path, crmout, postgres, server, monkeypatch):
    """PostgreSQL lets only the owner add a column: `reporter push` still lands every customer,
    its line and the owners' notice name the ALTER TABLE to run, and once the writer owns the
    table the next push adds the columns itself. The table has a column of its own (NOT NULL
    with a default) that the push leaves to its default."""
    monkeypatch.setenv("CRM_WRITER_PASSWORD", WRITER_PASSWORD)
    controller, handler = server
    copy = archived_once.copy_to(tmp_path / "archived")
    with postgres.connect("crm_schema") as connection:
        _old_table(connection.execute, "crmout.made_old", without=crm_push.PREDICTION_COLUMNS)
        connection.execute("ALTER TABLE crmout.made_old ADD COLUMN source TEXT NOT NULL DEFAULT 'shop'")
        connection.execute("GRANT SELECT, INSERT, UPDATE ON crmout.made_old TO crm_no_create")
    target = {"name": "warehouse", "url": as_role(crmout, "crm_no_create"), "table": "crmout.made_old",
              "password_env": "CRM_WRITER_PASSWORD"}
    config = configure(copy.root, [target], owners=[OWNER],
                       smtp={"host": "127.0.0.1", "port": controller.port, "security": "none",
                             "from_address": "briefs@smartcart.test", "retries": 0})
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        assert main(["push", "--config", str(config), "--run", copy.run_id]) == 0
    alter = ('`ALTER TABLE "crmout"."made_old" ADD COLUMN p_response DOUBLE PRECISION, ADD COLUMN '
             'p_alive DOUBLE PRECISION, ADD COLUMN purchases_90d DOUBLE PRECISION, ADD COLUMN clv_12m '
             'DOUBLE PRECISION`')
    assert "pushed without p_response, p_alive, purchases_90d, clv_12m" in said.getvalue() \
        and alter in said.getvalue(), said.getvalue()
    (notice,) = [m.content.decode() for m in handler.messages if m.rcpt_tos == [OWNER]]
    assert "went without predictions" in notice and "reporter push --run" in notice
    assert "ALTER TABLE" in notice and "crmout" in notice
    customers = pd.read_csv(copy.folder / "customers.csv")
    rows = table_rows("postgresql", postgres, "crmout.made_old", database="crm_schema")
    assert len(rows) == len(customers) + 1 and "p_response" not in rows.columns
    assert set(rows["source"]) == {"shop"} and set(rows["run_id"].dropna()) == {copy.run_id}

    with postgres.connect("crm_schema") as connection:  # the writer's own table: it adds them
        connection.execute("ALTER TABLE crmout.made_old OWNER TO crm_no_create")
    pushed = crm_push.push(writer(crmout, "crm_no_create", "crmout.made_old"), _rows_of(copy.folder), "",
                           WRITER_PASSWORD)
    rows = table_rows("postgresql", postgres, "crmout.made_old", database="crm_schema")
    assert pushed.status == "sent" and not pushed.lacking and "without" not in pushed.detail, pushed.detail
    merged = rows.merge(customers, left_on="customer_id", right_on="ID")
    assert len(merged) == len(customers) and set(crm_push.PREDICTION_COLUMNS) <= set(rows.columns)
    assert merged["p_response_x"].astype(float).to_numpy() == pytest.approx(
        merged["p_response_y"].to_numpy(), abs=1e-12)


def test_a_table_without_a_column_the_push_writes_fails_naming_it(archived, tmp_path):
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        connection.execute("CREATE TABLE personas (customer_id BIGINT PRIMARY KEY, persona TEXT)")
    pushed = crm_push.push(CrmParams(name="local", url=f"sqlite:///{tmp_path / 'crm.db'}", table="personas"),
                           _rows_of(archived), "")
    assert pushed.failed and pushed.detail.startswith(
        "table personas has no column other_ids, segment, flags, r_score, f_score, m_score, run_id, "
        "as_of, pushed_at, which the CRM push writes: add them (`ALTER TABLE \"personas\" ADD COLUMN "
        "other_ids TEXT, "), pushed.detail
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        assert connection.execute("SELECT count(*) FROM personas").fetchone() == (0,)
        columns = [row[1] for row in connection.execute("PRAGMA table_info(personas)")]
    assert columns == ["customer_id", "persona"], "a table that cannot hold them is not altered"


def test_the_crm_page_lists_every_column_the_table_gets():
    page = (REPO_ROOT / "docs" / "operations" / "crm.md").read_text()
    assert [c for c in crm_push.TABLE_COLUMNS if f"`{c}`" not in page] == []


def test_validate_shows_the_file_a_relative_crm_target_writes(project):
    """`sqlite:///crm.db` is read from the config's folder, as every path of the file is; validate
    showed the URL, and the file was looked for beside the shell instead."""
    config = configure(project, [{"name": "local", "url": "sqlite:///crm.db", "table": "personas"}])
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        assert main(["validate", "--config", str(config)]) == 0
    assert f"crm local: table personas (sqlite file {project / 'config' / 'crm.db'})" in said.getvalue()


def test_crm_table_names_are_checked_as_the_source_s(project):
    for table, expected in (("crmout.smartcart-personas", "'crmout.smartcart-personas' is not a table name"),
                            ("a.b.c", "'a.b.c' is not a table name: write [schema.]table"),
                            ("x" * 64, "is not a table name")):
        result = run_main("validate", "--config", str(configure(
            project, [{"name": "w", "url": "postgresql+psycopg://u@h/db", "table": table}])))
        assert result.returncode == 2 and expected in result.stderr, result.stderr
    result = run_main("validate", "--config", str(configure(
        project, [{"name": "w", "url": "sqlite:///crm.db", "table": "crmout.personas"}])))
    assert result.returncode == 2 and "SQLite has no schemas" in result.stderr, result.stderr


def _posted(hook, folder: Path) -> list[dict]:
    """Everyone of the run folder posted to `hook` (no baseline), as the webhook received them."""
    hook.behaviour.received.clear()
    record = read_record(folder)
    rows = crm_push.run_rows(folder, folder.parent, record.run_id, record.as_of, "")
    pushed = crm_push.post_changes(CrmParams(**hook_target(hook.url)), rows, SECRET)
    assert pushed.status == "sent" and all(r.signed for r in hook.behaviour.received)
    return hook.behaviour.customers()


def test_the_webhook_carries_each_customer_s_predictions_and_no_empty_field(archived_once, tmp_path,
                                                                           webhook, monkeypatch):
    """Issue 34: p_response was in customers.csv but never reached the CRM. A run without a
    prediction posts no such field; a prediction added to PREDICTIONS is posted too."""
    from reporter.predict import columns

    folder = archived_once.copy_to(tmp_path / "copy").folder
    customers = pd.read_csv(folder / "customers.csv").set_index("ID")
    hook = webhook()
    posted = _posted(hook, folder)
    assert len(posted) == len(customers) and "p_response" in customers
    assert all(c["p_response"] == pytest.approx(customers.at[c["customer_id"], "p_response"], abs=1e-12)
               for c in posted)

    customers.drop(columns="p_response").assign(p_dummy=customers.index * 0.5).reset_index() \
        .to_csv(folder / "customers.csv", index=False)  # a run without a propensity, one more prediction
    assert not any("p_response" in c for c in _posted(hook, folder))
    monkeypatch.setattr(columns, "PREDICTIONS",
                        (*columns.PREDICTIONS, columns.Prediction("p_dummy", "Dummy", "count")))
    assert all(c["p_dummy"] == c["customer_id"] * 0.5 and "p_response" not in c
               for c in _posted(hook, folder))
