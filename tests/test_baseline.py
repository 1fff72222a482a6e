"""The right baseline, always: runs belong to a source, only briefs people received are
compared against, a rules edit is not drift, and 'slipped' means newly."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from reporter.app.cli import main
from reporter.brief.index import share_points
from reporter.data import sample
from reporter.history.catalogue import RunSummary
from reporter.history.record import PersonaFigures, RunRecord
from reporter.history.weekly import slipped
from tests.conftest import QUICK, run_folders, run_main, write_config
from tests.support.archive import Published
from tests.support.briefed import briefed_once


def _config(project: Path, data: Path, **sections) -> Path:
    return write_config(project / "config" / "reporter.yaml", source={"path": str(data)},
                        **QUICK, teams=[], **sections)


def _run(config: Path, *extra: str) -> dict:
    """One in-process `reporter run`; the new run's run.json, with its folder."""
    output = config.parent.parent / "output"
    before = set(run_folders(output))
    assert main(["run", "--config", str(config), *extra]) in (0, 4)  # 4: held (reporter.exits)
    (folder,) = set(run_folders(output)) - before
    return json.loads((folder / "run.json").read_text()) | {"folder": folder}


@pytest.fixture
def briefed(tmp_path_factory, sample_csv, tmp_path) -> Published:
    """A copy of the sample's first brief, made once per session (tests/support/briefed.py):
    the first run of the tests below only sets up the baseline the later runs meet."""
    return briefed_once(tmp_path_factory, sample_csv).copy_to(tmp_path / "briefed")


def _first(briefed: Published, **sections) -> tuple[Path, dict]:
    """The copy's config with these sections, and its run's run.json, with its folder."""
    return _config(briefed.root, briefed.data, **sections), briefed.record() | {"folder": briefed.folder}


@pytest.fixture(scope="module")
def demo_then_real(tmp_path_factory, sample_csv, real_table):
    """Generated data briefed in one folder, as `make demo` leaves a project (the sample's
    first brief, copied: tests/support/briefed.py), then the real table from another (made
    once: the tests only read it)."""
    demo = briefed_once(tmp_path_factory, sample_csv).copy_to(tmp_path_factory.mktemp("demo_then_real"))
    config, first = _first(demo)
    real = _run(config, "--data", str(real_table))
    again = _run(config, "--data", str(real_table))
    return config, first, real, again


def test_the_first_real_brief_is_fitted_on_its_own_data(demo_then_real):
    config, demo, real, _ = demo_then_real
    assert demo["data"]["source_key"] != real["data"]["source_key"]
    model = real["model"]
    assert model["action"] == "fitted"
    # "no saved model in the archive yet" was said beside the demo's saved model
    assert model["reason"] == (
        f'no saved model of this customer source ("{real["data"]["source_key"]}") yet; the '
        f'archive\'s models are of "{demo["data"]["source_key"]}" (a source is its data file\'s '
        "folder unless source.name in reporter.yaml names it)")
    assert model["alignment"] is None and model["drift"] is None and real["baseline"] == ""
    html = (real["folder"] / "brief.html").read_text()
    assert "carried over" not in html and "continues as segment" not in html
    assert "The first brief of this customer source that was delivered" in html
    index = (config.parent.parent / "output" / "index.html").read_text()
    assert index.count('<section class="source">') == 2
    assert "2 customer sources" in index


def test_a_second_run_on_the_same_table_changes_nothing(demo_then_real):
    _, _, real, again = demo_then_real
    assert again["baseline"] == real["run_id"]
    assert again["model"]["action"] == "scored" and again["model"]["fitted_in_run"] == real["run_id"]
    change = again["week_over_week"]
    assert change["previous_run_id"] == real["run_id"]
    assert change["slipped"] == 0 and change["new_customers"] == 0 and change["gone_customers"] == 0
    folder = again["folder"]
    assert len(pd.read_csv(folder / "changes" / "slipped.csv")) == 0
    assert len(pd.read_csv(folder / "changes" / "new_churn_risk.csv")) == 0
    for name, figures in again["personas"].items():
        assert figures["share"] == real["personas"][name]["share"]
    assert "0 new this week" in (folder / "brief.html").read_text()


