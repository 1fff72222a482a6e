"""Databases the customers come from and the personas go back to: PostgreSQL (psycopg 3),
SQLite and DuckDB, named by a SQLAlchemy-style URL without its password.

Shared by database sources (reporter.data.sources) and CRM tables (reporter.delivery.crm):
parsing and showing an address, refusing a query that is not one read-only SELECT before it
reaches any server, quoting names, connecting with a time limit, and turning every driver
fault into one line that names the host and database (never the password) and what to check.
The drivers are imported only when a database is used.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reporter.errors import ReporterError

DIALECTS = ("postgresql", "sqlite", "duckdb")
# Statements and clauses that write or change a database; a source query may use none of them.
WRITING = ("insert", "update", "delete", "merge", "drop", "alter", "create", "truncate", "grant",
           "revoke", "copy", "call", "execute", "vacuum", "attach", "detach", "pragma", "install",
           "into", "lock", "checkpoint", "export", "import")
QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$(\w*)\$.*?\$\1\$|--[^\n]*|/\*.*?\*/", re.S)


@dataclass(frozen=True)
class Address:
    """A database as source.url or a CRM target's url names it."""

    dialect: str  # postgresql, sqlite or duckdb
    shown: str  # as messages and the run record show it: never a password
    host: str = ""
    port: int = 5432
    database: str = ""  # the database name, or the file of SQLite and DuckDB
    user: str = ""

    @property
    def where(self) -> str:
        """'database crm on 127.0.0.1:5432', or the file: what a message points at."""
        if self.dialect == "postgresql":
            return f"database {self.database} on {self.host}:{self.port}"
        return f"{self.dialect} file {self.database}"


def parse_address(url: str, base_dir: Path | None = None) -> Address:
    """An address from a URL; a relative SQLite or DuckDB file is relative to `base_dir` (the
    config's folder), like every path in a config file."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ReporterError(f"{url}: not a database URL; write for example "
                            "postgresql+psycopg://user@host:5432/database") from None
    dialect = parsed.get_backend_name()
    if dialect not in DIALECTS:
        raise ReporterError(f"{url}: {dialect} databases are not supported; use PostgreSQL, "
                            "SQLite or DuckDB")
    if dialect == "postgresql":
        shown = parsed.set(password=None).render_as_string(hide_password=True)
        return Address(dialect, shown, parsed.host or "localhost", parsed.port or 5432,
                       parsed.database or "", parsed.username or "")
    file = Path(parsed.database or "")
    if not parsed.database or str(file) == ":memory:":
        raise ReporterError(f"{url}: name the {dialect} file, e.g. {dialect}:///data/customers.db")
    if not file.is_absolute() and base_dir is not None:
        file = (base_dir / file).resolve()
    return Address(dialect, f"{dialect}:///{file}", database=str(file))


def read_only_select(query: str) -> str:
    """The query without its final semicolon when it is one SELECT that writes nothing; refused
    otherwise, before any connection (the connection is read-only as well)."""
    code = QUOTED.sub(" '' ", query)
    statements = [part for part in code.split(";") if part.strip()]
    if not statements:
        raise ReporterError("source.query is empty; write one SELECT, or name a table instead")
    if len(statements) > 1:
        raise ReporterError(f"source.query holds {len(statements)} statements; give one SELECT")
    words = re.findall(r"[a-z_]+", code.lower())
    if words[0] not in ("select", "with"):
        raise ReporterError(f"source.query starts with {words[0].upper()}; it must be one SELECT "
                            "that only reads")
    writing = [word for word in words if word in WRITING]
    if writing:
        raise ReporterError(f"source.query uses {writing[0].upper()}, which writes to the database; "
                            "it must be one SELECT that only reads")
    return query.strip().rstrip(";").strip()


def quote(name: str) -> str:
    """A table or column name as SQL, each dotted part quoted: schema.table works too."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


class DatabaseFault(ReporterError):
    """The database could not be read or written: server, password, table, column or time."""


@contextmanager
def connect(address: Address, password: str, timeout_seconds: float, read_only: bool,
            password_env: str = "") -> Iterator[Any]:
    """A DB-API connection, closed afterwards. Reads are read-only at the connection, and a
    statement that runs past `timeout_seconds` is stopped by the server (PostgreSQL) or
    interrupted (SQLite, DuckDB). Faults become a DatabaseFault with one line."""
    try:
        if address.dialect == "postgresql":
            connection = _postgresql(address, password, timeout_seconds, read_only)
        elif address.dialect == "sqlite":
            connection = _sqlite(address, timeout_seconds, read_only)
        else:
            connection = _duckdb(address, read_only)
    except Exception as exc:  # drivers raise their own types; fault() names the cause
        raise fault(exc, address, password_env) from None
    stop = interrupt_after(connection, timeout_seconds) if address.dialect == "duckdb" else None
    try:
        yield connection
    except ReporterError:
        raise  # already one line for the user (a column that is missing, say)
    except Exception as exc:
        raise fault(exc, address, password_env, timeout_seconds) from None
    finally:
        if stop is not None:
            stop.cancel()
        connection.close()


