"""One run published once per worker, copied per test: the delivery, CRM and history tests
start from an archived brief without each making an analysis and a PDF."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from reporter.app.pipeline import run
from reporter.app.settings import load_config
from tests.support.project import new_project

TEAMS = [  # every team a test sends to; each test's config names the ones it sends to
    {"name": "Marketing", "recipients": ["anna@example.com", "ben@example.com"]},
    {"name": "Retention", "recipients": ["cara@example.com"], "personas": ["Churn Risk", "Low Engagement"],
     "subject": "Retention brief {{ date }}: {{ flags['Churn Risk'] }} to win back"},
    {"name": "Mixed", "recipients": ["ok@example.com", "refuse-me@example.com"]},
    {"name": "Gone", "recipients": ["refuse-all@example.com"]},
]


@dataclass(frozen=True)
class Published:
    """A project (config/, output/) holding one published run that nobody was sent yet."""

    root: Path
    run_id: str
    data: Path

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def folder(self) -> Path:
        (folder,) = [p for p in self.output.iterdir() if p.is_dir() and p.name[:2] == "20"]
        return folder

    @property
    def config(self) -> Path:
        return self.root / "config" / "reporter.yaml"

    @property
    def html(self) -> Path:
        return self.folder / "brief.html"

    @property
    def pdf(self) -> Path:
        return self.folder / "brief.pdf"

    @property
    def brief(self):
        """The run's Brief as brief.json keeps it (read again per call: a few milliseconds)."""
        from reporter.brief.view import read_brief

        return read_brief(self.folder)

    def record(self) -> dict:
        return json.loads((self.folder / "run.json").read_text())

    def copy_to(self, root: Path) -> Published:
        shutil.copytree(self.root, root, dirs_exist_ok=True)
        return Published(root, self.run_id, self.data)


def publish(root: Path, data: Path) -> Published:
    """A run whose every team has a send time (so the run itself sends nothing): its emails are
    built and archived, its delivery list empty, as a `send` or the scheduler then finds it."""
    teams = [{**team, "send_at": "07:00"} for team in TEAMS]
    result = run(load_config(new_project(root, data, teams=teams)))
    published = Published(root, result.run_id, data)
    assert published.record()["delivery"] == [] and result.deliveries == ()
    return published