def test_a_persona_added_is_a_rules_change_not_drift_and_replay_agrees(briefed, tmp_path):
    config, first = _first(briefed)  # the sample briefed before the rules edit
    personas = config.parent / "personas.yaml"
    personas.write_text(personas.read_text().replace("personas:\n", """personas:
  - name: Regulars
    description: Everyone with a regular income whom no other persona names.
    color: "#aa3377"
    priority: 4
    rules:
      all: ["income >= 0.5x population"]
    actions: ["Keep them informed."]
""", 1))
    assert run_main("validate", "--config", str(config)).returncode == 0
    preview = run_main("personas", "preview", "--config", str(config))
    assert preview.returncode == 0 and f"Persona rules changed since run {first['run_id']}" in preview.stdout
    replayed = run_main("personas", "replay", "--config", str(config), "--run", first["run_id"],
                        "--out", str(tmp_path / "replay.csv"))
    assert replayed.returncode == 0, replayed.stderr
    second = _run(config)
    model = second["model"]
    assert model["action"] == "scored" and model["fitted_in_run"] == first["run_id"]
    # Steady Shoppers emptied because the rules renamed its customers: no hold for that
    assert second["status"] == "ready", second["held_because"]
    assert "Steady Shoppers" in first["personas"] and "Steady Shoppers" not in second["personas"]
    # the persona mix is measured under the new rules: a rename is no drift (issue 31)
    assert model["drift"]["persona mix"]["psi"] < 0.01
    change = model["rule_change"]
    moved = sum(count for _, _, count in change["moves"])
    assert moved > 0 and change["since_run"] == first["run_id"]
    assert all(after == "Regulars" for _, after, _ in change["moves"])
    assert f"{moved:,} customers would be named differently." in replayed.stdout
    for before, after, count in change["moves"]:
        assert f"  {before} -> {after}: {count:,}" in replayed.stdout
        assert f"  {before} -> {after}: {count:,} customers" in preview.stdout
    rows = pd.read_csv(tmp_path / "replay.csv")
    assert int((rows["persona_before"] != rows["persona_after"]).sum()) == moved
    html = (second["folder"] / "brief.html").read_text()
    assert f"Persona rules changed since run {first['run_id']}: {moved:,} customers now named" in html


def test_a_held_brief_is_never_a_baseline(briefed, tmp_path):
    """The first week is the shared first brief (copied): it has no run before it, so the
    share check it would have run with this config had nothing to hold it for."""
    config, first = _first(briefed, checks={"share_move": {"mode": "hold", "max_points": 0.01}})
    sample_csv = briefed.data  # later weeks are dropped beside it: the same source
    week2 = sample.write(sample.age(pd.read_csv(sample_csv), 30, seed=5), tmp_path / "w" / "week2.csv")
    week3 = sample.write(sample.age(pd.read_csv(week2), 30, seed=6), tmp_path / "w" / "week3.csv")
    shutil.copy(week2, sample_csv.parent / "held.csv")
    held = _run(config, "--data", str(sample_csv.parent / "held.csv"))
    assert held["status"] == "held" and held["baseline"] == first["run_id"]
    third = _run(config, "--data", str(week3.replace(sample_csv.parent / "week3.csv")))
    assert third["baseline"] == first["run_id"], "the held run is not a baseline"
    assert third["week_over_week"]["previous_run_id"] == first["run_id"]
    html = (third["folder"] / "brief.html").read_text()
    assert f"Compared with the brief of run {first['run_id']}" in html
    # a held run nobody released stayed "held" in the list for good, as if still to decide on
    # "has been sent since" read wrong where the newer customers' run was sent first
    behind = (f"never released, and run {third['run_id']}, of newer customers (as of {third['as_of']}), "
              "was sent")
    assert run_main("release", "--config", str(config), third["run_id"]).returncode == 0  # held too
    listed = run_main("archive", "list", "--config", str(config))
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert listed.returncode == 0 and behind in lines[held["run_id"]], listed.stdout
    assert "never released" not in lines[first["run_id"]] + lines[third["run_id"]]
    # addressed to nobody (teams: []): "not sent" beside "the newest brief ... that was delivered"
    assert lines[first["run_id"]].endswith("[no teams to send to]"), lines[first["run_id"]]
    assert "the newest brief of this source that was published (it had no teams to send to)" in html
    index = (third["folder"].parent / "index.html").read_text()
    assert index.count("never released") == 1 and behind in index
    refused = run_main("release", "--config", str(config), held["run_id"])  # would send older figures
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and (
        f"is older than run {third['run_id']} (as of {third['as_of']}), which the teams have had since"
        in refused.stderr) and "--older" in refused.stderr, refused.stderr
    assert run_main("release", "--config", str(config), held["run_id"], "--older").returncode == 0
    assert json.loads((held["folder"] / "run.json").read_text())["status"] == "released"


