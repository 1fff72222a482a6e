"""Customers read where they live: the real table from CSV, Parquet, a hive-partitioned folder,
SQLite, DuckDB and a real PostgreSQL server gives the same segments; every fault is one line
naming the host and database, exit 2, nothing archived."""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reporter.app.engines import LocalEngine
from reporter.app.pipeline import analyse, run
from reporter.app.settings import load_config
from reporter.data.params import SourceParams
from reporter.data.schema import COLUMNS
from reporter.data.sources import read_customers
from reporter.database import read_only_select
from reporter.errors import ReporterError
from reporter.personas.exports import csv_bytes
from tests import postgres_server
from tests.conftest import QUICK, REPO_ROOT, run_folders, run_main, write_config

NEWEST, OLDER = "2014-06-30", "2014-03-31"
CRM_NAMES = {"ID": "customer_id", "Dt_Customer": "joined_on", "Income": "yearly_income"}


def typed(real_table: Path) -> pd.DataFrame:
    """The real table as a database holds it: numbers as numbers, join dates as dates."""
    text = pd.read_csv(real_table, dtype=str, keep_default_na=False)
    frame = text.copy()
    for column in COLUMNS:
        if column not in ("Education", "Marital_Status", "Dt_Customer"):
            frame[column] = pd.to_numeric(text[column].replace("", None))
    frame["Dt_Customer"] = pd.to_datetime(text["Dt_Customer"], format="%d-%m-%Y")
    return frame


def older_snapshot(frame: pd.DataFrame) -> pd.DataFrame:
    """Last quarter's rows: other incomes, so reading them by mistake changes the segments."""
    return frame.assign(Income=frame["Income"] * 0.5)


def project(tmp_path: Path, name: str, **source) -> Path:
    folder = tmp_path / name
    (folder / "config").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", folder / "config" / "personas.yaml")
    source = {"path": None, **source, "name": "smartcart"}
    return write_config(folder / "config" / "reporter.yaml", source=source,
                        **QUICK)


def segments(config: Path) -> pd.DataFrame:
    """segments.csv as the run writes it (its columns, by its writer), from the analysis alone:
    the test is about what each source reads, so no brief is rendered (the next test makes a
    whole run from PostgreSQL)."""
    found = analyse(load_config(config))
    customers = LocalEngine(found).customers
    columns = ["ID", "cluster", "persona", *[c for c in customers if c.startswith("flag_")]]
    written = csv_bytes(customers[columns].assign(as_of=found.customers.as_of.isoformat()))
    return pd.read_csv(io.BytesIO(written))


def to_postgres(cluster: postgres_server.Cluster, frame: pd.DataFrame, database: str) -> str:
    """The table under a CRM's own column names, with two snapshots."""
    url = cluster.create_database(database)
    columns = {c: CRM_NAMES.get(c, c.lower()) for c in COLUMNS}
    kinds = {c: "date" if c == "Dt_Customer" else "text" if c in ("Education", "Marital_Status")
             else "numeric(12,2)" if c == "Income" else "integer" for c in COLUMNS}
    with cluster.connect(database) as connection:
        connection.execute("CREATE TABLE crm_customers (" + ", ".join(
            f"{columns[c]} {kinds[c]}" for c in COLUMNS) + ", snapshot date)")
        with connection.cursor().copy(f"COPY crm_customers ({', '.join(columns.values())}, snapshot) "
                                      "FROM STDIN") as copy:
            for snapshot, rows in ((OLDER, older_snapshot(frame)), (NEWEST, frame)):
                for record in rows[list(COLUMNS)].astype(object).where(rows.notna(), None).itertuples(
                        index=False):
                    copy.write_row([*record, snapshot])
    return url


def test_the_same_table_gives_the_same_segments_from_every_source(tmp_path, real_table, postgres,
                                                                 monkeypatch):
    frame = typed(real_table)
    text = pd.read_csv(real_table, dtype=str, keep_default_na=False)
    parquet = tmp_path / "customers.parquet"
    frame.to_parquet(parquet)
    lake = tmp_path / "lake"
    for snapshot, rows in ((OLDER, older_snapshot(frame)), (NEWEST, frame)):
        (lake / f"snapshot={snapshot}").mkdir(parents=True)
        rows.to_parquet(lake / f"snapshot={snapshot}" / "part-0.parquet")
    sqlite_file = tmp_path / "shop.db"
    with sqlite3.connect(sqlite_file) as connection:  # text dates, as an export left them
        text.astype(object).where(text != "", None).to_sql("customers", connection, index=False)
    duckdb_file = tmp_path / "shop.duckdb"
    with duckdb.connect(str(duckdb_file)) as connection:
        connection.register("frame", frame.sample(frac=1, random_state=4))  # another row order
        connection.execute("CREATE TABLE customers AS SELECT * FROM frame")
    postgres_url = to_postgres(postgres, frame, "crm_same")
    monkeypatch.setenv("CRM_DB_PASSWORD", postgres_server.PASSWORD)

    expected = segments(project(tmp_path, "csv", path=str(real_table)))
    sources = {
        "parquet": {"path": str(parquet)},
        "folder": {"path": str(lake), "as_of_column": "snapshot"},
        "sqlite": {"url": f"sqlite:///{sqlite_file}",
                   "query": "SELECT * FROM customers WHERE ID IS NOT NULL -- every customer"},
        "duckdb": {"url": f"duckdb:///{duckdb_file}", "table": "customers"},
        "postgresql": {"url": postgres_url, "table": "crm_customers", "password_env": "CRM_DB_PASSWORD",
                       "columns": CRM_NAMES, "as_of_column": "snapshot"},
    }
    for name, source in sources.items():
        got = segments(project(tmp_path, name, **source))
        pd.testing.assert_frame_equal(got, expected, obj=f"segments.csv from {name}")
    assert len(expected) == 2058


