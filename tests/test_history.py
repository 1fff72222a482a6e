"""Two weeks of the same customers: week-over-week movement, the index, exports, pruning."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from reporter.app.pipeline import run
from reporter.app.settings import load_config
from reporter.data import sample
from reporter.history.catalogue import read_run
from tests.conftest import REPO_ROOT, archive_entries, run_folders, run_main, write_config
from tests.support.processes import kill, start, stopped, wait_until

WEEK = 7


@pytest.fixture(scope="module")
def two_weeks(tmp_path_factory):
    """An archive with two runs: week 1, then the same customers a week later."""
    root = tmp_path_factory.mktemp("weeks")
    data = root / "data"
    first = sample.generate(1500, seed=21)
    second = sample.age(first, WEEK, seed=22)
    sample.write(first, data / "customers-week1.csv")
    sample.write(second, data / "customers-week2.csv")
    os.utime(data / "customers-week1.csv", (1_700_000_000, 1_700_000_000))
    (root / "config").mkdir()
    (root / "config" / "personas.yaml").write_text((REPO_ROOT / "config" / "personas.yaml").read_text())
    config_path = write_config(root / "config" / "reporter.yaml",
                               source={"path": str(data / "customers-*.csv")}, teams=[])
    config = load_config(config_path)
    week1 = run(config, data=data / "customers-week1.csv")
    week2 = run(config)  # the glob's newest file: week 2
    return root, week1, week2


def _copy_of(two_weeks, tmp_path) -> Path:
    """A copy of the two weeks' project for a test that changes it (a copy takes milliseconds,
    a run seconds); its config still reads the module's data files, so it is the same source."""
    copy = tmp_path / "copy"
    shutil.copytree(two_weeks[0], copy)
    return copy


def test_the_aged_table_is_the_same_customers_a_week_later():
    first = sample.generate(800, seed=3)
    later = sample.age(first, WEEK, seed=4)
    kept = later.merge(first, on="ID", suffixes=("", "_before"))
    assert 0.97 < len(kept) / len(first) < 1.0, "a few customers left"
    assert len(later) > len(kept), "a few joined"
    assert (kept["MntWines"] >= kept["MntWines_before"]).all()
    assert ((kept["Recency"] == (kept["Recency_before"] + WEEK).clip(upper=99))
            | (kept["Recency"] <= WEEK)).all()
    newest = pd.to_datetime(later["Dt_Customer"], format="%d-%m-%Y").max()
    assert newest == pd.to_datetime(first["Dt_Customer"], format="%d-%m-%Y").max() + pd.Timedelta(days=WEEK)


def test_transition_matrix_matches_the_two_customer_files(two_weeks):
    _, week1, week2 = two_weeks
    before = pd.read_csv(week1.folder / "customers.csv")
    now = pd.read_csv(week2.folder / "customers.csv")
    record = json.loads((week2.folder / "run.json").read_text())
    change = record["week_over_week"]
    assert change["previous_run_id"] == week1.run_id
    joined = before.merge(now, on="ID", how="outer", suffixes=("_b", "_n"))
    expected = pd.crosstab(joined["persona_b"].fillna("(new)"), joined["persona_n"].fillna("(gone)"))
    for was, row in change["transitions"].items():
        for is_now, count in row.items():
            direct = expected.at[was, is_now] if was in expected.index and is_now in expected.columns else 0
            assert count == direct, f"{was} -> {is_now}"
    assert change["new_customers"] == (~now["ID"].isin(before["ID"])).sum() > 0
    assert change["gone_customers"] == (~before["ID"].isin(now["ID"])).sum() > 0


