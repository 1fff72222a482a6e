"""Names that stay put (issue 31): when segments are named afresh, a segment keeps last week's
persona while it misses that persona's rule by no more than rules.keep_margin, and takes
another only when it clears that one's rule by the margin; names decided that close are close
calls, and a change of name is said on page 1 with the figures that decided it."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from reporter.brief.rule_report import _verdict_lines
from reporter.brief.view import Units, close_call_sentence, naming_headlines
from reporter.data.features import FeatureTable
from reporter.data.load import load
from reporter.model.artefact import Loaded
from reporter.model.lifecycle import analyse
from reporter.model.params import AnalysisParams
from reporter.personas.rulebook import ConditionCheck, assign, read_rulebook
from reporter.segmentation.params import ComparisonParams, StabilityParams
from reporter.segmentation.profile import profile
from tests.helpers import features_from_sample

MARGIN = 0.05
RULES = """\
fallback: Steady Shoppers
personas:
  - name: Premium
    priority: 1
    rules:
      - total_spending >= {bar}
  - name: Deal Seekers
    priority: 2
    rules:
      - income >= {lower}
  - name: Steady Shoppers
"""


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> FeatureTable:
    return features_from_sample(tmp_path_factory.mktemp("stay"), rows=300, seed=31)


def halves(table: FeatureTable) -> np.ndarray:
    spend = table.frame["total_spending"]
    return (spend > spend.median()).to_numpy().astype(int)


def moved(table: FeatureTable, labels: np.ndarray, segment: int, mean: float) -> FeatureTable:
    """The table with one segment's spend scaled so that its mean (over the customers fitted on,
    as the profile's) is `mean`."""
    frame = table.frame.copy()
    inside = labels == segment
    fitted = inside & frame["in_fit"].to_numpy(dtype=bool)
    frame.loc[inside, "total_spending"] *= mean / frame.loc[fitted, "total_spending"].mean()
    return replace(table, frame=frame)


def fitted_mean(table: FeatureTable, inside: np.ndarray, column: str) -> float:
    """A segment's average as its profile takes it: over its customers fitted on."""
    return float(table.frame.loc[inside & table.frame["in_fit"].to_numpy(dtype=bool), column].mean())


def rules(tmp_path: Path, bar: float, lower: float = 10**9):
    path = tmp_path / "personas.yaml"
    path.write_text(RULES.format(bar=round(bar, 2), lower=round(lower, 2)))
    return read_rulebook(path)


def named(rulebook, table: FeatureTable, labels: np.ndarray, previous: dict[int, str] | None,
          margin: float = MARGIN):
    return assign(rulebook, profile(table, labels), table, labels, previous=previous, margin=margin)


BAR = 2_000.0


@pytest.mark.parametrize("direction", [+1, -1])
def test_a_segment_within_the_margin_keeps_its_name(tmp_path, table, direction):
    labels = halves(table)
    rulebook = rules(tmp_path, BAR)
    near = moved(table, labels, 1, BAR * (1 - 0.008 * direction))  # within 1% of the bar
    before = named(rulebook, near, labels, None)
    start = "Steady Shoppers" if direction == 1 else "Premium"
    assert before.cluster_persona[1] == start
    assert [c.cluster for c in before.close_calls] == [1], "decided within the margin"
    across = moved(table, labels, 1, BAR * (1 + 0.005 * direction))  # across the bar by 0.5%
    plain = named(rulebook, across, labels, None, margin=0.0)
    assert plain.cluster_persona[1] != start, "without the margin the name flips"
    after = named(rulebook, across, labels, before.cluster_persona)
    assert after.cluster_persona[1] == start, "within the margin the name stays"
    assert after.verdicts[1].held and not after.verdicts[1].changed
    assert naming_headlines(after, rulebook, Units()) == ()
    (call,) = after.close_calls
    assert call.named == call.previous == start and call.bar == "Premium"
    # in a week the rules were edited, page 1 said "0 customers now named differently" and
    # nothing of the segment the margin kept
    kept = close_call_sentence(call, Units())
    preview = _verdict_lines(after.verdicts[1])  # `personas preview`: said "no rule matched" too
    assert preview[-1] == (f"  -> stays {start}, its name in the last brief: decided within "
                           "rules.keep_margin (the close call below)")
    assert not any("Near miss" in line for line in preview), "the close call says it, with figures"
    assert naming_headlines(after, rulebook, Units(), rules_edited=True) == (kept,)
    assert kept.startswith(f"Segment 1 stays {start}: ")
    assert kept.endswith("within the 5% margin that keeps a name.")


