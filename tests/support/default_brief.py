"""The sample's brief with the shipped analysis settings (ten stability refits, the method
comparison) and the shipped teams, made once per test session by the first worker that asks
(tests/support/once.py) and read by the others: tests/test_brief_pages.py reads its PDF,
tests/test_browser.py its HTML, email preview and API docs. Both made this same run before,
one with teams and one without; the brief does not depend on the teams (they only get the
emails), so one run serves both."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

from tests.support.once import shared_folder
from tests.support.project import REPO_ROOT, write_config


@dataclass(frozen=True)
class DefaultBrief:
    """A project (config/, output/) holding the one run."""

    root: Path
    folder: Path

    @property
    def html(self) -> Path:
        return self.folder / "brief.html"

    @property
    def pdf(self) -> Path:
        return self.folder / "brief.pdf"

    @cached_property
    def brief(self):
        """The run's Brief as brief.json keeps it (what the run returned, read back)."""
        from reporter.brief.view import read_brief

        return read_brief(self.folder)

    def copy_to(self, root: Path) -> DefaultBrief:
        """A copy for a test that starts servers or commands on the project."""
        shutil.copytree(self.root, root, dirs_exist_ok=True)
        return DefaultBrief(root, root / self.folder.relative_to(self.root))


def default_brief(factory: pytest.TempPathFactory, data: Path) -> DefaultBrief:
    root, made = shared_folder(factory, "default-brief", lambda folder: _make(folder, data))
    return DefaultBrief(root, root / made["folder"])


def _make(root: Path, data: Path) -> dict:
    from reporter.app.pipeline import run
    from reporter.app.settings import load_config

    (root / "config").mkdir()
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", root / "config" / "personas.yaml")
    config = write_config(root / "config" / "reporter.yaml", source={"path": str(data)})
    result = run(load_config(config))
    return {"folder": str(result.folder.resolve().relative_to(root.resolve()))}
