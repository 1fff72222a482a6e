"""Persona rules a manager edits without breaking the brief (issue 31): a persona is its
customers, not its name. A rename stays a rename (page 1, the share and transition tables, the
index line, validate --data), a rule edit is never drift, and an edit that empties a persona
is news. One sequence of runs on the real table, built once for the module."""

from __future__ import annotations

import json
import math
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from reporter.app.cli import main
from reporter.app.pipeline import run
from reporter.app.settings import load_config
from reporter.brief.index import share_points
from reporter.data import sample
from reporter.history.catalogue import all_runs
from reporter.model.drift import Baseline, measure
from reporter.model.params import ModelParams
from tests.conftest import REPO_ROOT, write_config
from tests.helpers import short_pages
from tests.support.briefed import briefed_once

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
OLD, NEW = "Low Engagement", "Light Buyers"
SETTINGS = {"stability": {"resamples": 3}, "comparison": {"enabled": False}, "teams": [],
            "checks": {"data_fresh": {"mode": "off"}}}  # the runs are dated ahead of the files


def _write_config(root: Path, data: Path, slipped_to: list[str]) -> Path:
    return write_config(root / "config" / "reporter.yaml", source={"path": str(data), "name": "smartcart"},
                        history={"valuable": ["Premium"], "slipped_to": slipped_to}, **SETTINGS)


def _record(result) -> dict:
    return json.loads((result.folder / "run.json").read_text())


def _brief(result) -> dict:
    return json.loads((result.folder / "brief.json").read_text())


def _page_one(result) -> str:
    return " ".join(PdfReader(result.folder / "brief.pdf").pages[0].extract_text().split())


def _opening(result) -> str:
    """Pages 1 and 2: page 1's blocks, then the persona table where page 1 leaves it."""
    pages = PdfReader(result.folder / "brief.pdf").pages[:2]
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


@pytest.fixture(scope="module")
def weeks(tmp_path_factory, real_table):
    """The real table briefed, then Low Engagement renamed Light Buyers in both files (the
    rules week, same data), then two later exports, then an edit that empties Premium in the
    week of a third."""
    root = tmp_path_factory.mktemp("rename")
    (root / "config").mkdir()
    personas = root / "config" / "personas.yaml"
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", personas)
    config = _write_config(root, real_table, ["Churn Risk", OLD])
    first = run(load_config(config), now=NOW)
    personas.write_text(personas.read_text().replace(f"name: {OLD}", f"name: {NEW}"))
    config = _write_config(root, real_table, ["Churn Risk", NEW])
    rules_week = run(load_config(config), now=NOW + timedelta(days=1))
    later = []
    table = pd.read_csv(real_table)
    for week in (1, 2):
        table = sample.age(table, 7, seed=30 + week)
        data = sample.write(table, root / "drop" / f"week{week}.csv")
        later.append(run(load_config(config), data=data, now=NOW + timedelta(days=1 + 7 * week)))
    premium = personas.read_text()
    personas.write_text(premium.replace("total_spending >= 1.5x population",
                                        "total_spending >= 9x population"))
    data = sample.write(sample.age(table, 7, seed=33), root / "drop" / "week3.csv")  # a new median
    emptied = run(load_config(config), data=data, now=NOW + timedelta(days=22))
    personas.write_text(premium)
    return root, config, first, rules_week, later, emptied


def test_the_rules_week_and_the_weeks_after_are_scored_not_refitted(weeks):
    _, _, first, rules_week, later, _ = weeks
    records = [_record(r) for r in (rules_week, *later)]
    assert [r["model"]["action"] for r in records] == ["scored"] * 3, [r["model"]["reason"] for r in records]
    assert all(r["model"]["fitted_in_run"] == first.run_id for r in records)
    for record in records:  # the persona mix is measured every week, and is not drift
        mix = record["model"]["drift"]["persona mix"]
        assert mix["verdict"] != "refit" and mix["psi"] < 0.25, mix
    assert [r["status"] for r in records] == ["ready"] * 3, [r["held_because"] for r in records]


