"""`reporter serve` in a child process, for the API tests and the load benchmark: started as
a user starts it, ready when its 'listening' log line (written once the socket listens) comes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx2
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
READ, ASSIGN = "read-token-0123456789abcdef", "assign-token-0123456789abcdef"
TOKENS = [{"env": "API_READ_TOKEN", "scopes": ["read"]}, {"env": "API_ASSIGN_TOKEN", "scopes": ["assign"]}]


class Server:
    """`reporter serve` in a child process; its log lines are collected as they come, and the
    'listening' line (written once the socket listens) is the start-up handshake."""

    def __init__(self, config: Path, *args: str):
        env = {**os.environ, "API_READ_TOKEN": READ, "API_ASSIGN_TOKEN": ASSIGN}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reporter", "serve", "--config", str(config), "--port", "0", *args],
            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.listening = threading.Event()
        self._arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.listening.wait(timeout=120), "".join(self.lines)
        port = next(json.loads(line)["port"] for line in self.lines if '"listening"' in line)
        self.url = f"http://127.0.0.1:{port}"

    def _read(self) -> None:
        for line in self.process.stderr:
            with self._arrived:
                self.lines.append(line)
                self._arrived.notify_all()
            if '"event": "listening"' in line:
                self.listening.set()

    def wait_for_line(self, wanted, timeout: float = 60) -> str:
        """The first log line for which `wanted(line)` holds, waiting for it to be written (the
        server logs a request before the client reads its answer, but the pipe may lag)."""
        with self._arrived:
            found = self._arrived.wait_for(lambda: next((x for x in self.lines if wanted(x)), None),
                                           timeout=timeout)
        assert found, "".join(self.lines[-20:])
        return found

    def client(self, token: str | None = None) -> httpx2.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.Client(base_url=self.url, headers=headers, timeout=120)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def customer_rows(table: pd.DataFrame) -> list[dict]:
    """The export's rows as JSON customers: numbers as numbers, an unknown income as null."""
    rows = []
    for record in table.to_dict(orient="records"):
        customer = {}
        for column, value in record.items():
            if column == "Dt_Customer":
                day, month, year = value.split("-")
                customer[column] = f"{year}-{month}-{day}"
            elif column in ("Education", "Marital_Status"):
                customer[column] = value
            else:
                customer[column] = None if value == "" else float(value) if column == "Income" else int(value)
        rows.append(customer)
    return rows
