"""CRM push: after a run is delivered, its personas and flags go where the CRM reads them.

Two kinds of target (`crm:` in reporter.yaml), both fed from the run's archived customers.csv:
- a database table (PostgreSQL, SQLite, DuckDB), upserted by customer ID in one transaction:
  segment, persona, flags, RFM scores, the run's predictions (empty where the run made none),
  run_id and as_of; every customer of the run is there afterwards. A table made before the
  predictions were pushed gets their columns added when the writer may alter it; otherwise it
  is pushed without them and the push says which ALTER TABLE to run;
- a webhook: the customers whose persona or flags changed since the run's baseline (everyone on
  a source's first run), POSTed as JSON in batches, signed with HMAC-SHA256 from a secret in an
  environment variable, retried on 5xx answers and time-outs with back-off. Each customer
  carries the run's predictions (predict/columns.py: p_response, ...) when the run made them;
  a run without one posts no such field.

Each target is claimed in the delivery ledger before anything is pushed, so a run reaches each
target once, whatever restarts or duplicate schedulers happen. A claim left by a killed
process is marked failed, and the next dispatch of the run pushes again; both kinds are safe
to repeat (an upsert; batches carry a delivery id the receiver can deduplicate on). A push
that fails is recorded and told to the owners; it never holds back the email.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from reporter.archive import find_run
from reporter.database import Address, DatabaseFault, connect, parse_address, quote
from reporter.delivery.params import CrmParams
from reporter.errors import DataError, ReporterError
from reporter.predict.columns import PREDICTIONS, present

CUSTOMERS_FILE = "customers.csv"
TABLE_COLUMNS = {  # name: SQL type, the same on PostgreSQL, SQLite and DuckDB
    "customer_id": "BIGINT PRIMARY KEY", "other_ids": "TEXT", "segment": "INTEGER",
    "persona": "TEXT", "flags": "TEXT", "control_lists": "TEXT", "r_score": "INTEGER", "f_score": "INTEGER",
    "m_score": "INTEGER", "run_id": "TEXT", "as_of": "TEXT", "pushed_at": "TEXT",
    **{p.name: "DOUBLE PRECISION" for p in PREDICTIONS},  # NULL where the run made none
}
PREDICTION_COLUMNS = tuple(p.name for p in PREDICTIONS)
ADDED_LATER = ("control_lists", *PREDICTION_COLUMNS)  # a table made by an earlier version lacks them
SIGNATURE_HEADER = "X-SmartCart-Signature"
DELIVERY_HEADER = "X-SmartCart-Delivery"


@dataclass(frozen=True)
class Pushed:
    """How one push ended: the figures the ledger, the run record and the owners are told."""

    target: str
    status: str  # sent or failed
    customers: int = 0  # upserted, or posted
    attempts: int = 0
    detail: str = ""
    lacking: tuple[str, ...] = ()  # predictions the table has no column for: pushed without them

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class RunRows:
    """One run's customers as the CRM gets them, and those that changed since its baseline."""

    run_id: str
    as_of: str
    customers: pd.DataFrame  # the TABLE_COLUMNS but pushed_at
    changed: pd.DataFrame  # the same columns plus previous_persona and previous_flags


def run_rows(folder: Path, output_dir: Path, run_id: str, as_of: str, baseline: str) -> RunRows:
    """The run's customers.csv in the CRM's layout, compared with its baseline's."""
    now = _crm_layout(pd.read_csv(folder / CUSTOMERS_FILE, keep_default_na=False))
    if not baseline:
        return RunRows(run_id, as_of, now, now.assign(previous_persona="", previous_flags="[]"))
    try:
        before_file = find_run(output_dir, baseline) / CUSTOMERS_FILE
    except DataError:  # the baseline was pruned: everyone counts as changed, which is safe
        return RunRows(run_id, as_of, now, now.assign(previous_persona="", previous_flags="[]"))
    before = _crm_layout(pd.read_csv(before_file, keep_default_na=False))
    merged = now.merge(before[["customer_id", "persona", "flags"]], on="customer_id", how="left",
                       suffixes=("", "_before"))
    moved = merged["persona"].ne(merged["persona_before"]) | merged["flags"].ne(merged["flags_before"])
    changed = merged[moved].rename(columns={"persona_before": "previous_persona",
                                            "flags_before": "previous_flags"})
    return RunRows(run_id, as_of, now, changed.fillna({"previous_persona": "", "previous_flags": "[]"}))