def test_the_rename_is_one_typed_record_in_run_json(weeks):
    _, _, first, rules_week, _, _ = weeks
    customers = _record(first)["personas"][OLD]["customers"]
    change = _record(rules_week)["model"]["rule_change"]
    assert change["renames"] == [[OLD, NEW, customers]]
    assert [OLD, customers, 0] in change["sizes"] and [NEW, 0, customers] in change["sizes"]


def test_page_one_says_renamed_with_no_points_and_the_transition_maps_it(weeks):
    _, _, first, rules_week, _, _ = weeks
    customers = _record(first)["personas"][OLD]["customers"]
    page = _page_one(rules_week)
    assert f"{OLD} is now called {NEW}: a new name only, the same customers ({customers:,} now)." in page
    brief = _brief(rules_week)
    row = next(p for p in brief["personas"] if p["name"] == NEW)
    assert row["renamed_from"] == OLD and row["change_points"] is None
    opening = _opening(rules_week)
    assert f"{NEW} {customers:,}" in opening and "renamed" in opening
    assert "+26" not in opening and "-26" not in opening and "−26" not in opening
    changes = brief["changes"]
    assert changes["renamed"] == {NEW: OLD}
    assert OLD not in changes["order"], "the old name is not a row of its own"
    assert changes["matrix"][NEW][NEW] == customers
    assert sum(changes["matrix"][name][NEW] for name in changes["order"] if name != NEW) == 0
    share_row = next(r for r in changes["personas"] if r[0] == NEW)
    assert share_row[1] == share_row[3] == customers
    html = (rules_week.folder / "brief.html").read_text()
    assert f"{NEW} (renamed from {OLD})" in html and f"{NEW} (was {OLD})" in html


def test_the_index_and_app_history_follow_the_new_name(weeks):
    root = weeks[0]
    runs = [r for r in all_runs(root / "output") if r.run_id != weeks[5].run_id]
    labels, series = share_points(runs)
    assert len(labels) == 3, "the real table's date (both runs), then two later exports"
    lines = {line.label: line.values for line in series}
    assert OLD not in lines, "no line that stops where the rename happened"
    assert not any(math.isnan(v) for v in lines[NEW]), lines[NEW]
    from reporter.app.explore import share_trend

    trend = share_trend(runs)
    assert OLD not in trend.columns and trend[NEW].notna().all()


def test_an_edit_that_empties_a_persona_is_on_page_one_and_warned(weeks):
    emptied = weeks[5]
    record = _record(emptied)
    change = record["model"]["rule_change"]
    went = [(to, count) for before, to, count in change["moves"] if before == "Premium"]
    assert went and "Premium" not in record["personas"]
    # Churn Risk's rules were not edited: against last week's median it changed size and was
    # reported as an edit ("Churn Risk 384 -> 381 customers")
    assert [(name, before == after) for name, before, after in change["flags"]] == [("Churn Risk", True)]
    assert "Churn Risk" not in _page_one(emptied).split("now named differently")[1][:60]
    page = _page_one(emptied)
    total = sum(count for _, count in went)
    assert f"Premium has no customers now: personas.yaml changed, and its {total:,} customers went to" in page
    assert all(f"{to} ({count:,})" in page for to, count in went)
    check = next(c for c in record["checks"] if c["check"] == "no_new_empty_persona")
    assert check["mode"] == "warn" and not check["passed"], check
    assert "because personas.yaml changed" in check["problem"]
    assert record["status"] == "ready", "a warning, not a hold: the rules, not the data, emptied it"
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(emptied.folder / "brief.pdf").pages]
    assert "Premium 0 not present this week" in " ".join(pages[:2])
    assert not any(len(p.split()) < 40 for p in pages), "no near-blank page"


