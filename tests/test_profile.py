from __future__ import annotations

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
    mine = table.frame.loc[labels == 0, "income"]
    assert group.means["income"] == pytest.approx(mine.mean())
    assert group.lifts["income"] == pytest.approx(mine.mean() / table.frame["income"].mean())


def test_traits_name_the_largest_departures_in_plain_words():
    traits = traits_from_lifts({"total_spending": 2.5, "income": 1.3, "recency": 1.0, "children": 0.2})
    assert traits[0] in {"big spenders", "few or no children"}
    assert "higher income" in traits
    assert traits_from_lifts({"income": 1.0}) == ("close to the average customer",)