def _crm_layout(customers: pd.DataFrame) -> pd.DataFrame:
    flags = _named_columns(_to_contact(customers), "flag_")
    control = _named_columns(customers[[c for c in customers if c.startswith("control_")]], "control_")
    scores = {name: pd.to_numeric(customers[name], errors="coerce").round().astype("Int64")
              if name in customers else pd.Series(pd.NA, index=customers.index, dtype="Int64")
              for name in ("r_score", "f_score", "m_score")}
    return pd.DataFrame({
        "customer_id": customers["ID"].astype("int64"),
        "other_ids": customers["other_ids"].astype(str) if "other_ids" in customers else "",
        "segment": customers["cluster"].astype("int64"),
        "persona": customers["persona"].astype(str),
        "flags": flags.astype(str),  # those the customer is to be contacted for
        "control_lists": control.astype(str),  # the lists that hold the customer back as control
        **scores,
        "run_id": customers["run_id"].astype(str),
        "as_of": customers["as_of"].astype(str),
        **{p.name: pd.to_numeric(customers[p.name], errors="coerce") for p in present(customers)},
    })


def _to_contact(customers: pd.DataFrame) -> pd.DataFrame:
    """The flag columns with each flag's control group cleared: a CRM campaign built on the
    pushed flags never reaches a customer its list holds back (control_<flag> in customers.csv)."""
    flags = customers[[c for c in customers if c.startswith("flag_")]].astype(bool)
    for column in flags:
        held = "control_" + column.removeprefix("flag_")
        if held in customers:
            flags[column] &= ~customers[held].astype(bool)
    return flags


def _named_columns(marks: pd.DataFrame, prefix: str) -> pd.Series:
    """Each row's set 0/1 columns as a JSON list of names, '["churn_risk"]' as json.dumps
    writes it, column by column (a row-wise apply takes seconds a million rows)."""
    joined = np.full(len(marks), "", dtype=object)
    for column in marks:
        name = np.where(marks[column].to_numpy(bool), f'"{column.removeprefix(prefix)}"', "")
        joined = np.where((joined != "") & (name != ""), joined + ", " + name, joined + name)
    return pd.Series("[" + joined + "]", index=marks.index, dtype=object)


def push(target: CrmParams, rows: RunRows, secret: str, password: str = "",
         base_dir: Path | None = None) -> Pushed:
    """One target, once; a failure is returned, not raised (it must not stop the others)."""
    try:
        if target.url is not None:
            address = parse_address(target.url, base_dir)
            count, lacking = upsert(address, target.table, rows.customers, password,
                                    target.timeout_seconds, target.password_env or "")
            return Pushed(target.name, "sent", count, 1, f"{count:,} customers upserted into "
                          f"{target.table} ({address.where})" + _lacking_note(target.table, lacking),
                          lacking)
        return post_changes(target, rows, secret)
    except ReporterError as exc:
        return Pushed(target.name, "failed", 0, 1, exc.one_line())


def upsert(address: Address, table: str, customers: pd.DataFrame, password: str,
           timeout_seconds: float, password_env: str = "") -> tuple[int, tuple[str, ...]]:
    """Every customer into `table` by customer ID, in one transaction (created if missing):
    how many, and the prediction columns the table lacks and could not be given."""
    rows = customers.assign(pushed_at=datetime.now().astimezone().isoformat(timespec="seconds"),
                            **{c: np.nan for c in PREDICTION_COLUMNS if c not in customers})
    rows = rows[list(TABLE_COLUMNS)]  # a prediction the run did not make: NULL, not last week's
    with connect(address, password, timeout_seconds, read_only=False,
                 password_env=password_env) as connection:
        if address.dialect == "postgresql":
            names = _upsert_postgresql(connection, table, rows, address)
        elif address.dialect == "duckdb":
            names = _upsert_duckdb(connection, table, rows)
        else:
            names = _upsert_sqlite(connection, table, rows)
    return len(rows), tuple(c for c in PREDICTION_COLUMNS if c not in names)


def _lacking_note(table: str, lacking: tuple[str, ...]) -> str:
    if not lacking:
        return ""
    return (f"; pushed without {', '.join(lacking)}, which the table lacks and this writer may not "
            f"add: as the table's owner run `{_alter(table, lacking)}`")


def _alter(table: str, names) -> str:
    """The one statement that gives `table` the columns `names` (what a person is told to run)."""
    return f"ALTER TABLE {quote(table)} " + ", ".join(f"ADD COLUMN {c} {TABLE_COLUMNS[c]}" for c in names)