def test_the_run_records_what_it_read_and_never_the_password(tmp_path, sample_csv, postgres,
                                                            monkeypatch):
    """The 600-customer sample in PostgreSQL: what the record says and leaves out does not
    depend on the table (the test above reads the real table from every source)."""
    url = to_postgres(postgres, typed(sample_csv), "crm_record")
    monkeypatch.setenv("CRM_DB_PASSWORD", postgres_server.PASSWORD)
    config = project(tmp_path, "record", url=url, table="crm_customers", password_env="CRM_DB_PASSWORD",
                     columns=CRM_NAMES, as_of_column="snapshot")
    result = run(load_config(config))
    record = json.loads((result.folder / "run.json").read_text())["data"]
    assert record["kind"] == "database"
    assert record["path"] == url
    assert record["label"] == "table crm_customers"
    assert record["rows_read"] == len(pd.read_csv(sample_csv)) == 600
    assert record["snapshot"] == NEWEST
    assert record["date_format"] == "dates as the source typed them"
    archived = "".join(p.read_text(errors="replace") for p in result.folder.rglob("*")
                       if p.is_file() and p.suffix in (".json", ".html", ".csv", ".txt"))
    assert postgres_server.PASSWORD not in archived

    query = "SELECT * FROM crm_customers WHERE snapshot = '2014-06-30'"
    raw = read_customers(SourceParams(url=url, query=query, password=postgres_server.PASSWORD,
                                      columns=tuple(CRM_NAMES.items())))
    assert raw.origin.query_sha256 and raw.origin.label == f"query {raw.origin.query_sha256[:8]}"
    assert raw.sha256 == json.loads((result.folder / "run.json").read_text())["data"]["sha256"]


def test_unchanged_database_contents_are_stale_after_max_age(tmp_path, sample_csv, postgres,
                                                            monkeypatch):
    """Without a snapshot column a database has no file date: exactly what a run read more
    than checks.data_fresh.max_age_days ago is stale. (The sample's rows: staleness is about
    the rows being the same, not their number.)"""
    url = to_postgres(postgres, typed(sample_csv), "crm_stale")
    monkeypatch.setenv("CRM_DB_PASSWORD", postgres_server.PASSWORD)
    config = project(tmp_path, "stale", url=url, password_env="CRM_DB_PASSWORD", columns=CRM_NAMES,
                     query=f"SELECT * FROM crm_customers WHERE snapshot = '{NEWEST}'")
    first = run(load_config(config))
    assert not first.checks.held
    later = pd.Timestamp.now(tz="UTC").to_pydatetime() + pd.Timedelta(days=10)
    second = run(load_config(config), now=later)
    assert second.checks.held
    problem = " ".join(r.problem for r in second.checks.holding)
    assert f"returned exactly the customers run {first.run_id} read 10 days ago" in problem


@pytest.mark.parametrize(("change", "expected"), [
    ({"password_env": "WRONG_PASSWORD"}, r"refused user reporter's password; check the "
                                          r"environment variable WRONG_PASSWORD"),
    ({"port": "down"}, r"cannot connect to the server; check that PostgreSQL runs there"),
    ({"table": "customerz"}, r"table customerz does not exist; check the table name"),
    ({"columns": {**CRM_NAMES, "Recency": "days_since"}},
     r"no column days_since \(for Recency\); its columns are customer_id, year_birth"),
    ({"columns": {**CRM_NAMES, "Income": "joined_on"}},
     r"column joined_on \(read as Income\) holds date values, not numbers; map Income to a "
     r"number column in source.columns"),
    ({"query": "DELETE FROM crm_customers", "table": None}, r"source.query starts with DELETE"),
    ({"query": "SELECT c.*, pg_sleep(30) FROM crm_customers c", "table": None, "timeout_seconds": 1},
     r"the read took longer than 1(\.0)? s and was stopped; raise source.timeout_seconds"),
], ids=["password", "server down", "table", "column", "column type", "not a select", "time-out"])
def test_each_database_fault_is_one_line_exit_2_and_nothing_archived(
        tmp_path, real_table, postgres, monkeypatch, change, expected):
    url = to_postgres(postgres, typed(real_table), f"crm_fault_{abs(hash(expected)) % 10**6}")
    monkeypatch.setenv("CRM_DB_PASSWORD", postgres_server.PASSWORD)
    monkeypatch.setenv("WRONG_PASSWORD", "not-" + postgres_server.PASSWORD)
    if change.pop("port", None):
        url = url.replace(f":{postgres.port}/", f":{postgres_server._free_port()}/")
    source = {"url": url, "table": "crm_customers", "password_env": "CRM_DB_PASSWORD",
              "columns": CRM_NAMES, **change}
    config = project(tmp_path, "fault", **{k: v for k, v in source.items() if v is not None})
    result = run_main("run", "--config", str(config))
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert re.search(expected, line), line
    if "DELETE" not in expected:
        assert "/crm_fault_" in line and "127.0.0.1" in line  # the host and the database
    assert postgres_server.PASSWORD not in line and "Traceback" not in line
    assert not run_folders(tmp_path / "fault" / "output")


