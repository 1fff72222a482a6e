"""The sample's first brief, made once per test session and copied per test: a run addressed to
no team, so it is settled as soon as it is published and is the baseline the next run of its
project is compared with and scored by. Tests whose first run only sets up that baseline (a
rules edit, a held week, another source, retention) start from a copy instead of a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from reporter.app.pipeline import run
from reporter.app.settings import load_config
from tests.support.archive import Published
from tests.support.once import shared_folder
from tests.support.project import new_project


def make_briefed(root: Path, data: Path) -> Published:
    """One run of `data` with the quick settings and no teams (tests/support/project.py)."""
    result = run(load_config(new_project(root, data, teams=[])))
    briefed = Published(root, result.run_id, data)
    assert briefed.record()["status"] == "ready" and result.deliveries == ()
    return briefed


def briefed_once(factory: pytest.TempPathFactory, sample_csv: Path) -> Published:
    """That run of the 600-customer sample, made by the first xdist worker that asks for it
    (tests/support/once.py). Its project reads the maker's sample: a later week of a copy must
    read the same file to be the same source."""
    root, made = shared_folder(factory, "briefed",
                               lambda folder: {"run_id": make_briefed(folder, sample_csv).run_id,
                                               "data": str(sample_csv)})
    return Published(root, made["run_id"], Path(made["data"]))
