"""Writes tests/data/model-v2/: a model artefact made by this version from generated customers,
with those customers and the segments their run gave them. The suite scores them again from
the committed JSON, so a change that breaks old artefacts fails a test.

    python -m tests.model_fixture            # rewrite it (only when the format changes)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from reporter.app.cli import main as reporter
from reporter.data import sample
from tests.conftest import QUICK, REPO_ROOT, run_folders, write_config

FIXTURE = REPO_ROOT / "tests" / "data" / "model-v2"
ROWS, SEED = 400, 2026


def write_fixture(target: Path = FIXTURE) -> Path:
    with tempfile.TemporaryDirectory() as work:
        project = Path(work)
        (project / "config").mkdir()
        shutil.copy(REPO_ROOT / "config" / "personas.yaml", project / "config" / "personas.yaml")
        data = sample.write(sample.generate(ROWS, seed=SEED), project / "customers.csv")
        config = write_config(project / "config" / "reporter.yaml", source={"path": str(data)},
                              **QUICK, teams=[])
        if reporter(["run", "--config", str(config)]) != 0:
            raise SystemExit("the run failed")
        (run,) = run_folders(project / "output")
        target.mkdir(parents=True, exist_ok=True)
        for name in ("model.json", "segments.csv"):
            shutil.copy(run / name, target / name)
        shutil.copy(data, target / "customers.csv")
    return target


if __name__ == "__main__":
    print(write_fixture(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE))
