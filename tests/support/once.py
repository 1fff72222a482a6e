"""Something a whole test session reads, made by the first xdist worker that asks for it and
found by the others: `--dist loadgroup` starts one session per worker, so a session fixture
(an archived run, a published run killed before its email) was made once per worker."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

DONE = "made.json"  # written last: a folder without it was never finished


def shared_folder(factory: pytest.TempPathFactory, name: str,
                  make: Callable[[Path], dict]) -> tuple[Path, dict]:
    """The folder `name` made once by `make(folder)` (which returns what the other workers need
    to know about it, as JSON), under the run's basetemp that all workers share; without
    xdist, under this session's basetemp."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # popen-gw0/, popen-gw1/ ... share their parent
    folder = root / f"shared-{name}"
    with (root / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the others wait here while the first makes it
        done = folder / DONE
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed making it left this
            folder.mkdir(parents=True)
            done.write_text(json.dumps(make(folder)))
        return folder, json.loads(done.read_text())
