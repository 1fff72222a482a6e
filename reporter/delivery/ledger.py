"""The delivery ledger: one row per run, team and recipient (or CRM target) in
`<output>/ledger.sqlite`.

A recipient is *claimed* in a write transaction before anything is sent, and a unique index
allows one live claim, copy in flight, sent copy or uncertain copy of a run's brief per
recipient. However many schedulers, restarts, catch-ups or `reporter send`s race, each
recipient gets at most one copy; only `reporter send --force` sends again, and that is
recorded as its own row.

A row's status says how far its message got:
- claimed: this process may send; nothing has been handed to the mail server;
- sending: the message data is being handed over (recorded *before* the data is sent);
- sent: the server confirmed it (250); failed: the server refused it, or it never got the
  data (such a recipient may be sent again by `reporter send` or the scheduler's catch-up);
- uncertain: the data was handed over but no answer came (a time-out, a dropped connection,
  a kill). At most once (the default), it is never sent again by itself: the owners are told
  and `reporter send --force` sends it again by hand.
- skipped: a recipient in several teams, on the rows of the teams whose email left them out,
  because the copy went with another team's (detail: "received with team Marketing").
A claim left by a dead process is settled by the next claimer: `claimed` becomes failed (it
is sent again), `sending` becomes uncertain (or failed under at-least-once).
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reporter.archive import process_alive
from reporter.errors import ReporterError

LEDGER_FILE = "ledger.sqlite"
AT_MOST_ONCE, AT_LEAST_ONCE = "at-most-once", "at-least-once"
HELD_BY_BRIEF = ("claimed", "sending", "sent", "uncertain")  # a recipient with one of these is not sent again
SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    team TEXT NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,          -- brief, forced (send --force), notice (to owners),
                                 -- push (a CRM target; recipient crm:<name>) or push-again
    status TEXT NOT NULL,        -- claimed, sending, sent, failed, uncertain or skipped
    at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    told INTEGER NOT NULL DEFAULT 0  -- an uncertain row the owners have been told of
);
DROP INDEX IF EXISTS one_copy_per_recipient;
CREATE UNIQUE INDEX IF NOT EXISTS one_brief_per_recipient
    ON deliveries (run_id, recipient)
    WHERE kind = 'brief' AND status IN ('claimed', 'sending', 'sent', 'uncertain');
CREATE UNIQUE INDEX IF NOT EXISTS one_push_per_target
    ON deliveries (run_id, recipient) WHERE kind = 'push' AND status IN ('claimed', 'sent');
"""
DEAD_CLAIMED = "interrupted before the message was handed to the mail server"
DEAD_SENDING = ("interrupted after the message was handed to the mail server, before it answered: "
                "whether it arrived is unknown")


class LedgerError(ReporterError):
    """The ledger cannot be written: nothing may be sent without it."""


@dataclass(frozen=True)
class LedgerRow:
    run_id: str
    team: str
    recipient: str
    kind: str
    status: str
    at: str
    detail: str
    message_id: str


