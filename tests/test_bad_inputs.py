"""Every bad file ends one of two ways: exit 2 with a one-line message naming the problem and
nothing archived, or a brief whose data notes show the repair. Never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reporter.app.cli import main
from reporter.data import sample
from tests.bad_inputs import CASES
from tests.conftest import QUICK, archive_entries, run_folders, write_config


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, project, tmp_path, capsys):
    data = case.write(tmp_path)
    code = main(["run", "--config", str(project / "config" / "reporter.yaml"), "--data", str(data)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert code == case.exit_code, captured.err
    if code == 2:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and case.expect in lines[0], lines
        assert archive_entries(project / "output") == [], "nothing half-written"
    else:
        (folder,) = run_folders(project / "output")
        notes = json.loads((folder / "run.json").read_text())["data_notes"]["notes"]
        assert any(case.expect in note["text"] for note in notes), notes
        assert case.expect.split(" (")[0][:20] in (folder / "brief.html").read_text()


# Started by a small Python that waits for it: a process's peak memory (ru_maxrss) keeps the
# high-water mark of the process it was forked from (Linux carries it over exec), so a child
# of a test worker that holds a gigabyte would report a gigabyte whatever it used itself.
MEASURE = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _measured(argv: list[str], cwd: Path) -> tuple[int, str, int]:
    """A real `python ...` process: its exit code, its stderr and its own peak memory (KiB,
    from wait4 in a small parent of its own, so neither this test worker nor any other child
    counts)."""
    with tempfile.TemporaryFile("w+") as err:
        waiter = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, *argv], cwd=cwd,
                                stdout=subprocess.PIPE, stderr=err, text=True, check=True)
        code, peak = (int(word) for word in waiter.stdout.split())
        err.seek(0)
        return code, err.read(), peak


@pytest.mark.e2e
def test_a_50_mb_cell_is_refused_at_load_without_gigabytes(project, tmp_path):
    """One 50 MB Education value once ran for 134 s and 5.5 GB and was copied whole into
    run.json, brief.json and brief.html; it is refused by load, within a few hundred MB."""
    table = sample.generate(300, seed=99).astype({"Education": str})
    table.loc[7, "Education"] = "A" * 50_000_000
    data = sample.write(table, tmp_path / "cell.csv")
    code, err, peak_kib = _measured(["-m", "reporter", "run", "--config",
                                     str(project / "config" / "reporter.yaml"), "--data", str(data)],
                                    project)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "column Education: 1 value(s) longer than 200 characters, first at line 9" in lines[0]
    assert len(lines[0]) < 500, "the value itself is not copied into the message"
    assert peak_kib < 1024 * 1024, f"{peak_kib / 1024:.0f} MiB"
    assert archive_entries(project / "output") == []


# A Python without PySpark, as far as imports go: the real CLI in a real process, the
# installed PySpark hidden by a meta-path finder before reporter is imported.
WITHOUT_PYSPARK = """
import runpy, sys

class NoPySpark:
    def find_spec(self, name, path=None, target=None):
        if name == "pyspark" or name.startswith("pyspark."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoPySpark())
runpy.run_module("reporter", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("command", [["run"], ["validate", "--data"], ["personas", "preview"]],
                         ids=" ".join)
def test_engine_spark_without_pyspark_says_what_to_install(project, sample_csv, command):
    """docs/operations/spark.md: without PySpark, `engine: spark` is one line saying what to
    install; it was an 'unexpected failure (a bug ...)' with ModuleNotFoundError. No JVM is started."""
    config = write_config(project / "config" / "reporter.yaml", source={"path": str(sample_csv)},
                          engine="spark", spark={"master": "local[2]"},
                          **QUICK)
    code, err, _ = _measured(["-c", WITHOUT_PYSPARK, *command, "--config", str(config)], project)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0] == ("reporter: error: engine: spark needs PySpark: pip install "
                        "'smartcart-reporter[spark]' (or set engine: local)")
    assert archive_entries(project / "output") == []