def test_slipped_list_is_premium_then_churn_risk_or_low_engagement_now(two_weeks):
    _, week1, week2 = two_weeks
    before = pd.read_csv(week1.folder / "customers.csv")
    now = pd.read_csv(week2.folder / "customers.csv")
    both = before.merge(now, on="ID", suffixes=("_b", "_n"))
    # valuable and unflagged last week; now Low Engagement or newly flagged
    slipped = both[(both["persona_b"] == "Premium") & (both["flag_churn_risk_b"] == 0)
                   & ((both["persona_n"] == "Low Engagement") | (both["flag_churn_risk_n"] == 1))]
    listed = pd.read_csv(week2.folder / "changes" / "slipped.csv")
    assert set(listed["ID"]) == set(slipped["ID"]) and len(listed) > 0
    assert list(listed["total_spending"]) == sorted(listed["total_spending"], reverse=True)
    assert set(listed["was"]) == {"Premium"}
    assert week2.brief.changes.slipped_count == len(listed)
    assert "Since the last brief" in week2.html.read_text()
    assert week1.brief.changes is None


def test_exports_are_crm_ready(two_weeks):
    _, _, week2 = two_weeks
    customers = pd.read_csv(week2.folder / "customers.csv")
    assert list(customers.columns) == ["ID", "other_ids", "persona", "cluster", "flag_churn_risk", "income",
                                       "total_spending", "total_purchases", "recency", "age",
                                       "tenure_days", "deal_share", "web_visits", "r_score",
                                       "f_score", "m_score", "responded", "p_response",
                                       "control_churn_risk", "control_next_campaign", "run_id", "as_of"]
    assert set(customers["r_score"]) <= {1, 2, 3, 4, 5}
    assert customers["ID"].is_unique
    parts = [pd.read_csv(p) for p in sorted(week2.folder.glob("persona_*.csv"))]
    assert sum(len(p) for p in parts) == len(customers)
    for part in parts:
        assert part["persona"].nunique() == 1 and list(part.columns) == list(customers.columns)
    assert (week2.folder / "customers.csv").read_bytes()[:3] != b"\xef\xbb\xbf", "UTF-8 without BOM"


def test_index_lists_both_runs_and_every_link_resolves(two_weeks):
    root, week1, week2 = two_weeks
    index = root / "output" / "index.html"
    html = index.read_text()
    table = html[html.index("<table"):]
    assert table.index(week2.run_id) < table.index(week1.run_id), "newest first"
    links = re.findall(r'<a href="([^"]+)"', html)
    assert len(links) >= 10
    for link in links:
        assert not link.startswith(("http:", "https:", "/")), link
        assert (index.parent / link).is_file(), link
    assert 'id="chart-share-history-1"' in html


@pytest.mark.browser
def test_index_renders_in_chromium(two_weeks):
    from tests.test_browser import CHROMIUM, LAUNCH_ARGS

    if CHROMIUM is None and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    root, *_ = two_weeks
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto((root / "output" / "index.html").as_uri())
        assert page.locator("table.index-table tbody tr").count() == 2
        assert page.locator(".share-history svg").bounding_box()["height"] > 100
        browser.close()
    assert errors == []


@pytest.mark.crash
def test_a_killed_run_leaves_the_index_and_earlier_runs_intact(two_weeks, tmp_path):
    """A third week killed as it renders (nothing published yet) and as it rebuilds the index
    (its folder published, the index not yet rewritten): both earlier weeks stay whole and the
    index lists only folders that exist. The run stops at the stage's fault point and says so
    in a file, so the kill lands there however fast the machine is."""
    root, week1, week2 = two_weeks
    index = root / "output" / "index.html"
    before = index.read_bytes()
    third = sample.age(pd.read_csv(root / "data" / "customers-week2.csv"), WEEK, seed=23)
    sample.write(third, root / "data" / "customers-week3.csv")
    try:
        for stage in ("pdf", "index"):
            marker = tmp_path / f"stopped-{stage}"
            process = start("run", "--config", str(root / "config" / "reporter.yaml"),
                            fault=f"stage-{stage}", marker=marker)
            wait_until(lambda marker=marker: stopped(marker), process)
            kill(process)
            published = [p for p in archive_entries(root / "output") if p.name.startswith("20")]
            assert len(published) == (2 if stage == "pdf" else 3)
            if stage == "pdf":  # killed before publishing: nothing changed
                assert index.read_bytes() == before
            for folder in (week1.folder, week2.folder):
                assert {"brief.pdf", "customers.csv", "run.json"} <= {p.name for p in folder.iterdir()}
            listed = re.findall(r'href="([^"/]+)/', index.read_text())
            assert all(not name.startswith(".") and (root / "output" / name).is_dir() for name in listed)
    finally:
        (root / "data" / "customers-week3.csv").unlink()
        for folder in archive_entries(root / "output"):
            if folder.name.startswith("20") and folder not in (week1.folder, week2.folder):
                shutil.rmtree(folder)
        from reporter.brief.index import rebuild_index

        rebuild_index(root / "output")