def _extra_cells(lines: list[bytes]) -> bytes:
    """File line 21 (the header is line 1) with two cells more than the header."""
    lines[20] = lines[20].rstrip(b"\n") + b",9,9\n"
    return b"".join(lines)


FOLDER_FAULTS = {  # the second file of a folder, as it breaks it -> what the one line says
    "binary": (".csv", lambda lines: bytes(range(256)) * 40,
               r"/b\.csv: holds binary data, not a text table"),
    "extra cells": (".csv", _extra_cells,
                    r"/b\.csv: line 21 has 24 fields where the header has 22 \(a value holding a comma "
                    r"must be in quotes\); fix that line"),
    "columns left out": (".csv", lambda lines: b"".join(b",".join(line.split(b",")[:20]).rstrip() + b"\n"
                                                        for line in lines),
                         r"/b\.csv: no column Complain, Response, which every file of the folder .+/lake "
                         r"needs; export it again or move it out of the folder"),
    "not Parquet": (".parquet", lambda lines: b"".join(lines),
                    r"/b\.parquet: not a readable Parquet file \(cut short, or not Parquet at all\)"),
}


@pytest.mark.parametrize("fault", FOLDER_FAULTS)
def test_a_folder_file_that_breaks_the_folder_is_named(tmp_path, real_table, fault):
    """DuckDB said "the files could not be read together (InvalidInputException)", or read a
    CSV of uneven lines as one column (a problem per column); the file, its line and what to
    do are named."""
    suffix, broken, expected = FOLDER_FAULTS[fault]
    lines = real_table.read_bytes().splitlines(keepends=True)
    lake = tmp_path / "lake"
    lake.mkdir()
    if suffix == ".parquet":
        typed(real_table).to_parquet(lake / "a.parquet")
    else:
        (lake / "a.csv").write_bytes(b"".join(lines[:1001]))
    (lake / f"b{suffix}").write_bytes(broken([lines[0], *lines[1001:]]))
    result = run_main("run", "--config", str(project(tmp_path, "folder", path=str(lake))))
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert re.search(expected, result.stderr), result.stderr
    assert not run_folders(tmp_path / "folder" / "output")


@pytest.mark.parametrize("query", [
    "select 1", "SELECT * FROM customers;", "WITH a AS (SELECT 1) SELECT * FROM a",
    "SELECT 'insert into x' AS note, \"delete\" FROM t -- drop table t",
])
def test_a_select_that_only_reads_is_accepted(query):
    assert read_only_select(query).lower().startswith(("select", "with"))


@pytest.mark.parametrize(("query", "why"), [
    ("", "empty"), ("SELECT 1; DROP TABLE customers", "2 statements"),
    ("UPDATE customers SET income = 0", "starts with UPDATE"),
    ("SELECT * INTO copy FROM customers", "uses INTO"),
    ("WITH gone AS (DELETE FROM customers RETURNING *) SELECT * FROM gone", "uses DELETE"),
    ("/* hidden */ COPY customers TO '/tmp/x'", "starts with COPY"),
])
def test_anything_but_one_reading_select_is_refused(query, why):
    with pytest.raises(ReporterError, match=why):
        read_only_select(query)


@pytest.mark.parametrize(("source", "expected"), [
    ({"path": "a.csv", "url": "sqlite:///a.db", "table": "t"}, "give one of path"),
    ({"url": "sqlite:///a.db"}, "either table or query"),
    ({"url": "postgresql://reporter:hunter2@db/crm", "table": "t"}, "url holds a password"),
    ({"url": "mysql://db/crm", "table": "t"}, "url must start with postgresql"),
    ({"path": "a.csv", "table": "t"}, "go with url"),
])
def test_source_settings_are_checked_before_anything_is_read(tmp_path, source, expected):
    config = project(tmp_path, "settings", **source)
    result = run_main("validate", "--config", str(config))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "hunter2" not in result.stderr


def test_a_missing_password_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    config = project(tmp_path, "env", url="postgresql+psycopg://reporter@127.0.0.1:1/crm",
                     table="customers", password_env="NOT_SET_ANYWHERE")
    result = run_main("run", "--config", str(config))
    assert result.returncode == 2
    assert "source.password_env names the environment variable NOT_SET_ANYWHERE, which is not set" \
        in result.stderr
