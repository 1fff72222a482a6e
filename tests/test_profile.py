from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reporter.segmentation.profile import profile, traits_from_lifts
from tests.helpers import features_from_sample


def test_shares_add_up_and_lifts_are_relative_to_population(tmp_path):
    table = features_from_sample(tmp_path, rows=300)
    labels = np.arange(len(table.frame)) % 3
    profiles = profile(table, labels)
    assert sum(g.size for g in profiles.groups) == 300
    assert sum(g.share for g in profiles.groups) == pytest.approx(1.0)
    assert sum(g.spend_share for g in profiles.groups) == pytest.approx(1.0)
    group = profiles.by_key()["0"]
    fitted = table.frame["in_fit"].to_numpy(dtype=bool)
    mine = table.frame.loc[(labels == 0) & fitted, "income"]
    assert group.means["income"] == pytest.approx(mine.mean())
    assert group.lifts["income"] == pytest.approx(mine.mean() / table.frame.loc[fitted, "income"].mean())


def test_a_customer_left_out_of_fitting_is_counted_in_the_size_not_the_averages(tmp_path):
    """One implausible income (99,999,999: left out of fitting by clean.max_income) must not
    move its group's average income, and with it the rules that name the group."""
    table = features_from_sample(tmp_path, rows=300)
    labels = np.arange(len(table.frame)) % 3
    frame = table.frame.copy()
    frame.loc[0, "income"], frame.loc[0, "in_fit"] = 99_999_999.0, False
    before, after = profile(table, labels).by_key()["0"], profile(replace(table, frame=frame), labels)
    group = after.by_key()["0"]
    assert group.size == before.size and group.spend_share == pytest.approx(before.spend_share)
    fitted = frame["in_fit"].to_numpy(dtype=bool)
    assert group.means["income"] == pytest.approx(frame.loc[(labels == 0) & fitted, "income"].mean())
    assert group.means["income"] < 200_000 and after.population_means["income"] < 200_000


def test_traits_name_the_largest_departures_in_plain_words():
    traits = traits_from_lifts({"total_spending": 2.5, "income": 1.3, "recency": 1.0, "children": 0.2})
    assert traits[0] in {"big spenders", "few or no children"}
    assert "higher income" in traits
    assert traits_from_lifts({"income": 1.0}) == ("close to the average customer",)