def _create(table: str) -> str:
    columns = ", ".join(f"{name} {kind}" for name, kind in TABLE_COLUMNS.items())
    return f"CREATE TABLE IF NOT EXISTS {quote(table)} ({columns})"


def _add_column(table: str, name: str, unless_there: bool = False) -> str:
    """One column of TABLE_COLUMNS added; `unless_there` where another push may add it at the
    same time (PostgreSQL; SQLite has no IF NOT EXISTS here)."""
    guard = "IF NOT EXISTS " if unless_there else ""
    return f"ALTER TABLE {quote(table)} ADD COLUMN {guard}{name} {TABLE_COLUMNS[name]}"


def _columns_of(connection, table: str) -> set[str]:
    """The table's column names, as the database reports them (no row is read)."""
    cursor = connection.execute(f"SELECT * FROM {quote(table)} LIMIT 0")
    return {str(column[0]).lower() for column in cursor.description}


def _pushed_columns(table: str, have: set[str], addable: tuple[str, ...] = ()) -> list[str]:
    """The columns the push writes: all of TABLE_COLUMNS the table has. A table without one of
    the others (but those in `addable`, about to be added) cannot hold a run's customers."""
    missing = [c for c in TABLE_COLUMNS if c not in have and c not in PREDICTION_COLUMNS
               and c not in addable]
    if missing:
        them = "it" if len(missing) == 1 else "them"
        raise DatabaseFault(f"table {table} has no column {', '.join(missing)}, which the CRM push "
                            f"writes: add {them} (`{_alter(table, missing)}`) or name another table")
    return [c for c in TABLE_COLUMNS if c in have]


def _on_conflict(names: list[str]) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in names if c != "customer_id")
    return f"ON CONFLICT (customer_id) DO UPDATE SET {updates}"


@dataclass(frozen=True)
class Right:
    """One privilege on one object, as GRANT names it: CREATE on schema crmout."""

    privilege: str  # USAGE, CREATE, TEMPORARY, SELECT, INSERT, UPDATE
    kind: str  # schema, table or database
    name: str

    @property
    def grant(self) -> str:
        return f"GRANT {self.privilege} ON {self.kind.upper()} {self.name}"


class _Denied(Exception):
    """A statement PostgreSQL refused for want of a privilege (SQLSTATE 42501): which one is
    found once the transaction has rolled back."""

    def __init__(self, purpose: str, rights: tuple[Right, ...]):
        super().__init__(purpose)
        self.purpose = purpose
        self.rights = rights


class _NoSchema(Exception):
    """The table's schema does not exist (SQLSTATE 3F000)."""


def _upsert_postgresql(connection, table: str, rows: pd.DataFrame, address: Address) -> list[str]:
    """COPY into a temporary table, then one INSERT ... ON CONFLICT: fast for a million rows.
    The table is created only when missing, so a writer granted INSERT, UPDATE and SELECT on
    a table made beforehand needs no CREATE; a refused statement names the privilege it lacks.
    The columns a table of an earlier version lacks are added first, where the writer owns it."""
    _postgresql_add_later(connection, table)
    try:
        with connection.transaction():  # the first statement: it begins the transaction it commits
            schema, plain = _schema_and_name(connection, table)
            on_schema = Right("USAGE", "schema", schema)
            on_table = tuple(Right(p, "table", f"{schema}.{plain}") for p in ("INSERT", "UPDATE", "SELECT"))
            found = _step(connection, "SELECT to_regclass(%s)", "find the table", (on_schema,),
                          (quote(table),)).fetchone()[0]
            if found is None:
                _step(connection, _create(table), f"create table {schema}.{plain}",
                      (on_schema, Right("CREATE", "schema", schema)))
            have = _step(connection, f"SELECT * FROM {quote(table)} LIMIT 0", "read the table's columns",
                         (on_schema, on_table[2])).description
            names = _pushed_columns(table, {column.name for column in have})
            listed = ", ".join(names)
            _step(connection, f"CREATE TEMPORARY TABLE incoming ON COMMIT DROP AS SELECT {listed} "
                  f"FROM {quote(table)} WITH NO DATA",  # the pushed columns only, no constraint
                  "stage the rows in a temporary table",
                  (Right("TEMPORARY", "database", address.database), on_table[2]))
            with connection.cursor().copy(f"COPY incoming ({listed}) FROM STDIN") as copy:
                for record in _cells(rows[names]):
                    copy.write_row(record)
            _step(connection, f"INSERT INTO {quote(table)} ({listed}) SELECT {listed} FROM incoming "
                  + _on_conflict(names), f"upsert into table {schema}.{plain}", (on_schema, *on_table))
        return names
    except _Denied as denied:
        raise _privilege_fault(connection, address, denied) from None
    except _NoSchema as missing:
        raise DatabaseFault(f"{address.shown} ({address.where}): schema {missing} does not exist; "
                            f"create it (CREATE SCHEMA {missing}) or correct the crm target's table") \
            from None


