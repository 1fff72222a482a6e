from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np

from reporter.brief import charts

BARS = [charts.Bar("Premium", 0.2, 0.5, "#1f6f8b"), charts.Bar("Churn Risk", 0.3, 0.1, "#c0392b")]


def _scatter() -> str:
    rng = np.random.default_rng(0)
    groups = [charts.ScatterGroup("A", "#1f6f8b", rng.normal(size=(50, 2))),
              charts.ScatterGroup("B", "#c0392b", rng.normal(size=(50, 2)))]
    return charts.pca_scatter(groups, ("more income (40% of variance)", "less age (20% of variance)"))


def test_charts_are_valid_scalable_svg_with_a_finding_as_title():
    svg = charts.persona_sizes(BARS)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and root.get("width") == "100%" and root.get("viewBox")
    assert "Premium: 20% of customers, 50% of spend" in svg
    assert "Churn Risk" in svg and "Share (%)" in svg


def test_two_charts_on_one_page_share_no_ids():
    first, second = charts.persona_sizes(BARS), _scatter()
    ids_first = set(re.findall(r'\bid="([^"]+)"', first))
    ids_second = set(re.findall(r'\bid="([^"]+)"', second))
    assert ids_first and ids_second
    assert not ids_first & ids_second
    for svg, ids in ((first, ids_first), (second, ids_second)):
        for reference in re.findall(r'#([\w.-]+)(?=["\)])', svg):
            if not re.fullmatch(r"[0-9a-fA-F]{6}", reference):  # colours like #1f6f8b
                assert reference in ids, f"dangling reference #{reference}"


def test_same_input_same_bytes():
    assert charts.persona_sizes(BARS) == charts.persona_sizes(BARS)
    assert _scatter() == _scatter()
