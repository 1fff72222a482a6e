"""The fault suite's shared pieces: one run published (and cut off before any email) once per
session and copied per test, a misbehaving SMTP server per test, and real `reporter`
processes killed at named points by a handshake (a marker file or the server's signal)."""

from __future__ import annotations

import json
import shutil
import socket
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from reporter.delivery.ledger import Ledger
from tests.conftest import QUICK, REPO_ROOT, run_folders, write_config
from tests.smtp_server import FaultyHandler, start_server
from tests.support.archive import Published as ArchivedProject
from tests.support.once import shared_folder
from tests.support.processes import kill, start, wait_until

__all__ = ["kill", "start", "wait_until"]  # where the fault tests import them

OWNER = "owner@example.com"
TEAMS = [{"name": "Marketing", "recipients": ["anna@example.com", "ben@example.com"]},
         {"name": "Retention", "recipients": ["cara@example.com"]}]
EVERYONE = Counter({"anna@example.com": 1, "ben@example.com": 1, "cara@example.com": 1})
MARKETING = Counter({"anna@example.com": 1, "ben@example.com": 1})


@dataclass(frozen=True)
class Published:
    output: Path
    run_id: str
    data: Path


@dataclass(frozen=True)
class Archive(ArchivedProject):
    """A copy of the published run for one test, with its config."""

    def configure(self, port: int, **sections) -> Path:
        return configure(self.root, port, self.data, **sections)

    def ledger(self) -> dict[str, str]:
        """Each recipient's latest brief status in the ledger."""
        if not (self.output / "ledger.sqlite").is_file():
            return {}
        rows = Ledger(self.output).rows(self.run_id)
        return {row.recipient: row.status for row in rows if row.kind == "brief"}


def configure(root: Path, port: int, data: Path, smtp: dict | None = None, **sections) -> Path:
    config_dir = root / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", config_dir / "personas.yaml")
    return write_config(
        config_dir / "reporter.yaml", source={"path": str(data)}, **QUICK, teams=TEAMS, owners=[OWNER],
        schedule={"cron": "0 7 1 1 *", "timezone": "UTC", "misfire_grace_hours": 1, "jobstore": None},
        smtp={"host": "127.0.0.1", "port": port, "security": "none", "from_address": "briefs@smartcart.test",
              "timeout_seconds": 1, "retries": 2, "backoff_seconds": 0.01, **(smtp or {})},
        **sections)


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> Published:
    """One `reporter run`, SIGKILLed after it published the run and before any email (when it
    connects to the mail server, which never answers), its ledger removed: the archive every
    fault test starts from (the analysis and the PDF are made once per session, by the first
    worker that needs them: tests/support/once.py)."""
    root, made = shared_folder(tmp_path_factory, "published",
                               lambda folder: {"run_id": _killed_after_publishing(folder, sample_csv),
                                               "data": str(sample_csv)})
    # the maker's sample: the run records its folder as the source, and serve and the
    # scheduler look runs up by the source the configuration names (another worker's copy
    # of the sample is another source: the run would be nobody's)
    return Published(root / "output", made["run_id"], Path(made["data"]))


def _killed_after_publishing(root: Path, sample_csv: Path) -> str:
    """The run ID of a `reporter run` in root/ killed as it first connects to the mail server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listener.settimeout(0.05)
        config = configure(root, listener.getsockname()[1], sample_csv)
        process = start("run", "--config", str(config))
        connections = []
        wait_until(lambda: _accepted(listener, connections), process)
        kill(process)
        for connection in connections:
            connection.close()
    (root / "output" / "ledger.sqlite").unlink(missing_ok=True)  # its claims were the dead process's
    (folder,) = run_folders(root / "output")
    assert json.loads((folder / "run.json").read_text())["delivery"] == []
    return _run_id(folder)


def _accepted(listener: socket.socket, connections: list) -> bool:
    try:
        connections.append(listener.accept()[0])
    except TimeoutError:
        return False
    return True


def _run_id(folder: Path) -> str:
    return json.loads((folder / "run.json").read_text())["run_id"]


@pytest.fixture
def archive(published: Published, tmp_path: Path) -> Archive:
    shutil.copytree(published.output, tmp_path / "output")
    return Archive(tmp_path, published.run_id, published.data)


@pytest.fixture
def faulty():
    """A misbehaving mail server for one test (normal until `fault` is set)."""
    handler = FaultyHandler(spared={OWNER})
    controller = start_server(handler)
    yield controller.port, handler
    handler.answer()  # a held answer must not keep the server's loop from stopping
    controller.stop()