def _postgresql(address: Address, password: str, timeout_seconds: float, read_only: bool):
    import psycopg

    options = f"-c statement_timeout={int(timeout_seconds * 1000)} -c TimeZone=UTC -c DateStyle=ISO"
    if read_only:
        options += " -c default_transaction_read_only=on"
    return psycopg.connect(host=address.host, port=address.port, dbname=address.database,
                           user=address.user or None, password=password or None,
                           connect_timeout=max(1, min(int(timeout_seconds), 30)), options=options,
                           application_name="smartcart-reporter")


def _sqlite(address: Address, timeout_seconds: float, read_only: bool):
    import sqlite3
    import time

    if read_only and not Path(address.database).is_file():
        raise FileNotFoundError(address.database)
    mode = "ro" if read_only else "rwc"
    connection = sqlite3.connect(f"file:{address.database}?mode={mode}", uri=True,
                                 timeout=timeout_seconds, check_same_thread=False)
    deadline = time.monotonic() + timeout_seconds
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    return connection


def _duckdb(address: Address, read_only: bool):
    import duckdb

    if read_only and not Path(address.database).is_file():
        raise FileNotFoundError(address.database)
    return duckdb.connect(address.database, read_only=read_only)


def interrupt_after(connection, seconds: float) -> threading.Timer:
    """DuckDB has no statement time-out: interrupt the connection when time is up."""
    timer = threading.Timer(seconds, connection.interrupt)
    timer.daemon = True
    timer.start()
    return timer


def fault(exc: BaseException, address: Address, password_env: str = "",
          timeout_seconds: float | None = None) -> DatabaseFault:
    """One line for a driver's exception: what went wrong where, and what to check."""
    text = " ".join(str(exc).split()).lower()
    where = f"{address.shown} ({address.where})"
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, FileNotFoundError):
        return DatabaseFault(f"{where}: the database file does not exist; check the url")
    if sqlstate == "57014" or "interrupt" in text or "statement timeout" in text:
        return DatabaseFault(f"{where}: the read took longer than {timeout_seconds or '?'} s and was "
                             "stopped; raise source.timeout_seconds or read less (as_of_column, a "
                             "narrower query)")
    if "password authentication failed" in text or "no password supplied" in text:
        variable = f"the environment variable {password_env}" if password_env else \
            "password_env (no password was given)"
        return DatabaseFault(f"{where}: the server refused user {address.user or '?'}'s password; "
                             f"check {variable}")
    if sqlstate == "3D000" or (address.dialect == "postgresql" and "does not exist" in text
                               and "database" in text):
        return DatabaseFault(f"{where}: there is no database {address.database} on the server; "
                             "check the database name in the url")
    if sqlstate in ("08001", "08006") or "connection refused" in text or "could not connect" in text \
            or "timeout expired" in text or "could not translate host" in text:
        return DatabaseFault(f"{where}: cannot connect to the server; check that PostgreSQL runs "
                             "there and that the host and port in the url are right")
    if sqlstate == "42P01" or "no such table" in text or ("table" in text and "does not exist" in text):
        return DatabaseFault(f"{where}: {_named(exc, 'table')} does not exist; check the table "
                             "name (source.table, or the query)")
    if sqlstate == "42703" or "no such column" in text or "referenced column" in text \
            or ("column" in text and "not found" in text):
        return DatabaseFault(f"{where}: {_named(exc, 'column')} does not exist; check the query "
                             "and source.columns")
    if sqlstate == "42501" or "permission denied" in text:
        return DatabaseFault(f"{where}: user {address.user or '?'} may not do this; grant it the "
                             "rights it needs (SELECT to read, INSERT and UPDATE for a CRM table)")
    if sqlstate == "25006" or "read-only" in text or "readonly" in text:
        return DatabaseFault(f"{where}: the query tried to write; a source query may only read")
    if sqlstate.startswith("42") or "syntax error" in text or "parser error" in text:
        return DatabaseFault(f"{where}: the database could not run the query (a syntax or name "
                             "error); try it in the database's own client first")
    kind = type(exc).__name__
    return DatabaseFault(f"{where}: the database refused the request ({kind}"
                         f"{', SQLSTATE ' + sqlstate if sqlstate else ''}); check the url, table and "
                         "the server's log")


def _named(exc: BaseException, what: str) -> str:
    """'table customers' from a driver's message when it names one, else 'the table'."""
    text = " ".join(str(exc).split())
    found = re.search(r'(?:relation|table|column|table with name|column with name)\s+"?([\w.]+)"?',
                      text, re.I) or re.search(r"no such (?:table|column):\s*([\w.]+)", text, re.I)
    return f"{what} {found[1]}" if found else f"the {what}"
