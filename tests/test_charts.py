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


LONG_NAME = "Premium Customers Who Buy Wine Every Week"  # 41 characters


def _pdf_text(svg: str, tmp_path) -> str:
    """The chart as WeasyPrint puts it into the brief's PDF, read back by pdftotext."""
    import shutil
    import subprocess

    import pytest

    from reporter.brief.render import render_pdf

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils)")
    pdf = tmp_path / "chart.pdf"
    pdf.write_bytes(render_pdf(f'<html><body><figure class="chart">{svg}</figure></body></html>'))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    return " ".join(text.stdout.split())


def test_a_long_persona_name_never_cuts_a_chart_title(tmp_path):
    """Issue 33: '...the most of any persor': titles wrap within the chart, read back whole."""
    parts = ("Wine", "Fruit", "Meat", "Fish", "Sweets", "Gold")
    rows = [charts.Mix(LONG_NAME, (0.2, 0.1, 0.38, 0.1, 0.1, 0.12)),
            charts.Mix("Deal Seekers", (0.5, 0.1, 0.1, 0.1, 0.1, 0.1))]
    mix_title = f"Meat: 38% of {LONG_NAME} spend, the most of any persona"
    rates = charts.RateChart((charts.Rates(LONG_NAME, "#1f6f8b", (0.28, 0.01)),),
                             ("Last\ncampaign", "Complained"),
                             f"{LONG_NAME} answered the last campaign best", (0.15, 0.01))
    drawn = {mix_title: charts.mix_bars(rows, list(parts), mix_title, "mix"),
             rates.title: charts.rate_bars(rates),
             f"{LONG_NAME}: 20% of customers, 50% of spend":
                 charts.persona_sizes([charts.Bar(LONG_NAME, 0.2, 0.5, "#1f6f8b"), *BARS])}
    for title, svg in drawn.items():
        assert title in _pdf_text(svg, tmp_path), title


def test_a_threshold_is_labelled_as_the_bar():
    """Issue 33: '($1,425 vs $909)' did not say which figure was the bar."""
    from reporter.brief.view import Units, _check_text
    from reporter.personas.rulebook import ConditionCheck

    spend = ConditionCheck("total_spending >= 1.5x population", 1425, 909, True, "total_spending")
    assert _check_text(spend, Units()) == "total_spending >= 1.5x population ($1,425; bar: $909)"
    share = ConditionCheck("deal_share_lift >= 1.5", 0.4, 0.3, True, "deal_share_lift")
    assert _check_text(share, Units()).endswith("(40%; bar: 30%)")


def test_charts_carry_no_node_that_draws_nothing():
    """WeasyPrint draws an SVG node by node: no metadata, no group that only names itself."""
    for svg in (charts.persona_sizes(BARS), _scatter()):
        root = ET.fromstring(svg)
        assert not [e for e in root.iter() if e.tag.endswith("metadata")]
        groups = [e for e in root.iter() if e.tag.endswith("}g")]
        assert all(set(g.attrib) - {"id"} for g in groups)
        assert 'rotate(-0 ' not in svg


def test_a_slimmed_chart_draws_the_same_pixels(tmp_path, monkeypatch):
    """The groups and rotations left out change no pixel of the chart in the PDF."""
    import shutil
    import subprocess

    import matplotlib
    import pytest
    from PIL import Image

    from reporter.brief.render import render_pdf, svg_image

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is not installed (apt-get install poppler-utils)")
    def drawn() -> str:  # drawn here, not taken from the suite's chart memo
        with matplotlib.rc_context(charts.STYLE):
            return charts._svg(charts._persona_sizes_figure(BARS), "sizes")

    slim = drawn()
    monkeypatch.setattr(charts, "_slim", lambda svg: svg)
    full = drawn()
    assert len(full) > len(slim)
    pages = []
    for name, svg in (("full", full), ("slim", slim)):
        pdf = tmp_path / f"{name}.pdf"
        pdf.write_bytes(render_pdf(f'<html><body><figure class="chart">{svg_image(svg)}</figure>'
                                   "</body></html>"))
        subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", str(pdf),
                        str(tmp_path / name)], check=True)
        pages.append(np.asarray(Image.open(tmp_path / f"{name}.png").convert("L")))
    assert (pages[0] < 128).mean() > 0.01, "the chart is drawn"
    assert np.array_equal(pages[0], pages[1])
