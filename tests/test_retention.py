"""Retention that never surprises: a run not yet delivered, the newest run's baseline and the
run the API serves are kept; every run pruned (or kept beyond the limit) is printed in one
line; `archive prune --dry-run` deletes nothing."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from reporter.app.pipeline import run
from reporter.app.settings import load_config
from reporter.data import sample
from reporter.history.catalogue import RunSummary
from reporter.history.record import DataRecord, DeliveryEntry, RunRecord
from reporter.history.retention import plan_prune
from tests.conftest import QUICK, run_folders, run_main, write_config
from tests.support.briefed import briefed_once

WEEK = 7


@pytest.fixture(scope="module")
def four_runs(tmp_path_factory, sample_csv):
    """A (delivered: the sample's first brief, copied: tests/support/briefed.py), B (A's file
    a month old: held), C and D (the customers a week and two weeks later: delivered). The
    later files are dropped beside A's: the same source."""
    first = briefed_once(tmp_path_factory, sample_csv)
    root = first.copy_to(tmp_path_factory.mktemp("retention") / "project").root
    drop = first.data.parent
    weeks = [pd.read_csv(first.data)]
    for week in range(3):
        weeks.append(sample.age(weeks[-1], WEEK, seed=42 + week))
    files = [sample.write(frame, drop / f"retention-week{n + 2}.csv") for n, frame in enumerate(weeks[1:])]
    stale = Path(shutil.copy(first.data, drop / "retention-stale.csv"))
    month_ago = time.time() - 30 * 86400
    os.utime(stale, (month_ago, month_ago))
    config_path = write_config(root / "config" / "reporter.yaml", source={"path": str(first.data)},
                               **QUICK)
    config = load_config(config_path)
    later = [run(config, data=data) for data in (stale, files[0], files[1])]
    held = [first.record()["status"] == "held", *(r.checks.held for r in later)]
    assert held == [False, True, False, False]
    return root, [first.folder.name, *(r.folder.name for r in later)], files[2]


def _copy(four_runs, tmp_path: Path, **history) -> tuple[Path, list]:
    root, names, _ = four_runs
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    config = copy / "config" / "reporter.yaml"
    if history:
        _set_history(config, history)
    return config, [copy / "output" / name for name in names]


def _set_history(config: Path, history: dict) -> None:
    document = yaml.safe_load(config.read_text())
    document["history"].update(history)
    config.write_text(yaml.safe_dump(document, sort_keys=False))


def _listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*"))


def test_retention_keeps_a_held_run_and_prints_each_run_it_prunes(four_runs, tmp_path):
    config, (a, b, c, d) = _copy(four_runs, tmp_path, retention_runs=2)
    week4 = four_runs[2]
    made = run_main("run", "--config", str(config), "--data", str(week4))
    assert made.returncode == 0, made.stderr
    (e,) = [f for f in run_folders(config.parent.parent / "output") if f not in (a, b, c, d)]
    assert run_folders(config.parent.parent / "output") == sorted([b, d, e]), \
        "the held run B and the newest two are kept"
    lines = made.stdout.splitlines()
    a_id, b_id, c_id = (f.name[11:] for f in (a, b, c))
    assert f"Pruned run {c_id} ({c.name[:10]}): beyond the newest 2 runs (history.retention_runs)" in lines
    assert f"Pruned run {a_id} ({a.name[:10]}): beyond the newest 2 runs (history.retention_runs)" in lines
    assert (f"Kept run {b_id} ({b.name[:10]}): held, never released; history.prune_undelivered "
            "is false") in lines