ALTER_LOCK_WAIT = "5s"  # ALTER TABLE waits this long behind the CRM's readers, then is skipped


def _postgresql_add_later(connection, table: str) -> None:
    """Each ADDED_LATER column an existing table lacks, added in a short transaction of its own
    (ALTER TABLE locks the table until commit: not through the whole upsert). Only the owner may
    add one, and a busy table may not give the lock in time: either way it is left out here,
    and the upsert pushes without it (a prediction) or names what to run (any other)."""
    import psycopg

    try:
        with connection.transaction():
            if connection.execute("SELECT to_regclass(%s)", (quote(table),)).fetchone()[0] is None:
                return  # the upsert creates it whole
            have = _columns_of(connection, table)
            if any(c not in have for c in TABLE_COLUMNS if c not in ADDED_LATER):
                return  # not a table of this push: the upsert says so, and it is left as it was
            connection.execute(f"SET LOCAL lock_timeout = '{ALTER_LOCK_WAIT}'")
            for name in (c for c in ADDED_LATER if c not in have):
                try:
                    with connection.transaction():  # a savepoint: one refusal spoils no other
                        connection.execute(_add_column(table, name, unless_there=True))
                except (psycopg.errors.InsufficientPrivilege, psycopg.errors.LockNotAvailable,
                        psycopg.errors.QueryCanceled, psycopg.errors.DuplicateColumn):
                    pass
    except psycopg.Error:
        return  # the upsert meets the same problem and words it


def _cells(rows: pd.DataFrame):
    """Each row as a tuple of Python values, None for every missing one."""
    return rows.astype(object).where(rows.notna(), None).itertuples(index=False)


def _schema_and_name(connection, table: str) -> tuple[str, str]:
    """The schema the table is in (the one named, or the first of the search path) and its name."""
    schema, _, plain = table.rpartition(".")
    if not schema:
        schema = connection.execute("SELECT current_schema()").fetchone()[0] or "public"
    return schema, plain


def _step(connection, statement: str, purpose: str, rights: tuple[Right, ...], params=None):
    """One statement; refused for a privilege, it says what it was for and what it needs, and
    a schema that does not exist is named."""
    import psycopg

    try:
        return connection.execute(statement, params)
    except psycopg.errors.InsufficientPrivilege:
        raise _Denied(purpose, rights) from None
    except psycopg.errors.InvalidSchemaName:
        raise _NoSchema(next(r.name for r in rights if r.kind == "schema")) from None


def _privilege_fault(connection, address: Address, denied: _Denied) -> DatabaseFault:
    """'user u lacks CREATE on schema crmout ...', the missing rights asked of the server (the
    statement's needs when the server cannot tell), with the GRANT that gives them."""
    missing = [right for right in denied.rights if not _holds(connection, right)] or list(denied.rights)
    user = address.user or "?"
    lacks = ", ".join(f"{r.privilege} on {r.kind} {r.name}" for r in missing)
    grants = "; ".join(f"{r.grant} TO {user}" for r in missing)
    return DatabaseFault(f"{address.shown} ({address.where}): user {user} lacks {lacks}, needed to "
                         f"{denied.purpose}; as the owner run `{grants}` (docs/operations/crm.md)")


def _holds(connection, right: Right) -> bool:
    """Whether the connected user holds `right`; unknown (a failing check) counts as missing."""
    check = {"schema": "has_schema_privilege(%s, %s)", "table": "has_table_privilege(%s, %s)",
             "database": "has_database_privilege(%s, %s)"}[right.kind]
    name = quote(right.name) if right.kind == "table" else right.name
    try:
        with connection.transaction():
            return bool(connection.execute(f"SELECT {check}", (name, right.privilege)).fetchone()[0])
    except Exception:  # the check itself refused: say what the statement needs
        return False