def test_a_dry_run_is_compared_with_but_never_against(project, sample_csv):
    config = _config(project, sample_csv)
    first = _run(config, "--dry-run")
    second = _run(config)
    assert first["dry_run"] is True and second["baseline"] == ""
    third = _run(config)
    assert third["baseline"] == second["run_id"]


def test_assign_scores_with_the_model_of_the_configured_source(demo_then_real, tmp_path):
    config, own, _, _ = demo_then_real  # the configured source's own run
    # the real table's two runs after it are newer, but another source
    out = tmp_path / "assigned.csv"
    done = run_main("assign", "--config", str(config), "--data", own["data"]["path"], "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert own["folder"].name in done.stdout
    assert set(pd.read_csv(out)["run_id"]) == {own["run_id"]}


def _frame(rows: list[tuple[int, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["ID", "persona", "flag_churn_risk"]).assign(total_spending=100.0)


def test_slipped_means_newly():
    before = _frame([(1, "Premium", 0), (2, "Premium", 1), (3, "Premium", 0), (4, "Steady", 0)])
    now = _frame([(1, "Premium", 1), (2, "Premium", 1), (3, "Low Engagement", 0), (4, "Steady", 1)])
    result = slipped(before, now, ["Churn Risk"], ("Premium",), ("Churn Risk", "Low Engagement"))
    assert list(result["ID"]) == [1, 3], "2 carried the flag last week; 4 was not valuable"
    assert list(result["now"]) == ["Churn Risk", "Low Engagement"]


def test_the_index_draws_one_point_per_data_date_from_delivered_runs(tmp_path):
    def summary(run_id, as_of, started, shares, status="ready"):
        record = RunRecord(run_id=run_id, as_of=as_of, started_at=started, status=status,
                           personas={name: PersonaFigures(share=share) for name, share in shares.items()})
        return RunSummary(tmp_path / run_id, record)

    runs = [summary("a", "2014-06-29", "2026-11-01T07:00", {"Premium": 0.2}),
            summary("b", "2014-06-29", "2026-11-02T07:00", {"Premium": 0.3}),  # same date, newer
            summary("c", "2014-07-06", "2026-11-03T07:00", {"Premium": 0.9}, status="held"),
            summary("d", "2014-07-13", "2026-11-04T07:00", {"Premium": 0.25, "VIP": 0.1})]
    labels, series = share_points(runs)
    assert labels == ["2014-06-29", "2014-07-13"]
    values = {line.label: line.values for line in series}
    assert values["Premium"] == [0.3, 0.25]
    assert math.isnan(values["VIP"][0]) and values["VIP"][1] == 0.1, "no 0% before it existed"


def test_a_run_is_a_baseline_only_once_every_team_it_is_addressed_to_has_an_outcome():
    from reporter.history.record import DeliveryEntry

    def record(teams, *entries, **fields) -> RunRecord:
        return RunRecord("070000-ab12", teams=teams, delivery=tuple(DeliveryEntry(t, s) for t, s in entries),
                         **fields)

    two = ("Marketing", "Retention")
    assert not record(two).is_baseline, "published, then killed before any email"
    assert not record(two, ("Marketing", "sent")).is_baseline, "Retention has nothing yet"
    assert not record(two, ("Marketing", "sent"), ("Retention", "failed")).is_baseline, "due again"
    assert record(two, ("Marketing", "sent"), ("Retention", "failed"), ("Retention", "sent")).is_baseline
    assert record(two, ("Marketing", "uncertain"), ("Retention", "partly sent")).is_baseline
    assert record(two, ("Marketing", "written"), ("Retention", "written")).is_baseline, "no smtp"
    assert not record(two, ("Marketing", "too large"), ("Retention", "too large")).is_baseline, \
        "settled, but nobody received it"
    assert not record(two, ("Marketing", "sent"), ("Retention", "sent"), dry_run=True).is_baseline
    assert not record(two, status="held").is_baseline
    assert record((), ("crm: warehouse", "sent")).is_baseline, "no teams: nothing to wait for"
    assert record(None).is_baseline, "a record from before teams were kept reads as before"
    assert not record(None, ("Marketing", "failed")).is_baseline
