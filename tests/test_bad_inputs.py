"""Every bad file ends one of two ways: exit 2 with a one-line message naming the problem and
nothing archived, or a brief whose data notes show the repair. Never a traceback."""

from __future__ import annotations

import json

import pytest

from reporter.app.cli import main
from tests.bad_inputs import CASES
from tests.conftest import archive_entries, run_folders


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
