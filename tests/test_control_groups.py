"""Control groups and the measured effect of a brief's call lists (issue 35).

The statistics are checked at the stage level (assignment by hash, the generator with a known
effect, the measurement), ten seeds in seconds; one whole sequence (run, an export aged with
an effect, run) checks the brief's section end to end; one run against a real SMTP server and
a real webhook counts that no control customer reaches anything meant for contact.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import yaml

from reporter.app.params import control_params
from reporter.app.pipeline import run
from reporter.app.settings import load_config
from reporter.data import sample
from reporter.data.schema import SPEND_COLUMNS
from reporter.history.followup import bought_again
from reporter.history.measure import (
    Groups,
    MeasureParams,
    compare_shares,
    contacted_ids,
    measure_earlier,
    measure_list,
    newcombe,
    read_groups,
)
from reporter.history.record import read_record
from reporter.personas.control import (
    ControlParams,
    campaign_window,
    control_column,
    control_groups,
    held_back,
)
from reporter.personas.rulebook import compile_rulebook
from reporter.untrusted import UnreadableArchiveFile
from tests.conftest import QUICK, run_main, write_config
from tests.webhook_server import SECRET, Behaviour, Webhook

DAYS = 28  # four weeks after the brief
AS_OF = sample.DEFAULT_AS_OF
SEEDS = range(10)


# --- the interval itself -------------------------------------------------------------------

def test_newcombe_hybrid_score_interval_matches_newcombe_1998():
    """Newcombe (1998), Statistics in Medicine 17:873, table II example (a): 56/70 against
    48/80, method 10: 0.0524 to 0.3339."""
    difference, low, high = newcombe(56, 70, 48, 80)
    assert difference == pytest.approx(0.2)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_too_wide_an_interval_says_not_enough_customers_yet():
    few = compare_shares("bought again", pd.Series([True] * 8 + [False] * 12),
                         pd.Series([True] * 3 + [False] * 9), MeasureParams())
    many = compare_shares("bought again", pd.Series([True] * 800 + [False] * 1200),
                          pd.Series([True] * 300 + [False] * 900), MeasureParams())
    assert few.high - few.low > 0.20 and not few.enough
    assert many.high - many.low <= 0.20 and many.enough


def test_bought_again_is_a_reset_recency_over_customers_in_both_tables():
    earlier = pd.DataFrame({"ID": [1, 2, 3, 4], "Recency": [10, 50, 95, 0]})
    later = pd.DataFrame({"ID": [2, 1, 3, 5], "Recency": [3, 38, 99, 1]})
    result = bought_again(earlier, later, 28)
    assert result.index.name == "ID" and sorted(result.index) == [1, 2, 3]
    assert result.to_dict() == {1: False, 2: True, 3: True}  # 3: 99 < 95 + 28, the count was reset


# --- the statistics on generated data: ten seeds at the stage level -------------------------

def _later(table: pd.DataFrame) -> pd.DataFrame:
    """An export's customers as the measurement reads them (the features' names)."""
    return pd.DataFrame({"ID": table["ID"], "recency": table["Recency"],
                         "total_spending": table[list(SPEND_COLUMNS)].sum(axis=1),
                         "responded": table["Response"]})


def _measured(seed: int, effect: float, table: pd.DataFrame | None = None):
    """20,000 customers; a list nobody on it is certain to buy from anyway (recency + 28
    stays within the export's 99), so the true effect on buying again is exactly `effect`;
    10% held back by the hash; the export aged four weeks with that effect on the contacted."""
    table = sample.generate(20_000, seed) if table is None else table
    ids = table["ID"].to_numpy()
    listed = (table["Recency"] + DAYS <= sample.MAX_RECENCY).to_numpy()
    groups = control_groups(ids, {"Win-back": listed}, ControlParams(share=0.10), AS_OF)
    held = groups.held["Win-back"]
    contacted = ids[listed & ~held]
    later = sample.age(table, DAYS, seed + 1000, contacted=contacted, effect=effect)
    truth = (sample.buy_probability(table, DAYS, contacted=contacted, effect=effect)
             - sample.buy_probability(table, DAYS))[listed & ~held]
    assert np.allclose(truth, effect)  # the generator's own account of what it did
    before = _later(table)
    comparisons, _ = measure_list(Groups(before[listed & ~held], before[held]), _later(later), DAYS,
                                  MeasureParams())
    return comparisons[0]


@pytest.fixture(scope="module")
def ten_seeds():
    tables = [sample.generate(20_000, seed) for seed in SEEDS]  # each seed's customers, once
    return {effect: [_measured(seed, effect, table) for seed, table in zip(SEEDS, tables, strict=True)]
            for effect in (0.10, 0.0)}


def test_a_known_ten_point_effect_is_covered_and_told_apart_from_none(ten_seeds):
    found = ten_seeds[0.10]
    covered = sum(c.low <= 0.10 <= c.high for c in found)
    assert covered >= 9, [(c.low, c.high) for c in found]
    assert all(c.low > 0 for c in found), "every interval excludes 0"
    assert all(c.enough and c.control > 1000 and c.contacted > 10_000 for c in found)


def test_with_no_effect_the_interval_covers_zero(ten_seeds):
    found = ten_seeds[0.0]
    assert sum(c.low <= 0 <= c.high for c in found) >= 9, [(c.low, c.high) for c in found]


# --- stable groups ---------------------------------------------------------------------------

def test_a_customer_s_group_holds_for_the_window_and_is_drawn_again_in_the_next():
    ids = np.arange(1, 20_001)
    window = campaign_window(AS_OF, 4)
    days = [window.start + timedelta(days=d) for d in range(0, 28, 7)] + [window.end]
    groups = [held_back(ids, "Churn Risk", campaign_window(day, 4), 0.10) for day in days]
    assert all((g == groups[0]).all() for g in groups), "the same customers all window long"
    assert 0.09 < groups[0].mean() < 0.11
    following = held_back(ids, "Churn Risk", campaign_window(window.end + timedelta(days=1), 4), 0.10)
    assert (following != groups[0]).sum() > 1000, "the next window draws afresh"
    other_list = held_back(ids, "Next campaign", window, 0.10)
    assert (other_list != groups[0]).sum() > 1000, "each list draws its own"


def test_weekly_exports_of_one_window_keep_their_control_customers():
    """Week 1 and the same customers aged a week (the generator): who the list holds back among
    customers on it both weeks is the same; the window is anchored, not counted from a run."""
    week1 = sample.generate(3000, 5)
    week2 = sample.age(week1, 7, 6)
    params = ControlParams(share=0.2, window_weeks=4, anchor=date(2014, 6, 23))  # both in one window
    assert campaign_window(AS_OF, 4, params.anchor) == campaign_window(AS_OF + timedelta(days=7), 4,
                                                                        params.anchor)
    held = [control_groups(w["ID"].to_numpy(), {"Churn Risk": np.ones(len(w), bool)}, params, day)
            for w, day in ((week1, AS_OF), (week2, AS_OF + timedelta(days=7)))]
    first = set(week1["ID"][held[0].held["Churn Risk"]])
    second = set(week2["ID"][held[1].held["Churn Risk"]])
    both = set(week1["ID"]) & set(week2["ID"])
    assert first & both == second & both and len(first & both) > 400


def test_control_shares_come_from_the_flag_then_reporter_yaml_and_zero_switches_off(project):
    personas = project / "config" / "personas.yaml"
    text = personas.read_text()
    personas.write_text(text.replace("    rank_by: total_spending",
                                     "    rank_by: total_spending\n    control_share: 0.25", 1))
    config = load_config(write_config(project / "config" / "reporter.yaml",
                                      source=_source(project), **QUICK,
                                      control_groups={"share": 0.0}))
    params = control_params(config.settings, compile_rulebook(config.personas, config.personas_path))
    assert params.share_of("Churn Risk") == 0.25 and params.share_of("Next campaign") == 0.0
    off = control_groups(np.arange(5000), {"Next campaign": np.ones(5000, bool)}, params, AS_OF)
    assert off.lists[0].control == 0 and "no control group" in off.lists[0].sentence
    assert not params.off and ControlParams(share=0.0).off  # all off: no columns, file or lines


def _source(project) -> dict:
    return yaml.safe_load((project / "config" / "reporter.yaml").read_text())["source"]


# --- nothing meant for contact holds a control customer --------------------------------------

def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _text(content: str | bytes) -> str:
    return content.decode() if isinstance(content, bytes) else content


@pytest.mark.e2e
def test_no_control_customer_reaches_a_list_an_email_or_a_webhook_batch(project, server, monkeypatch):
    controller, handler = server
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", SECRET)
    hook = Webhook(Behaviour())
    try:
        config = write_config(
            project / "config" / "reporter.yaml", source=_source(project), **QUICK,
            control_groups={"share": 0.3},  # many held back, so some rank among the first to call
            smtp={"host": "127.0.0.1", "port": controller.port, "security": "none",
                  "from_address": "briefs@smartcart.test", "timeout_seconds": 5, "retries": 1,
                  "backoff_seconds": 0.01},
            teams=[{"name": "Retention", "recipients": ["cara@example.com"], "name_customers": 50}],
            crm=[{"name": "shop", "webhook": hook.url, "secret_env": "CRM_WEBHOOK_SECRET",
                  "batch_size": 250, "backoff_seconds": 0.01, "timeout_seconds": 20}])
        result = run(load_config(config))
    finally:
        hook.stop()
    folder = result.folder
    customers = pd.read_csv(folder / "customers.csv")
    control = pd.read_csv(folder / "control_groups.csv")
    record = read_record(folder)
    held = {g.name: set(control.loc[control["list"] == g.name, "ID"]) for g in record.control.lists}
    assert all(held.values()) and {"Churn Risk", "Next campaign"} <= set(held)
    for entry in record.control.lists:  # every list file: only the customers to contact
        listed = set(pd.read_csv(folder / entry.file)["ID"])
        assert not listed & held[entry.name]
        assert (len(listed), len(held[entry.name])) == (entry.contacted, entry.control)
        assert set(customers.loc[customers[control_column(entry.name)] == 1, "ID"]) == held[entry.name]
    flagged = customers.loc[customers["flag_churn_risk"] == 1].sort_values(
        ["total_spending", "ID"], ascending=[False, True])
    assert set(flagged["ID"].head(10)) & held["Churn Risk"], "the test could fail: a control " \
        "customer ranks among the first 10 to call"

    (message,) = [_parse(m.content) for m in handler.messages]  # what arrived
    attached = {part.get_filename(): pd.read_csv(io.StringIO(_text(part.get_content())))
                for part in message.iter_attachments() if part.get_filename().endswith(".csv")}
    assert "churn_risk.csv" in attached
    files = {entry.file: entry.name for entry in record.control.lists}
    for name, table in attached.items():  # a list's attachment holds none of its control group
        assert not set(table["ID"]) & held[files.get(name, "Churn Risk")], name
    body = message.get_body(("plain",)).get_content()
    named = [int(i) for i in re.findall(r"^- Churn Risk: (\d+)", body, flags=re.MULTILINE)]
    assert named == list(flagged.loc[~flagged["ID"].isin(held["Churn Risk"]), "ID"].head(10))
    assert not set(named) & held["Churn Risk"]

    posted = {c["customer_id"]: c for c in hook.behaviour.customers()}
    assert len(posted) == len(customers) and all(r.signed for r in hook.behaviour.received)
    for customer_id in held["Churn Risk"]:
        assert "churn_risk" not in posted[customer_id]["flags"]
        assert "churn_risk" in posted[customer_id]["control"]
    contact = set(flagged["ID"]) - held["Churn Risk"]
    assert all(posted[i]["flags"] == ["churn_risk"] and posted[i]["control"] == [] for i in contact
               if "next_campaign" not in posted[i]["control"])


def test_assign_and_the_api_mark_groups_with_the_weekly_run_s_function(archived):
    """`reporter assign` (and the API, through the same score_with) marks the customers the
    archived run held back, for the same as-of date."""
    from reporter.app.archived import assign_new

    scored = assign_new(load_config(archived.config), archived.data, archived.run_id).frame
    assigned = scored.set_index("ID")
    customers = pd.read_csv(archived.folder / "customers.csv").set_index("ID")
    both = customers.index.intersection(assigned.index)
    flagged = both[(customers.loc[both, "flag_churn_risk"] == 1)
                   & (assigned.loc[both, "flag_churn_risk"] == 1)]
    assert len(flagged) > 20
    column = control_column("Churn Risk")
    assert (assigned.loc[flagged, column] == customers.loc[flagged, column]).all()
    assert assigned.loc[flagged, column].sum() >= 1
    assert (assigned.loc[assigned["flag_churn_risk"] == 0, column] == 0).all()


# --- the whole sequence: run, an aged export with an effect, run -----------------------------

@pytest.mark.e2e
def test_a_later_brief_measures_the_earlier_list_against_its_control(tmp_path):
    data = sample.write(sample.generate(4000, seed=11), tmp_path / "data" / "customers.csv")
    config = write_config(_project(tmp_path, data), source={"path": str(data)}, **QUICK, teams=[],
                          control_groups={"share": 0.25, "widest_interval_points": 30})
    first = run(load_config(config))
    aged = tmp_path / "aged.csv"
    done = run_main("sample", "--age", str(data), "--days", "28", "--seed", "12", "--contacted",
                   str(first.folder), "--effect", "0.3", "--out", str(aged))
    assert done.returncode == 0, done.stderr
    data.write_bytes(aged.read_bytes())
    second = run(load_config(config))
    record = read_record(second.folder)
    by_list = {e.name: e for e in record.measured}
    assert set(by_list) == {g.name for g in read_record(first.folder).control.lists}
    churn = by_list["Next campaign"]
    bought = churn.comparisons[0]
    assert churn.run_id == first.run_id and churn.days == 28 and bought.measure == "bought again"
    assert bought.enough and bought.low > 0, bought
    assert churn.sentence.startswith("Next campaign list of 29 Jun 2014: ")
    told = f"{bought.contacted_value:.0%} of contacted customers bought again within 4 weeks"
    assert told in churn.sentence
    html = (second.folder / "brief.html").read_text()
    assert "What earlier lists did" in html and churn.sentence in html.replace("&#39;", "'")
    assert [line.startswith(g.name) for g, line in zip(record.control.lists, second.brief.control.lines,
                                                       strict=True)]
    effects = measure_earlier([(first.folder, read_record(first.folder))], pd.DataFrame(
        {"ID": [], "recency": [], "total_spending": []}), date(2014, 7, 27), MeasureParams())
    assert effects.effects and all(not e.comparisons[0].enough for e in effects.effects)
    ids = set(contacted_ids(first.folder))  # on a list to contact (maybe held back from another)
    lists = read_record(first.folder).control.lists
    assert ids == set().union(*(set(pd.read_csv(first.folder / g.file)["ID"]) for g in lists))


def _project(root, data):
    import shutil

    from tests.support.project import REPO_ROOT

    (root / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", root / "config" / "personas.yaml")
    return root / "config" / "reporter.yaml"


# --- nothing read back is trusted ------------------------------------------------------------

def test_an_edited_list_file_is_refused_and_not_measured(archived):
    folder = archived.folder
    record = read_record(folder)
    entry = record.control.lists[0]
    groups = read_groups(folder, record.control, entry)
    assert len(groups.contacted) == entry.contacted and len(groups.control) == entry.control
    path = folder / entry.file
    table = pd.read_csv(path)
    table.iloc[1:].to_csv(path, index=False)  # a customer removed by hand
    with pytest.raises(UnreadableArchiveFile, match=f"{entry.file}: .*run.json recorded"):
        read_groups(folder, record.control, entry)
    delivered = replace(record, teams=None)  # as if sent: only lists people received are measured
    measured = measure_earlier([(folder, delivered)], pd.DataFrame(
        {"ID": table["ID"], "recency": table["recency"], "total_spending": table["total_spending"]}),
        date.fromisoformat(record.as_of) + timedelta(days=28), MeasureParams())
    assert {e.name for e in measured.effects} == {g.name for g in record.control.lists[1:]}
    assert any(entry.file in note for note in measured.notes)
    document = json.loads((folder / "run.json").read_text())
    document["control"]["lists"][0]["file"] = "../customers.csv"
    (folder / "run.json").write_text(json.dumps(document))
    with pytest.raises(UnreadableArchiveFile, match="file"):
        read_record(folder)
