from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from datetime import datetime

import pandas as pd
import pytest

from reporter.app import pipeline
from reporter.app.settings import load_config
from reporter.archive import RunFolder, folder_name, new_run_id, remove_stale_partials
from tests.conftest import REPO_ROOT, archive_entries, run_folders, write_config
from tests.support.processes import WAIT_SECONDS, kill, start, stopped, wait_until

RUN_FILES = {"brief.html", "brief.pdf", "segments.csv", "run.json", "customers.csv"}


def test_folder_appears_only_when_published(tmp_path):
    with RunFolder(tmp_path, "2026-11-27-120000-abcd") as folder:
        folder.write_text("brief.html", "<p>hi</p>")
        assert not (tmp_path / "2026-11-27-120000-abcd").exists()
        final = folder.publish()
    assert final.is_dir() and (final / "brief.html").read_text() == "<p>hi</p>"
    assert archive_entries(tmp_path) == [final]


def test_failure_before_publish_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), RunFolder(tmp_path, "2026-11-27-120000-abcd") as folder:
        folder.write_text("brief.html", "half")
        raise RuntimeError("disk full")
    assert archive_entries(tmp_path) == []


def test_stale_partials_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".partial-2026-11-27-1-{dead}"
    stale.mkdir()
    alive = tmp_path / f".partial-2026-11-27-2-{os.getpid()}"
    alive.mkdir()
    assert remove_stale_partials(tmp_path) == [stale]
    assert alive.exists() and not stale.exists()


def test_run_ids_sort_by_time_and_differ():
    now = datetime(2026, 11, 27, 7, 0, 5)
    ids = {new_run_id(now) for _ in range(50)}
    assert len(ids) > 45
    assert folder_name(now, "070005-abcd") == "2026-11-27-070005-abcd"


def test_pipeline_failure_while_rendering_leaves_no_folder(project, monkeypatch):
    def broken_pdf(html: str) -> bytes:
        raise OSError("simulated failure while writing the PDF")

    monkeypatch.setattr(pipeline, "render_pdf", broken_pdf)
    with pytest.raises(OSError):
        pipeline.run(load_config(project / "config" / "reporter.yaml"))
    assert archive_entries(project / "output") == []


def test_run_folder_contents(project, sample_csv):
    config = write_config(project / "config" / "reporter.yaml", source={"path": str(sample_csv)},
                          stability={"resamples": 3}, comparison={"enabled": True})
    result = pipeline.run(load_config(config))
    assert RUN_FILES | {"email"} <= {p.name for p in result.folder.iterdir()}
    record = json.loads((result.folder / "run.json").read_text())
    assert record["run_id"] == result.run_id
    assert len(record["data"]["sha256"]) == 64 and len(record["config"]["sha256"]) == 64
    assert record["k"] == result.brief.model.k
    diagnostics = record["k_selection"]["diagnostics"]
    assert [d["k"] for d in diagnostics] == list(range(2, 11))
    assert {"inertia", "silhouette", "calinski_harabasz", "davies_bouldin"} <= set(diagnostics[0])
    assert record["stability"]["verdict"] and 0 <= record["stability"]["worst_ari"] <= 1
    assert [e["algorithm"] for e in record["comparison"]] == ["kmeans", "agglomerative", "gmm"]
    assert sum(p["customers"] for p in record["personas"].values()) == record["data"]["rows_read"]
    assert {"load", "segment", "pdf"} <= set(record["timings_seconds"])
    assert record["versions"]["scikit-learn"][0].isdigit()
    segments = pd.read_csv(result.folder / "segments.csv")
    assert list(segments.columns) == ["ID", "cluster", "persona", "flag_churn_risk", "run_id", "as_of"]
    assert set(segments["flag_churn_risk"]) <= {0, 1}
    assert segments["flag_churn_risk"].sum() == record["flags"]["Churn Risk"]["customers"]
    assert len(segments) == record["data"]["rows_read"]
    assert set(segments["persona"]) == set(record["personas"])
    flagged = segments["flag_churn_risk"] == 1
    assert sum(record["flags"]["Churn Risk"]["by_persona"].values()) == flagged.sum()