class Ledger:
    def __init__(self, output_dir: Path, guarantee: str = AT_MOST_ONCE):
        self.path = output_dir / LEDGER_FILE
        self.guarantee = guarantee
        with self._db() as db:
            db.executescript(SCHEMA[:SCHEMA.index("DROP INDEX")])
            if "told" not in {row[1] for row in db.execute("PRAGMA table_info(deliveries)")}:
                db.execute("ALTER TABLE deliveries ADD COLUMN told INTEGER NOT NULL DEFAULT 0")
            db.executescript(SCHEMA[SCHEMA.index("DROP INDEX"):])

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection; any failure of the file (read-only, full disk, not a database) is one
        line that says what to do, and nothing was sent."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=60, isolation_level=None)) as db:
                db.execute("PRAGMA journal_mode=WAL")
                yield db
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(
                f"{self.path}: the delivery ledger cannot be written ({self._why(exc)}); every copy is "
                "recorded there before it is sent, so nothing was sent: make the archive folder "
                f"{self.path.parent} writable for this user (or run as its owner), then run the "
                "command again") from None

    def claim(self, run_id: str, team: str, recipients: Iterable[str], kind: str = "brief") -> list[str]:
        """The recipients this process may send the run's brief (or push it) to: those without
        a live claim, a copy in flight, a sent or an uncertain copy (all of them for the kinds
        that repeat by hand: forced, push-again)."""
        claimed = []
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")  # one claimer at a time, across processes
            self._settle_dead_claims(db)
            for recipient in recipients:
                try:
                    db.execute("INSERT INTO deliveries (run_id, team, recipient, kind, status, at, "
                               "host, pid) VALUES (?, ?, ?, ?, 'claimed', ?, ?, ?)",
                               (run_id, team, recipient, kind, _now(), socket.gethostname(), os.getpid()))
                    claimed.append(recipient)
                except sqlite3.IntegrityError:
                    continue  # already claimed, sent or uncertain
            db.execute("COMMIT")
        return claimed

    def mark(self, run_id: str, recipients: Iterable[str], before: str, after: str) -> None:
        """Move this process's rows from one phase to the next (claimed -> sending before the
        data is handed over; back to claimed when the server refused it)."""
        with self._db() as db, db:
            for recipient in recipients:
                db.execute("UPDATE deliveries SET status = ?, at = ? WHERE run_id = ? AND recipient = ? "
                           "AND status = ? AND pid = ? AND host = ?",
                           (after, _now(), run_id, recipient, before, os.getpid(), socket.gethostname()))

    def settle(self, run_id: str, recipients: Iterable[str], status: str, detail: str = "",
               message_id: str = "") -> None:
        """Record how this process's claims ended: sent, failed or uncertain."""
        with self._db() as db, db:
            for recipient in recipients:
                db.execute("UPDATE deliveries SET status = ?, detail = ?, message_id = ?, at = ? "
                           "WHERE run_id = ? AND recipient = ? AND status IN ('claimed', 'sending') "
                           "AND pid = ? AND host = ?",
                           (status, detail, message_id, _now(), run_id, recipient, os.getpid(),
                            socket.gethostname()))

    def standing(self, run_id: str, recipients: Iterable[str]) -> dict[str, LedgerRow]:
        """Each recipient's row that keeps the run's brief from being sent to them again
        (claimed, sending, sent or uncertain); recipients without one are left out."""
        wanted = list(recipients)
        marks = ", ".join("?" for _ in HELD_BY_BRIEF)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            self._settle_dead_claims(db)
            db.execute("COMMIT")
            rows = db.execute(f"SELECT {_COLUMNS} FROM deliveries WHERE run_id = ? AND kind = 'brief' "
                              f"AND status IN ({marks}) ORDER BY id", (run_id, *HELD_BY_BRIEF)).fetchall()
        found = {row[2]: LedgerRow(*row) for row in rows}
        return {recipient: found[recipient] for recipient in wanted if recipient in found}

    def untold_uncertain(self, run_id: str) -> list[LedgerRow]:
        """The run's uncertain copies the owners have not been told of yet."""
        with self._db() as db:
            return [LedgerRow(*row) for row in db.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE run_id = ? AND status = 'uncertain' "
                "AND kind IN ('brief', 'forced') AND told = 0 ORDER BY id", (run_id,))]

    def mark_told(self, run_id: str, recipients: Iterable[str]) -> None:
        with self._db() as db, db:
            for recipient in recipients:
                db.execute("UPDATE deliveries SET told = 1 WHERE run_id = ? AND recipient = ? AND "
                           "status = 'uncertain' AND kind IN ('brief', 'forced')", (run_id, recipient))

    def note(self, run_id: str, team: str, recipient: str, kind: str, status: str, detail: str = "",
             message_id: str = "") -> None:
        """A row that claims nothing (owner notices)."""
        with self._db() as db, db:
            db.execute("INSERT INTO deliveries (run_id, team, recipient, kind, status, at, detail, "
                       "message_id, host, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (run_id, team, recipient, kind, status, _now(), detail, message_id,
                        socket.gethostname(), os.getpid()))

    def rows(self, run_id: str | None = None) -> list[LedgerRow]:
        query = (f"SELECT {_COLUMNS} FROM deliveries" + (" WHERE run_id = ?" if run_id else "")
                 + " ORDER BY id")
        with self._db() as db:
            return [LedgerRow(*row) for row in db.execute(query, (run_id,) if run_id else ())]

    def _settle_dead_claims(self, db: sqlite3.Connection) -> None:
        """A claim whose process died: failed if it never reached the data, else uncertain (at
        most once) or failed (at least once, so it is sent again)."""
        here = socket.gethostname()
        for row_id, pid, status in db.execute("SELECT id, pid, status FROM deliveries WHERE status IN "
                                              "('claimed', 'sending') AND host = ?", (here,)).fetchall():
            if process_alive(pid):
                continue
            if status == "claimed":
                db.execute("UPDATE deliveries SET status = 'failed', detail = ? WHERE id = ?",
                           (DEAD_CLAIMED, row_id))
            elif self.guarantee == AT_LEAST_ONCE:
                db.execute("UPDATE deliveries SET status = 'failed', detail = ? WHERE id = ?",
                           (DEAD_SENDING + "; sent again (delivery.guarantee: at-least-once)", row_id))
            else:
                db.execute("UPDATE deliveries SET status = 'uncertain', detail = ? WHERE id = ?",
                           (DEAD_SENDING, row_id))


    def _why(self, exc: Exception) -> str:
        """The cause in plain words (sqlite's own wording is not for users)."""
        folder = self.path.parent
        read_only = (folder.exists() and not os.access(folder, os.W_OK)) or \
            (self.path.exists() and not os.access(self.path, os.W_OK))
        return "it or its folder is read-only for this user" if read_only else _cause(exc)


_COLUMNS = "run_id, team, recipient, kind, status, at, detail, message_id"


def _cause(exc: Exception) -> str:
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        return "it or its folder is read-only for this user"
    if "disk" in text or "full" in text:
        return "the disk is full"
    if "not a database" in text or "malformed" in text:
        return "the file is not a readable ledger"
    return "it cannot be opened or changed"


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