def test_archive_commands_and_pruning(two_weeks, tmp_path):
    _, week1, week2 = two_weeks
    copy = _copy_of(two_weeks, tmp_path)
    config = copy / "config" / "reporter.yaml"
    listing = run_main("archive", "list", "--config", str(config))
    assert listing.returncode == 0
    assert listing.stdout.index(week2.run_id) < listing.stdout.index(week1.run_id)
    shown = run_main("archive", "show", week2.run_id, "--config", str(config))
    assert shown.returncode == 0 and f"Since run {week1.run_id}" in shown.stdout
    kept = run_main("archive", "prune", "--keep", "1", "--config", str(config))
    assert kept.returncode == 0
    assert f"Kept run {week1.run_id} ({week1.folder.name[:10]}): the baseline of the newest run " \
           f"{week2.run_id}" in kept.stdout, "week 2's week-over-week lists and CRM push need it"
    remaining = [p.name for p in archive_entries(copy / "output") if p.name.startswith("20")]
    assert remaining == [week1.folder.name, week2.folder.name]
    assert "Removed 0 run(s); kept the newest 1 and 1 older one(s)." in kept.stdout
    missing = run_main("archive", "show", "nope", "--config", str(config))
    assert missing.returncode == 2 and "no single run matches 'nope'" in missing.stderr


def test_retention_setting_prunes_after_each_run(two_weeks, tmp_path):
    """The first two of the three runs are a copy of the module's two weeks; the run after
    them is this test's, and takes the archive past history.retention_runs."""
    project = _copy_of(two_weeks, tmp_path)
    config_path = project / "config" / "reporter.yaml"
    write_config(config_path, source={"path": str(load_config(config_path).resolve(
        load_config(config_path).settings.source.path))}, teams=[], history={"retention_runs": 2})
    config = load_config(config_path)
    assert len(run_folders(project / "output")) == 2
    run(config)
    assert len(run_folders(project / "output")) == 2


def test_run_json_is_versioned_and_the_first_format_still_reads(two_weeks, tmp_path):
    _, _, week2 = two_weeks
    assert json.loads((week2.folder / "run.json").read_text())["format_version"] == 1
    old = tmp_path / "2026-11-20-070000-abcd"
    old.mkdir()
    (old / "run.json").write_text(json.dumps({  # the unversioned layout of the first release
        "run_id": "070000-abcd", "started_at": "2026-11-20T07:00:00+00:00", "as_of": "2014-06-29",
        "data": {"path": "/data/customers.csv", "sha256": "0" * 64, "rows_read": 10},
        "k": 3, "personas": {"Premium": {"customers": 4, "share": 0.4}}}))
    summary = read_run(old)
    assert summary.customers == 10 and summary.persona_shares == {"Premium": 0.4}
    assert summary.record.data.source_key == "/data" and summary.delivery == "not sent"