@pytest.mark.crash
@pytest.mark.parametrize("stage", ["load", "segment", "pdf", "publish"])
def test_sigkill_at_each_stage_leaves_a_consistent_archive(archived, tmp_path, stage):
    """Kill a real run as it enters a stage (load, fit, render, the archive rename): every
    visible run is complete, the index lists only those, and the next run succeeds. The run
    stops itself at the stage's fault point and says so in a file (reporter/delivery/faults.py),
    so the kill lands there however fast the machine is."""
    output, config, earlier = archived.output, archived.config, archived.folder  # a run archived
    data = archived.data  # the kill lands at the stage's fault point, however few the rows
    marker = tmp_path / "stopped"
    process = start("run", "--config", str(config), "--data", str(data), fault=f"stage-{stage}",
                    marker=marker)
    wait_until(lambda: stopped(marker), process)  # the handshake: it stopped there
    assert int(marker.read_text()) == process.pid
    kill(process)  # and asserts it died of the SIGKILL
    folders = run_folders(output)
    for entry in folders:
        assert {p.name for p in entry.iterdir()} >= RUN_FILES
    assert folders == [earlier]  # killed as the rename was about to happen: nothing new is visible
    index = (output / "index.html").read_text()
    assert archived.run_id in index and ".partial" not in index
    result = pipeline.run(load_config(config))
    assert [e for e in archive_entries(output) if e.name.startswith(".partial")] == []
    assert result.run_id in (output / "index.html").read_text()


def _small_file_limit():
    """In the child: files may not grow past 150 kB, as on a nearly full disk (EFBIG)."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))


@pytest.mark.e2e
def test_a_write_failure_while_archiving_fails_cleanly_and_keeps_earlier_runs(archived):
    project, config, earlier = archived.root, archived.config, archived.folder
    index_before = (project / "output" / "index.html").read_bytes()
    failed = subprocess.run([sys.executable, "-m", "reporter", "run", "--config", str(config)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                            preexec_fn=_small_file_limit)
    assert failed.returncode == 2, failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and "the run could not be written (File too large)" in lines[0]
    assert run_folders(project / "output") == [earlier]
    assert [e for e in archive_entries(project / "output") if e.name.startswith(".")] == []
    assert (project / "output" / "index.html").read_bytes() == index_before
    assert {p.name for p in earlier.iterdir()} >= RUN_FILES


@pytest.mark.e2e
def test_two_runs_at_once_both_finish_and_the_index_lists_both(project):
    config = project / "config" / "reporter.yaml"
    command = [sys.executable, "-m", "reporter", "run", "--config", str(config)]
    first = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert first.wait(timeout=300) == 0 and second.wait(timeout=300) == 0
    folders = run_folders(project / "output")
    assert len(folders) == 2 and folders[0].name != folders[1].name
    index = (project / "output" / "index.html").read_text()
    assert all(folder.name in index for folder in folders)
    assert [e for e in archive_entries(project / "output") if e.name.startswith(".")] == []


@pytest.mark.server
def test_a_run_started_while_another_runs_waits_and_each_team_gets_the_week_once(project, sample_csv,
                                                                                 server, monkeypatch):
    """The scheduler's run and a run by hand of the same export: both compared with the same
    brief (none), so both sent the week to every team. The second now waits for the first,
    then meets its brief as the baseline and holds the unchanged data (at most once a week)."""
    controller, handler = server
    config = write_config(project / "config" / "reporter.yaml", source={"path": str(sample_csv)},
                          stability={"resamples": 3}, comparison={"enabled": False},
                          teams=[{"name": "Marketing", "recipients": ["anna@example.com"]},
                                 {"name": "Retention", "recipients": ["cara@example.com"]}],
                          smtp={"host": "127.0.0.1", "port": controller.port, "security": "none",
                                "from_address": "briefs@smartcart.test", "retries": 1,
                                "backoff_seconds": 0.01, "timeout_seconds": 5},
                          checks={"unchanged_data": {"mode": "hold"}})
    monkeypatch.setenv("REPORTER_LOG_LEVEL", "info")  # the waiting line is an INFO line
    marker = project / "first.pid"
    first = start("run", "--config", str(config), fault="stage-load", marker=marker)
    wait_until(lambda: stopped(marker), first)  # the first holds the archive, before reading
    second = start("run", "--config", str(config))
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in second.stdout] + [lines.put("")],
                     daemon=True).start()
    said = ""
    try:
        while "another run of" not in said:  # the second says it waits (a handshake, not a pause)
            line = lines.get(timeout=WAIT_SECONDS)  # only a bound on a hung process
            assert line, f"the second run ended without waiting: {said}{second.stderr.read()}"
            said += line
    except (AssertionError, queue.Empty):
        kill(first)
        raise
    marker.unlink()  # the first goes on
    assert first.wait(timeout=300) == 0, first.communicate()
    assert second.wait(timeout=300) == 4, second.stderr.read()  # reporter.exits: held
    assert sorted(r for m in handler.messages for r in m.rcpt_tos) == ["anna@example.com", "cara@example.com"]
    records = [json.loads((f / "run.json").read_text()) for f in run_folders(project / "output")]
    assert sorted(r["status"] for r in records) == ["held", "ready"]
    held = next(r for r in records if r["status"] == "held")
    ready = next(r for r in records if r["status"] == "ready")
    assert held["baseline"] == ready["run_id"] and "unchanged" in json.dumps(held["held_because"]).lower()