def test_validate_data_and_preview_say_renamed_not_moved(weeks, capsys):
    root, _, _, _, _, _ = weeks
    personas = root / "config" / "personas.yaml"
    saved = personas.read_text()
    week2 = root / "drop" / "week2.csv"
    try:
        personas.write_text(saved.replace(f"name: {NEW}", "name: Small Baskets"))
        config = _write_config(root, week2, ["Churn Risk", "Small Baskets"])
        capsys.readouterr()
        assert main(["validate", "--config", str(config), "--data", str(week2)]) == 0
        said = capsys.readouterr()
        err = said.err
        assert f"\ndata: {week2}: tried on " in said.out, said.out  # not only the configured source.path
        assert main(["personas", "preview", "--config", str(config), "--data", str(week2)]) == 0
        preview = capsys.readouterr().out
    finally:
        personas.write_text(saved)
        _write_config(root, week2, ["Churn Risk", NEW])
    assert f"{NEW} is now called Small Baskets: a new name only, the same customers (" in err
    assert "would hold 0%" not in err, err
    assert re.search(rf"^  {NEW} is now called Small Baskets: a new name only, the same customers "
                     r"\([\d,]+ now\)\.$", preview, re.MULTILINE), preview


LOW_ENGAGEMENT_BLOCK = """  - name: Low Engagement
    description: Customers who buy little and rarely.
    color: "#e67e22"
    priority: 3
    rules:
      all:
        - total_spending <= 0.5x population   # spends half the average or less
    actions:
      - Target with starter bundles.
      - Encourage a second channel (web or store).
"""  # the whole persona: its actions left behind were a second `actions:` of Deal Seekers
DEAL_RULE = ("        - deal_share >= 1.5x population       # 50% more of their purchases on deals "
             "than average\n")
# (case, replacements in personas.yaml, history.slipped_to, exit code, expected lines: each a
# regular expression matching one line of `reporter validate --data`'s warnings or problems)
EDITS = [
    ("a rename in both files", [(f"name: {OLD}", f"name: {NEW}")], ["Churn Risk", NEW], 0,
     [rf"warning: personas\.yaml edit: {OLD} is now called {NEW}: a new name only, the same "
      r"customers \(\d+ now\)\.$"]),
    ("a rename with a typo in reporter.yaml", [(f"name: {OLD}", f"name: {NEW}")],
     ["Churn Risk", "Light Buyer"], 2,
     [r'reporter\.yaml: line \d+, history\.slipped_to: "Light Buyer" is not a persona in the rules '
      r'file; did you mean "Light Buyers"\?']),
    ("an edit that empties a persona",
     [("total_spending >= 1.5x population", "total_spending >= 9x population")], ["Churn Risk", OLD], 0,
     [r'warning: persona "Premium" matches no segment: segment rules test a segment\'s average customer, '
      r"and no segment averages 9x the population's total_spending",
      r"warning: personas\.yaml edit: Premium has no customers now: personas\.yaml changed, and its "
      r"(\d+) customers went to Steady Shoppers \(\1\)\.$",
      # said "more than the 15 allowed by checks.share_move", which the run then passed
      r'warning: "Steady Shoppers" would hold \d+% of customers, against \d+% in the brief of run '
      r"\S+ \(\+(\d+) points, \+\1 of them moved by this edit, which checks\.share_move does not "
      r"count\)$"]),
    ("two personas merged into one",
     [(LOW_ENGAGEMENT_BLOCK, ""), ("name: Deal Seekers", "name: Budget Shoppers"),
      ("      all:\n" + DEAL_RULE, "      any:\n" + DEAL_RULE
       + "        - total_spending <= 0.5x population\n")], ["Churn Risk", "Budget Shoppers"], 0,
     [r"warning: personas\.yaml edit: Deal Seekers and Low Engagement are now one persona, Budget "
      r"Shoppers: the same customers together \(\d+ now\)\.$"]),
]


@pytest.fixture(scope="module")
def briefed(tmp_path_factory, sample_csv):
    """One brief of the generated sample to compare rule edits with: a copy of the sample's
    first brief made once per session (tests/support/briefed.py, the same quick settings and
    no teams), not a run of this module's own; validate --data only reads it."""
    shared = briefed_once(tmp_path_factory, sample_csv)
    root = shared.copy_to(tmp_path_factory.mktemp("edits")).root
    config = write_config(root / "config" / "reporter.yaml", source={"path": str(shared.data)},
                          owners=["owner@example.com"], **SETTINGS)
    return root, config, shared.data