def test_crossing_by_more_than_the_margin_changes_the_name_and_page_1_says_why(tmp_path, table):
    labels = halves(table)
    rulebook = rules(tmp_path, BAR)
    before = named(rulebook, moved(table, labels, 1, BAR * 0.992), labels, None)
    assert before.cluster_persona[1] == "Steady Shoppers"
    far = moved(table, labels, 1, BAR * 1.10)
    after = named(rulebook, far, labels, before.cluster_persona)
    assert after.cluster_persona[1] == "Premium" and after.verdicts[1].changed
    mean = fitted_mean(far, labels == 1, "total_spending")
    assert naming_headlines(after, rulebook, Units()) == (
        f"Segment 1 is now Premium: its total spend, ${mean:,.0f}, cleared Premium's bar, "
        f"${BAR:,.0f}, by {mean / BAR - 1:.1%}.",)
    back = named(rulebook, moved(table, labels, 1, BAR * 0.90), labels, after.cluster_persona)
    assert back.cluster_persona[1] == "Steady Shoppers"
    assert naming_headlines(back, rulebook, Units(currency="€")) == (
        "Segment 1 is now Steady Shoppers: its total spend, €1,800, missed Premium's bar, €2,000, "
        "by 10.0%.",)


def test_an_earlier_persona_must_clear_its_bar_by_the_margin(tmp_path, table):
    """Segment 1 had Deal Seekers (priority 2, which it still matches); Premium (priority 1)
    now holds by 0.2%."""
    labels = halves(table)
    rulebook = rules(tmp_path, BAR, lower=1)
    close = moved(table, labels, 1, BAR * 1.002)
    assert named(rulebook, close, labels, None).cluster_persona[1] == "Premium", "the plain verdict"
    kept = named(rulebook, close, labels, {0: "Deal Seekers", 1: "Deal Seekers"})
    assert kept.cluster_persona[1] == "Deal Seekers"
    (call,) = kept.close_calls
    assert (call.bar, call.check.holds, call.changed) == ("Premium", True, False)
    assert naming_headlines(kept, rulebook, Units()) == ()
    assert close_call_sentence(call, Units()) == (
        "Segment 1 stays Deal Seekers: its total spend, $2,004, cleared Premium's bar, $2,000, by "
        "0.2%, within the 5% margin that keeps a name.")
    clear = named(rulebook, moved(table, labels, 1, BAR * 1.06), labels, kept.cluster_persona)
    assert clear.cluster_persona[1] == "Premium"
    assert naming_headlines(clear, rulebook, Units())[0].startswith(
        "Segment 1 is now Premium: its total spend, $2,120, cleared Premium's bar, $2,000, by 6.0%")


def test_a_close_call_that_changes_a_name_is_said_in_plain_words(tmp_path, table):
    """Last week's persona was lost outright, and the new one holds by only 0.2%: the change
    is a close call, worded as the issue asks."""
    labels = halves(table)
    rulebook = rules(tmp_path, BAR)
    close = moved(table, labels, 1, BAR * 1.002)
    after = named(rulebook, close, labels, {0: "Steady Shoppers", 1: "Premium"})
    assert after.cluster_persona[1] == "Premium" and not after.verdicts[1].changed
    moving = named(rulebook, close, labels, {0: "Steady Shoppers", 1: "Deal Seekers"})
    assert moving.cluster_persona[1] == "Premium", "Deal Seekers is out of reach: the plain rules"
    assert naming_headlines(moving, rulebook, Units()) == (
        "Segment 1 is now Premium: its total spend, $2,004, cleared Premium's bar, $2,000, by 0.2%.",)


def test_a_change_of_name_is_explained_by_its_own_bars_not_a_third_persona_s(tmp_path, table):
    """Segment 1 was Steady Shoppers and now clears Deal Seekers' bar plainly, while it misses
    Premium's (tried first) by 1%: the change was said as "missed Premium's bar by 1.0%"."""
    labels = halves(table)
    income = fitted_mean(table, labels == 1, "income")
    rulebook = rules(tmp_path, BAR, lower=income / 1.25)
    near = moved(table, labels, 1, BAR * 0.99)
    after = named(rulebook, near, labels, {0: "Steady Shoppers", 1: "Steady Shoppers"})
    assert after.cluster_persona[1] == "Deal Seekers" and [c.bar for c in after.close_calls] == ["Premium"]
    (said,) = naming_headlines(after, rulebook, Units())
    assert said.startswith("Segment 1 is now Deal Seekers: its income, ")
    assert "cleared Deal Seekers' bar" in said
    assert "Premium" not in said


def test_a_name_kept_by_the_margin_is_explained_by_its_own_bar(tmp_path, table):
    """Segment 1 had Deal Seekers and misses its income bar by 3.3% while missing Premium's
    (tried first) spend bar by 2%: page 1 named Premium's bar, the first close call."""
    labels = halves(table)
    near = moved(table, labels, 1, BAR * 0.98)
    income = fitted_mean(near, labels == 1, "income")
    rulebook = rules(tmp_path, BAR, lower=income / 0.967)
    kept = named(rulebook, near, labels, {0: "Steady Shoppers", 1: "Deal Seekers"})
    assert kept.cluster_persona[1] == "Deal Seekers" and kept.verdicts[1].held
    assert sorted(c.bar for c in kept.close_calls) == ["Deal Seekers", "Premium"]
    (said,) = naming_headlines(kept, rulebook, Units(), rules_edited=True)
    assert said.startswith("Segment 1 stays Deal Seekers: its income, ") and "Deal Seekers' bar" in said


