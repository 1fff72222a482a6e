"""The sample's brief with the shipped analysis settings (ten stability refits, the method
comparison) and the shipped teams, made once per test session by the first worker that asks
(tests/support/once.py) and read by the others: tests/test_brief_pages.py reads its PDF,
tests/test_browser.py its HTML, email preview and API docs. Both made this same run before,
one with teams and one without; the brief does not depend on the teams (they only get the
emails), so one run serves both."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.archive import Published
from tests.support.once import shared_folder
from tests.support.project import REPO_ROOT, write_config


def default_brief(factory: pytest.TempPathFactory, data: Path) -> Published:
    root, made = shared_folder(factory, "default-brief", lambda folder: _make(folder, data))
    return Published(root, made["run_id"], Path(made["data"]))  # the maker's sample


def _make(root: Path, data: Path) -> dict:
    from reporter.app.pipeline import run
    from reporter.app.settings import load_config

    (root / "config").mkdir()
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", root / "config" / "personas.yaml")
    config = write_config(root / "config" / "reporter.yaml", source={"path": str(data)})
    return {"run_id": run(load_config(config)).run_id, "data": str(data)}