@pytest.mark.parametrize(("replacements", "slipped_to", "code", "expected"), [e[1:] for e in EDITS],
                         ids=[e[0] for e in EDITS])
def test_rule_edits_get_exactly_their_result_in_one_run(briefed, capsys, replacements, slipped_to,
                                                         code, expected):
    root, config, data = briefed
    personas = root / "config" / "personas.yaml"
    original = (REPO_ROOT / "config" / "personas.yaml").read_text()
    text = original
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    personas.write_text(text)
    write_config(config, source={"path": str(data)}, owners=["owner@example.com"], **SETTINGS,
                 history={"valuable": ["Premium"], "slipped_to": slipped_to})
    capsys.readouterr()
    try:
        assert main(["validate", "--config", str(config), "--data", str(data)]) == code
    finally:
        personas.write_text(original)
    lines = [line.strip() for line in capsys.readouterr().err.splitlines()
             if not line.startswith("reporter: ")]
    assert len(lines) == len(expected), "\n".join(lines)
    for line, pattern in zip(lines, expected, strict=True):
        assert re.search(pattern, line), line


def test_rule_edit_weeks_leave_no_page_under_half_full(weeks, tmp_path):
    """Issue 33: page 1's blocks push the persona table over; a rename or an emptied persona
    must not leave a near-blank page behind it."""
    rules_week, emptied = weeks[3], weeks[5]
    for name, result in (("renamed", rules_week), ("emptied", emptied)):
        assert short_pages(result.folder / "brief.pdf", tmp_path / name) == [], name


def test_renames_are_whole_names_only():
    from reporter.brief.rule_edits import rule_edit_lines
    from reporter.personas.rulebook import RuleChange, find_renames

    sizes = (("A", 10, 0), ("B", 0, 10), ("C", 5, 3), ("D", 0, 2), ("E", 4, 0), ("F", 6, 10))
    moves = (("A", "B", 10), ("E", "F", 4), ("C", "D", 2))
    assert find_renames(moves, sizes) == (("A", "B", 10),), "E joined F's own customers: a merge"
    change = RuleChange("r", moves, (), find_renames(moves, sizes), sizes)
    lines = rule_edit_lines(change)
    assert lines[0] == "A is now called B: a new name only, the same customers (10 now)."
    assert "E and F are now one persona, F: the same customers together (10 now)." in lines
    assert "2 customers moved from C to D because personas.yaml changed." in lines


def test_two_personas_merged_into_a_new_one():
    from reporter.brief.rule_edits import rule_edit_lines
    from reporter.personas.rulebook import RuleChange, find_renames

    sizes = (("A", 3, 0), ("B", 4, 0), ("M", 0, 7), ("C", 5, 5))
    moves = (("B", "M", 4), ("A", "M", 3))
    change = RuleChange("r", moves, (), find_renames(moves, sizes), sizes)
    assert change.renames == () and set(change.vanished) == {"A", "B"} and change.emptied == ()
    assert rule_edit_lines(change) == (
        "A and B are now one persona, M: the same customers together (7 now).",)


def test_persona_mix_drift_follows_the_rules_through_a_rename():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({name: rng.normal(size=400) for name in
                          ("income", "total_spending", "recency", "total_purchases", "web_visits")})
    labels = rng.integers(0, 3, 400)
    names = np.array(["Premium", "Low Engagement", "Steady"], dtype=object)
    baseline = Baseline.of(frame, names[labels], labels)
    renamed = np.array(["Premium", "Light Buyers", "Steady"], dtype=object)
    naming = {0: "Premium", 1: "Light Buyers", 2: "Steady"}
    drift = measure(baseline, frame, renamed[labels], ModelParams(), naming)
    assert {row.name: row.psi for row in drift.rows}["persona mix"] == pytest.approx(0.0, abs=1e-9)
    old = Baseline(baseline.edges, baseline.shares, baseline.persona_mix)  # a model.json before this
    estimated = old.with_segments({0: "Premium", 1: "Low Engagement", 2: "Steady"}, labels)
    assert estimated.mix_under(naming) == pytest.approx({n: s for n, s in zip(
        ["Premium", "Light Buyers", "Steady"], [baseline.persona_mix[k] for k in
                                                ["Premium", "Low Engagement", "Steady"]], strict=True)})