def test_prune_dry_run_deletes_nothing_and_prune_says_why_each_run_goes_or_stays(four_runs, tmp_path):
    config, (a, b, c, d) = _copy(four_runs, tmp_path)
    output = config.parent.parent / "output"
    before = _listing(output)
    index = (output / "index.html").read_bytes()
    dry = run_main("archive", "prune", "--keep", "1", "--dry-run", "--config", str(config))
    assert dry.returncode == 0, dry.stderr
    assert _listing(output) == before and (output / "index.html").read_bytes() == index
    a_id, b_id, c_id, d_id = (f.name[11:] for f in (a, b, c, d))
    assert dry.stdout.splitlines() == [
        f"Would prune run {a_id} ({a.name[:10]}): beyond the newest 1 run (--keep 1)",
        f"Kept run {c_id} ({c.name[:10]}): the baseline of the newest run {d_id}",
        f"Kept run {b_id} ({b.name[:10]}): held, never released; history.prune_undelivered is false",
        "Dry run, nothing deleted: would remove 1 run(s); kept the newest 1 and 2 older one(s).",
    ]

    _set_history(config, {"prune_undelivered": True})
    dry = run_main("archive", "prune", "--keep", "1", "--dry-run", "--config", str(config))
    assert (f"Would prune run {b_id} ({b.name[:10]}): beyond the newest 1 run (--keep 1); held, never "
            "released (history.prune_undelivered is true)") in dry.stdout.splitlines()
    assert _listing(output) == before

    _set_history(config, {"prune_undelivered": False})
    pruned = run_main("archive", "prune", "--keep", "1", "--config", str(config))
    assert pruned.returncode == 0, pruned.stderr
    assert f"Pruned run {a_id} ({a.name[:10]}): beyond the newest 1 run (--keep 1)" in pruned.stdout
    assert run_folders(output) == [b, c, d]
    assert a.name not in (output / "index.html").read_text(), "the index no longer links it"


def _summary(tmp_path: Path, run_id: str, day: int, **fields) -> RunSummary:
    folder = tmp_path / f"2026-11-{day:02d}-{run_id}"
    folder.mkdir()
    (folder / "customers.csv").write_text("ID\n1\n")
    record = RunRecord(run_id=run_id, started_at=f"2026-11-{day:02d}T07:00:00+00:00",
                       as_of=f"2014-06-{day:02d}", data=DataRecord(source_key="drop"), **fields)
    return RunSummary(folder, record)


def test_each_kind_of_undelivered_run_is_kept_and_a_dry_run_is_not(tmp_path):
    sent = (DeliveryEntry("Marketing", "sent"),)
    teams = ("Marketing", "Retention")

    def retention(status: str) -> tuple[DeliveryEntry, ...]:
        return (*sent, DeliveryEntry("Retention", status))

    runs = [  # newest first
        _summary(tmp_path, "070000-000e", 25, status="held", held_because=("same data",)),
        _summary(tmp_path, "070000-000d", 24, teams=teams, delivery=retention("sent")),
        _summary(tmp_path, "070000-000c", 23, teams=teams, delivery=sent),  # Retention never sent
        _summary(tmp_path, "070000-000b", 22, teams=teams, dry_run=True,
                 delivery=(DeliveryEntry("Marketing", "written"), DeliveryEntry("Retention", "written"))),
        _summary(tmp_path, "070000-000a", 21, teams=teams, delivery=retention("failed")),
        _summary(tmp_path, "070000-0009", 20, teams=teams, delivery=retention("sent")),
    ]
    plan = plan_prune(runs, 1, False, "--keep 1")
    assert plan.lines() == [
        "Pruned run 070000-000b (2026-11-22): beyond the newest 1 run (--keep 1)",
        "Pruned run 070000-0009 (2026-11-20): beyond the newest 1 run (--keep 1)",
        "Kept run 070000-000d (2026-11-24): the newest delivered run: the next run compares with it "
        "and reporter serve answers from it",
        "Kept run 070000-000c (2026-11-23): not delivered: Marketing: sent, Retention: not sent; "
        "history.prune_undelivered is false",
        "Kept run 070000-000a (2026-11-21): not delivered: Marketing: sent, Retention: failed; "
        "history.prune_undelivered is false",
    ]
    assert [v.run_id for v in plan_prune(runs, 1, True, "--keep 1").kept] == ["070000-000d"]