def test_parquet_export_matches_the_csv(tmp_path):
    from reporter.personas.exports import write_exports

    customers = pd.DataFrame({"ID": [3, 1, 2], "persona": ["A", "B", "A"], "cluster": [0, 1, 0],
                              "flag_x": [1, 0, 0], "income": [1.5, 2.5, 3.5]})
    written = write_exports(customers, lambda name: tmp_path / name, chunk_rows=1000, parquet=True,
                            stamp=(("run_id", "070000-abcd"), ("as_of", "2014-06-29")))
    assert written == ["customers.csv", "persona_a.csv", "persona_b.csv", "customers.parquet"]
    assert pd.read_parquet(tmp_path / "customers.parquet").equals(pd.read_csv(tmp_path / "customers.csv"))
    assert list(pd.read_csv(tmp_path / "persona_a.csv")["ID"]) == [3, 2]


def test_the_run_record_reads_back_as_written_and_concurrent_updates_keep_every_entry(tmp_path):
    import multiprocessing

    from reporter.history.record import (
        DeliveryEntry,
        PersonaFigures,
        RunRecord,
        add_deliveries,
        read_record,
        write_record,
    )

    record = RunRecord(run_id="070000-abcd", as_of="2014-06-29",
                       personas={"Premium": PersonaFigures(4, 0.4, 0.6, (0, 2), "#123456")},
                       headlines=("One.", "Two."))
    write_record(record, tmp_path / "run.json")
    assert read_record(tmp_path) == record
    context = multiprocessing.get_context("spawn")
    # the writer itself as each worker's target: a function of this module would make every
    # spawned worker import the test module first (the pipeline, pandas: ~2 s of CPU each)
    workers = [context.Process(target=add_deliveries,
                               args=(tmp_path, [DeliveryEntry(f"team {n}", "sent", ("a@example.com",))]))
               for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    teams = sorted(entry.team for entry in read_record(tmp_path).delivery)
    assert teams == [f"team {n}" for n in range(4)]
    assert read_record(tmp_path).personas == record.personas


def test_every_list_says_which_run_and_date_it_comes_from_and_keeps_integers(two_weeks):
    _, _, week2 = two_weeks
    files = sorted(week2.folder.glob("*.csv")) + sorted((week2.folder / "changes").glob("*.csv"))
    assert {"customers.csv", "segments.csv", "churn_risk.csv", "slipped.csv", "new.csv", "gone.csv",
            "new_churn_risk.csv"} <= {f.name for f in files}
    for path in files:
        frame = pd.read_csv(path, dtype=str)
        assert list(frame.columns[-2:]) == ["run_id", "as_of"], path.name
        assert set(frame["run_id"]) <= {week2.run_id}, path.name
        assert set(frame["as_of"]) <= {week2.brief.as_of.isoformat()}, path.name
        assert not frame["ID"].str.contains(".", regex=False).any(), path.name
    new = pd.read_csv(week2.folder / "changes" / "new.csv", dtype=str)
    assert not new["income"].str.endswith(".0").any(), "58138, not 58138.0"


def test_each_flag_has_its_call_list_file_in_the_briefs_order(two_weeks):
    _, _, week2 = two_weeks
    listed = pd.read_csv(week2.folder / "churn_risk.csv")
    customers = pd.read_csv(week2.folder / "customers.csv")
    flag = week2.brief.flags[0]
    to_contact = (customers["flag_churn_risk"] == 1) & (customers["control_churn_risk"] == 0)
    assert int(customers["flag_churn_risk"].sum()) == flag.count  # the control group is counted
    assert len(listed) == int(to_contact.sum()) == flag.to_contact < flag.count  # but not listed
    assert set(listed["ID"]) == set(customers.loc[to_contact, "ID"])
    assert list(listed.columns) == list(customers.columns)
    ranked = listed.sort_values(["total_spending", "ID"], ascending=[False, True])
    assert list(listed["ID"]) == list(ranked["ID"]), "ranked by rank_by (total spend), ties by ID"
    html = week2.html.read_text()
    assert "are in churn_risk.csv" in html


def test_page_one_counts_the_newly_flagged_file(two_weeks):
    """Issue 33: 'Call the N customers newly flagged' counts changes/new_churn_risk.csv."""
    _, _, week2 = two_weeks
    newly = pd.read_csv(week2.folder / "changes" / "new_churn_risk.csv")
    action = week2.brief.this_week.actions[0]
    assert action.file == "changes/new_churn_risk.csv" and action.count == len(newly) > 0
    assert f"Call the {len(newly)} customers newly flagged Churn Risk" in week2.html.read_text()
    first = week2.brief.this_week.call_first[0].customer_id
    assert first in set(newly["ID"]), "the newly flagged are called first"


def test_archive_show_finds_a_brief_by_latest_data_date_and_run_id_prefix(two_weeks):
    """Issue 33: `archive show latest` and `archive show 2014-06-29` (a data date) name a run
    as `--run latest` does elsewhere; a unique part of a run id does too."""
    root, week1, week2 = two_weeks
    config = str(root / "config" / "reporter.yaml")
    latest = run_main("archive", "show", "latest", "--config", config)
    assert latest.returncode == 0 and latest.stdout.startswith(f"Run {week2.run_id} ")
    dated = run_main("archive", "show", week1.brief.as_of.isoformat(), "--config", config)
    assert dated.returncode == 0, dated.stderr
    assert dated.stdout.startswith(f"Run {week1.run_id} ")
    prefix = run_main("archive", "show", week1.run_id[-4:], "--config", config)
    assert prefix.stdout.startswith(f"Run {week1.run_id} ")
    undated = run_main("archive", "show", "1999-01-01", "--config", config)
    assert undated.returncode == 2 and "no run has data as of 1999-01-01" in undated.stderr
    assert week2.brief.as_of.isoformat() in undated.stderr, "the dates there are"


def test_the_index_links_each_runs_call_lists_and_change_files(two_weeks):
    root, _, week2 = two_weeks
    index = (root / "output" / "index.html").read_text()
    for label, name in (("Call list: churn risk", "churn_risk.csv"),
                        ("New: churn risk", "changes/new_churn_risk.csv"),
                        ("Slipped", "changes/slipped.csv"), ("New", "changes/new.csv"),
                        ("Gone", "changes/gone.csv")):
        assert f'<a href="{week2.folder.name}/{name}">{label}</a>' in index, name


def test_gone_customers_keep_every_column_of_last_weeks_file(two_weeks):
    """The comparison reads only ID, persona and the flags of last week's customers.csv
    (history/weekly.py compared_column); changes/gone.csv still holds the gone customers'
    whole rows, as last week's file has them."""
    _, week1, week2 = two_weeks
    before = pd.read_csv(week1.folder / "customers.csv")
    gone = pd.read_csv(week2.folder / "changes" / "gone.csv")
    now = pd.read_csv(week2.folder / "customers.csv")
    expected = before.loc[~before["ID"].isin(now["ID"])].drop(columns=["run_id", "as_of"])
    assert len(gone) > 0 and list(gone.columns) == [*expected.columns, "run_id", "as_of"]
    pd.testing.assert_frame_equal(gone.drop(columns=["run_id", "as_of"]),
                                  expected.reset_index(drop=True))


def test_with_nobody_gone_the_gone_file_still_has_every_column(tmp_path):
    from reporter.history.weekly import previous_rows

    path = tmp_path / "customers.csv"
    path.write_text('"ID","persona","flag_vip","income","run_id","as_of"\n'
                    '1,"A",0,10,"r","2024-01-01"\n2,"B",1,20,"r","2024-01-01"\n')
    assert list(previous_rows(path, pd.Series([], dtype="int64"), None).columns) == [
        "ID", "persona", "flag_vip", "income"]
    assert previous_rows(path, pd.Series([2]), {"B": "Bee"}).to_dict("records") == [
        {"ID": 2, "persona": "Bee", "flag_vip": 1, "income": 20}]