def test_an_older_model_learns_its_segment_shares_and_still_validates():
    """The committed model.json predates segment shares: it loads, and the copy a scoring run
    saves carries estimated shares that validate (else next week would refit)."""
    from dataclasses import replace

    from reporter.model.artefact import model_problems, read_model
    from tests.model_fixture import FIXTURE

    model = read_model(FIXTURE).model
    assert model is not None and model.baseline.segment_mix == {}
    labels = pd.read_csv(FIXTURE / "segments.csv")["cluster"].to_numpy()
    learned = model.baseline.with_segments(model.cluster_persona, labels)
    assert sum(learned.segment_mix.values()) == pytest.approx(1.0)
    assert learned.mix_under(model.cluster_persona) == pytest.approx(
        {name: share for name, share in model.baseline.persona_mix.items()
         if name in model.cluster_persona.values()})
    assert model_problems(replace(model, baseline=learned)) == []


def test_a_run_json_without_the_rename_map_still_reads(tmp_path):
    from reporter.history.record import RECORD_FILE, read_record

    document = {"run_id": "070000-abcd", "model": {"action": "scored", "rule_change": {
        "since_run": "060000-abcd", "moves": [["A", "B", 3]], "flags": []}}}
    (tmp_path / RECORD_FILE).write_text(json.dumps(document))
    change = read_record(tmp_path).model.rule_change
    assert change.renames == () and change.renamed == {} and change.vanished == ()
    document["model"]["rule_change"]["renames"] = [["A", 3, "B"]]  # planted: not as written
    (tmp_path / RECORD_FILE).write_text(json.dumps(document))
    with pytest.raises(ValueError, match="rule_change"):
        read_record(tmp_path)


def test_a_rename_with_its_rule_changed_is_said_as_both():
    """Premium renamed to VIP in the same edit as its threshold: 90 of Premium's 100 are VIP
    now and 10 went to Steady. Page 1 said "Premium has no customers now ... went to VIP (90)
    and Steady (10)", as if the edit had emptied it; it is said as a rename with a change."""
    from reporter.brief.rule_edits import rule_edit_lines
    from reporter.personas.rulebook import RuleChange, find_renames

    sizes = (("Premium", 100, 0), ("VIP", 0, 95), ("Steady", 200, 205), ("Loyal", 50, 50))
    moves = (("Premium", "VIP", 90), ("Premium", "Steady", 10), ("Steady", "VIP", 5))
    change = RuleChange("r", moves, (), find_renames(moves, sizes), sizes, absent=())
    assert change.renames == ()
    assert rule_edit_lines(change) == (
        "Premium is now called VIP, and its rule changed too: of the 100 customers the old rules "
        "would call Premium now, 90 are VIP, 10 went to Steady.",
        "5 customers moved from Steady to VIP because personas.yaml changed.")
    emptied = RuleChange("r", moves, (), (), sizes, absent=("Premium",))  # still in the file
    assert rule_edit_lines(emptied)[0].startswith("Premium has no customers now")
    split = (("Premium", "VIP", 50), ("Premium", "Steady", 50))
    halves = RuleChange("r", split, (), (), (("Premium", 100, 0), ("VIP", 0, 50), ("Steady", 200, 250)))
    assert rule_edit_lines(halves)[0].startswith("Premium has no customers now"), "no majority"
    assert change.successors == {"Premium": "VIP"} and halves.successors == {}
    # two names into one new one is a merge: it was a successor too, so the changes table said
    # "C (was A, its rule changed)" beside "A and B are now one persona, C"
    merged = RuleChange("r", (("A", "C", 100), ("B", "C", 50)), (), (),
                        (("A", 100, 0), ("B", 50, 0), ("C", 0, 150)))
    assert merged.successors == {}
    assert merged.shift() == {"A": -100 * 100 / 150, "B": -100 * 50 / 150, "C": 100.0}, \
        "of the customers compared"