def test_margin_zero_is_the_plain_rules_and_a_renamed_persona_is_no_change(tmp_path, table):
    labels = halves(table)
    rulebook = rules(tmp_path, BAR)
    across = moved(table, labels, 1, BAR * 1.005)
    plain = named(rulebook, across, labels, {0: "Steady Shoppers", 1: "Steady Shoppers"}, margin=0.0)
    assert plain.cluster_persona[1] == "Premium" and plain.close_calls == ()
    renamed = named(rulebook, across, labels, {0: "Steady Shoppers", 1: "Big Spenders"})
    assert renamed.cluster_persona[1] == "Premium", "a name no longer in the file is not kept"
    assert naming_headlines(renamed, rulebook, Units()) == (), "a rename is said elsewhere"


def test_a_check_moved_by_a_margin():
    check = ConditionCheck("income >= 100", 98.0, 100.0, False, "income", ">=")
    assert check.holds_with(-0.05) and not check.holds_with(0.0) and not check.holds_with(0.05)
    below = ConditionCheck("recency <= 30", 31.0, 30.0, False, "recency", "<=")
    assert below.holds_with(-0.05) and not below.holds_with(0.05)


def test_a_refit_names_its_segments_against_the_old_names(tmp_path):
    """The stage sequence hands last week's names and the margin to the naming: a saved model
    whose rules differ (a rules week) is named afresh, with its own names as `previous`."""
    path = Path(tmp_path / "c.csv")
    from reporter.data import sample

    raw = load(sample.write(sample.generate(300, seed=5), path))
    params = AnalysisParams(stability=StabilityParams(resamples=0),
                            comparison=ComparisonParams(enabled=False), keep_margin=0.5)
    rulebook = rules(tmp_path, 10**6)

    def timer(_):
        return nullcontext()
    as_of = date(2014, 6, 29)
    first = analyse(raw, as_of, params, rulebook, Loaded(None, None), False, "r1", timer)
    assert set(first.assignment.cluster_persona.values()) == {"Steady Shoppers"}
    pretended = {c: "Deal Seekers" for c in first.saved_model.cluster_persona}
    saved = replace(first.saved_model, cluster_persona=pretended, rulebook_key="other rules")
    income = float(first.table.frame["income"].mean())
    edited = rules(tmp_path, 10**6, lower=income * 10)  # no segment within 50% of ten times the mean
    second = analyse(raw, as_of, params, edited, Loaded(saved, None), False, "r2", timer)
    assert {v.previous for v in second.assignment.verdicts.values()} == {"Deal Seekers"}
    generous = rules(tmp_path, 10**6, lower=income * 1.2)
    third = analyse(raw, as_of, replace(params, keep_margin=0.99), generous, Loaded(saved, None),
                    False, "r3", timer)
    assert set(third.assignment.cluster_persona.values()) == {"Deal Seekers"}, "kept within the margin"


def test_a_rules_week_says_on_page_1_where_a_segment_went_once(tmp_path_factory, sample_csv, tmp_path):
    """End to end: the week after an edit, page 1's rule-edit block names the move and its
    cause; the headlines do not say it a second time (only a close call would be added). The
    week before the edit is a copy of the sample's first brief, made once per session
    (tests/support/briefed.py); the rules week is this test's run."""
    from reporter.app.cli import main
    from reporter.brief.view import read_brief
    from reporter.model.artefact import read_model
    from tests.conftest import run_folders
    from tests.support.briefed import briefed_once

    project = briefed_once(tmp_path_factory, sample_csv).copy_to(tmp_path / "briefed").root
    config = project / "config" / "reporter.yaml"
    (first,) = run_folders(project / "output")
    names = read_model(first).model.cluster_persona
    segment, persona = next((c, p) for c, p in sorted(names.items()) if p == "Low Engagement")
    personas = project / "config" / "personas.yaml"
    personas.write_text(personas.read_text().replace("total_spending <= 0.5x population",
                                                     "total_spending <= 0.01x population"))
    assert main(["run", "--config", str(config)]) == 0
    second = max(run_folders(project / "output"))
    brief = read_brief(second)
    now = read_model(second).model.cluster_persona[segment]
    assert now != persona
    moved = [line for line in brief.rule_edits if f"from {persona} to {now}" in line
             or (line.startswith(f"{persona} has no customers now") and f"went to {now}" in line)]
    assert moved and "personas.yaml" in moved[0], brief.rule_edits
    assert not [h for h in brief.headlines if h.startswith(f"Segment {segment} is now ")], brief.headlines
