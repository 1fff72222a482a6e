"""The delivery ledger: one row per run, team and recipient (or CRM target) in
`<output>/ledger.sqlite`.

A recipient is *claimed* in a write transaction before anything is sent, and a unique index
allows one live claim or sent copy of a run's brief per recipient. However many schedulers,
restarts, catch-ups or `reporter send`s race, each recipient gets one copy; only
`reporter send --force` sends again, and that is recorded as its own row. A claim left by a
process that died before the server answered is marked failed (interrupted) and may be sent
again: the window is the length of one SMTP conversation.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reporter.archive import process_alive

LEDGER_FILE = "ledger.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    team TEXT NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,          -- brief, forced (send --force), notice (to owners),
                                 -- push (a CRM target; recipient crm:<name>) or push-again
    status TEXT NOT NULL,        -- claimed, sent or failed
    at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL,
    pid INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_copy_per_recipient
    ON deliveries (run_id, recipient) WHERE kind = 'brief' AND status IN ('claimed', 'sent');
CREATE UNIQUE INDEX IF NOT EXISTS one_push_per_target
    ON deliveries (run_id, recipient) WHERE kind = 'push' AND status IN ('claimed', 'sent');
"""


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
    def __init__(self, output_dir: Path):
        output_dir.mkdir(parents=True, exist_ok=True)
        self.path = output_dir / LEDGER_FILE
        with closing(self._connect()) as db, db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def claim(self, run_id: str, team: str, recipients: Iterable[str], kind: str = "brief") -> list[str]:
        """The recipients this process may send the run's brief (or push it) to: those without
        a live claim or a sent copy (all of them for the kinds that repeat by hand: forced,
        push-again)."""
        claimed = []
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")  # one claimer at a time, across processes
            self._fail_dead_claims(db)
            for recipient in recipients:
                try:
                    db.execute("INSERT INTO deliveries (run_id, team, recipient, kind, status, at, "
                               "host, pid) VALUES (?, ?, ?, ?, 'claimed', ?, ?, ?)",
                               (run_id, team, recipient, kind, _now(), socket.gethostname(), os.getpid()))
                    claimed.append(recipient)
                except sqlite3.IntegrityError:
                    continue  # already claimed or sent by someone
            db.execute("COMMIT")
        return claimed

    def settle(self, run_id: str, recipients: Iterable[str], status: str, detail: str = "",
               message_id: str = "") -> None:
        """Record how this process's claims ended: sent or failed (with the server's reply)."""
        with closing(self._connect()) as db, db:
            for recipient in recipients:
                db.execute("UPDATE deliveries SET status = ?, detail = ?, message_id = ?, at = ? "
                           "WHERE run_id = ? AND recipient = ? AND status = 'claimed' AND pid = ? "
                           "AND host = ?",
                           (status, detail, message_id, _now(), run_id, recipient, os.getpid(),
                            socket.gethostname()))

    def note(self, run_id: str, team: str, recipient: str, kind: str, status: str, detail: str = "",
             message_id: str = "") -> None:
        """A row that claims nothing (owner notices)."""
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO deliveries (run_id, team, recipient, kind, status, at, detail, "
                       "message_id, host, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (run_id, team, recipient, kind, status, _now(), detail, message_id,
                        socket.gethostname(), os.getpid()))

    def rows(self, run_id: str | None = None) -> list[LedgerRow]:
        query = ("SELECT run_id, team, recipient, kind, status, at, detail, message_id FROM deliveries"
                 + (" WHERE run_id = ?" if run_id else "") + " ORDER BY id")
        with closing(self._connect()) as db:
            return [LedgerRow(*row) for row in db.execute(query, (run_id,) if run_id else ())]

    @staticmethod
    def _fail_dead_claims(db: sqlite3.Connection) -> None:
        here = socket.gethostname()
        for row_id, pid in db.execute("SELECT id, pid FROM deliveries WHERE status = 'claimed' "
                                      "AND host = ?", (here,)).fetchall():
            if not process_alive(pid):
                db.execute("UPDATE deliveries SET status = 'failed', detail = 'interrupted before "
                           "the mail server answered' WHERE id = ?", (row_id,))


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