def test_a_persona_added_in_front_of_the_fallback_is_not_the_fallback_renamed():
    """Wine Lovers added above the fallback took every Steady Shoppers customer: page 1 said
    "Steady Shoppers is now called Wine Lovers", and taking Wine Lovers out again "Wine Lovers
    is now called Steady Shoppers". A rename needs the old name gone from the rules and the new
    one new to them; this is the fallback emptied (and, back, a persona taken out)."""
    from reporter.brief.rule_edits import rule_edit_lines
    from reporter.personas.rulebook import RuleChange, find_renames

    added = (("Steady", 701, 0), ("Wine", 0, 701))
    moves = (("Steady", "Wine", 701),)
    assert find_renames(moves, added) == (("Steady", "Wine", 701),), "names alone look like a rename"
    assert find_renames(moves, added, absent=("Steady",)) == ()
    change = RuleChange("r", moves, (), (), added, absent=("Steady",))
    assert change.emptied == ("Steady",)
    assert rule_edit_lines(change) == ("Steady has no customers now: personas.yaml changed, and its "
                                       "701 customers went to Wine (701).",)
    back = (("Wine", 701, 0), ("Steady", 0, 701))
    moves = (("Wine", "Steady", 701),)
    assert find_renames(moves, back, absent_before=("Steady",)) == ()
    change = RuleChange("r", moves, (), (), back, absent_before=("Steady",))
    assert rule_edit_lines(change) == ("Wine has no customers now: personas.yaml changed, and its "
                                       "701 customers went to Steady (701).",)


VIP_EDIT = (("name: Premium", "name: VIP"), ("income >= 1.2x population", "income >= 1.0x population"),
            ("total_spending >= 1.5x population", "total_spending >= 1.1x population"))


def test_a_rename_with_its_rule_changed_is_followed_for_the_slipped_list(tmp_path_factory, sample_csv,
                                                                        tmp_path):
    """Premium renamed VIP with its bars lowered in the same edit (a second segment joins it),
    in a week of aged data: last week's Premium customers newly flagged Churn Risk slipped, as
    they would have under an edit that kept the name. Only exact renames were followed: 0."""
    briefed = briefed_once(tmp_path_factory, sample_csv).copy_to(tmp_path / "vip")
    personas = briefed.root / "config" / "personas.yaml"
    text = personas.read_text()
    for old, new in VIP_EDIT:
        assert old in text
        text = text.replace(old, new)
    personas.write_text(text)
    data = sample.write(sample.age(pd.read_csv(sample_csv), 7, seed=41), tmp_path / "aged" / "customers.csv")
    source, first = briefed.record()["data"]["source_key"], briefed.folder  # the aged file elsewhere,
    # under the same source
    config = write_config(briefed.config, source={"path": str(data), "name": source},
                          history={"valuable": ["VIP"], "slipped_to": ["Churn Risk"]}, **SETTINGS)
    result = run(load_config(config), now=NOW + timedelta(days=7))
    change = _record(result)["model"]["rule_change"]
    assert change["renames"] == [] and ["Premium", "VIP"] in [m[:2] for m in change["moves"]]
    then = pd.read_csv(first / "customers.csv")
    now = pd.read_csv(result.folder / "customers.csv")
    was = then.loc[(then["persona"] == "Premium") & (then["flag_churn_risk"] == 0), "ID"]
    expected = set(now.loc[now["ID"].isin(was) & (now["flag_churn_risk"] == 1), "ID"])
    assert expected, "the aged week flags some of last week's Premium customers"
    slipped = pd.read_csv(result.folder / "changes" / "slipped.csv")
    assert set(slipped["ID"]) == expected and set(slipped["was"]) == {"VIP"}
    assert _brief(result)["changes"]["slipped_count"] == len(expected)
    html = (result.folder / "brief.html").read_text()
    assert "VIP (was Premium, its rule changed)" in html and "VIP (was Premium)" in html