def _upsert_duckdb(connection, table: str, rows: pd.DataFrame) -> list[str]:
    connection.execute("BEGIN TRANSACTION")
    try:
        names = _columns_after_adding(connection, table)
        listed = ", ".join(names)
        connection.register("incoming", rows[names])
        connection.execute(f"INSERT INTO {quote(table)} ({listed}) SELECT {listed} FROM incoming "
                           + _on_conflict(names))
        connection.execute("COMMIT")
        return names
    except Exception:
        connection.execute("ROLLBACK")
        raise


def _upsert_sqlite(connection, table: str, rows: pd.DataFrame) -> list[str]:
    with connection:  # the rows in one transaction (a table or column made first stays)
        names = _columns_after_adding(connection, table)
        marks = ", ".join("?" for _ in names)
        connection.executemany(f"INSERT INTO {quote(table)} ({', '.join(names)}) VALUES ({marks}) "
                               + _on_conflict(names), _cells(rows[names]))
    return names


def _columns_after_adding(connection, table: str) -> list[str]:
    """A file database's table, made when missing and given the ADDED_LATER columns it lacks
    (whoever may write the file may alter its tables): the columns to push."""
    connection.execute(_create(table))
    have = _columns_of(connection, table)
    _pushed_columns(table, have, ADDED_LATER)  # a table that cannot hold them is left as it was
    added = [name for name in ADDED_LATER if name not in have]
    for name in added:
        connection.execute(_add_column(table, name))
    return _pushed_columns(table, have | set(added))


def post_changes(target: CrmParams, rows: RunRows, secret: str) -> Pushed:
    """The changed customers in batches; each batch is signed and retried on its own."""
    changed = rows.changed
    batches = [changed.iloc[start:start + target.batch_size]
               for start in range(0, len(changed), target.batch_size)]
    attempts = 0
    for number, batch in enumerate(batches, start=1):
        body = _body(rows, batch, number, len(batches))
        delivery = f"{rows.run_id}:{target.name}:{number}"
        attempts += _post(target, body, _sign(secret, body), delivery)
    detail = (f"{len(changed):,} changed customers posted in {len(batches)} batch(es)" if batches
              else "no customer's persona or flags changed: nothing to post")
    return Pushed(target.name, "sent", len(changed), attempts, detail)


def _body(rows: RunRows, batch: pd.DataFrame, number: int, batches: int) -> bytes:
    predictions = present(batch)  # only those the run made: no empty fields
    customers = [{
        "customer_id": int(row.customer_id), "segment": int(row.segment), "persona": row.persona,
        "flags": json.loads(row.flags), "control": json.loads(row.control_lists),
        "previous_persona": row.previous_persona or None,
        "previous_flags": json.loads(row.previous_flags),
        "rfm": {name: None if pd.isna(getattr(row, name)) else int(getattr(row, name))
                for name in ("r_score", "f_score", "m_score")},
        **{p.name: _number(getattr(row, p.name)) for p in predictions},
    } for row in batch.itertuples(index=False)]
    document = {"run_id": rows.run_id, "as_of": rows.as_of, "batch": number, "batches": batches,
                "customers": customers}
    return json.dumps(document, separators=(",", ":")).encode()


def _number(value) -> float | None:
    return None if pd.isna(value) else float(value)


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(target: CrmParams, body: bytes, signature: str, delivery: str) -> int:
    """POST one batch; returns the attempts it took. 5xx answers, refused connections and
    time-outs are retried with back-off; any other answer but 2xx stops the push."""
    request = urllib.request.Request(target.webhook, data=body, method="POST", headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: signature, DELIVERY_HEADER: delivery,
        "User-Agent": "smartcart-reporter"})
    for attempt in range(1, target.retries + 2):
        try:
            with urllib.request.urlopen(request, timeout=target.timeout_seconds) as answer:
                answer.read()
                return attempt
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise ReporterError(f"{target.webhook}: answered {exc.code} to batch {delivery}; "
                                    + _hint(exc.code)) from None
            problem = f"answered {exc.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            problem = "did not answer in time" if isinstance(reason, TimeoutError) else \
                "could not be reached"
        if attempt <= target.retries:
            time.sleep(target.backoff_seconds * 2 ** (attempt - 1))
    raise ReporterError(f"{target.webhook}: {problem} after {target.retries + 1} attempts "
                        f"(batch {delivery}); check the receiving service, then run `reporter push`")


def _hint(code: int) -> str:
    if code in (401, 403):
        return "check that the receiver has the same secret as secret_env"
    if code == 413:
        return "lower batch_size"
    return "check the address and what the receiver expects"

