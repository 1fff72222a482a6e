"""The brief as a reader gets it: HTML that is escaped and self-contained, a PDF read back."""

from __future__ import annotations

import io
import re
import shutil

import pytest
from pypdf import PdfReader

from reporter.app.cli import main
from reporter.app.pipeline import run
from reporter.app.settings import load_config
from reporter.brief import render
from reporter.brief.render import environment, pct
from tests.conftest import REPO_ROOT, run_main

HOSTILE_NAME = "Salt & Pepper (Fans)"  # persona names are plain words; & must still be escaped
HOSTILE_ACTION = "<script>alert(1)</script>"
HOSTILE_DESCRIPTION = 'Fans of <img src=x onerror="alert(2)"> & "quotes"'


@pytest.fixture(scope="module")
def result(tmp_path_factory, sample_csv):
    from tests.conftest import write_config

    root = tmp_path_factory.mktemp("render")
    (root / "config").mkdir()
    personas = (REPO_ROOT / "config" / "personas.yaml").read_text()
    personas = personas.replace("name: Premium", f"name: '{HOSTILE_NAME}'")
    personas = personas.replace("- Invite to the loyalty tier.", f"- '{HOSTILE_ACTION}'")
    personas = personas.replace(
        "description: High-income customers who spend far more than average.",
        f"description: '{HOSTILE_DESCRIPTION}'",
    )
    (root / "config" / "personas.yaml").write_text(personas)
    config_path = write_config(root / "config" / "reporter.yaml", source={"path": str(sample_csv)},
                               history={"valuable": [HOSTILE_NAME], "slipped_to": ["Churn Risk"]})
    return run(load_config(config_path))


def test_user_text_is_escaped(result):
    html = result.html.read_text()
    assert HOSTILE_NAME in result.brief.headlines[0] or any(
        p.name == HOSTILE_NAME for p in result.brief.personas), "the hostile persona is present"
    assert "<script>" not in html and HOSTILE_NAME not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Salt &amp; Pepper (Fans)" in html
    assert '<img src=x onerror="alert(2)">' not in html
    assert "&lt;img src=x onerror=" in html


def test_html_is_self_contained(result):
    html = result.html.read_text()
    assert "<link" not in html and "<script" not in html
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert not re.search(r"url\(\s*['\"]?https?:", html)
    assert html.count('src="data:image/svg+xml;base64,') >= 7, "charts are SVG inside the page"
    assert "<style>" in html


def test_html_has_the_required_parts(result):
    html = result.html.read_text()
    brief = result.brief
    for text in ("Personas at a glance", "Data notes", "How the segments were found",
                 brief.data_file, f"{brief.customers:,}"):
        assert text in html
    assert 'id="chart-persona-sizes"' in html and 'id="chart-pca-scatter"' in html
    assert "Steady Shoppers" in html


def test_pdf_opens_has_pages_numbers_and_names_the_personas(result):
    reader = PdfReader(io.BytesIO(result.pdf.read_bytes()))
    assert len(reader.pages) >= 2
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Page 1 of" in text
    for row in result.brief.personas:
        assert row.name in text, f"{row.name} missing from the PDF text"
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4


def test_headline_sentences_state_shares(result):
    first = result.brief.headlines[0]
    assert re.fullmatch(r".+: \d+% of customers and \d+% of spend\.", first)
    assert len(result.brief.headlines) >= 3


def test_format_filters():
    assert environment().from_string("{{ 1234567.8 | money }}").render() == "$1,234,568"
    assert pct(0.123) == "12%"
    assert pct(float("nan")) == "–"


PANGO_MISSING = """
import importlib.abc, sys
class NoPango(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0': No such file or directory")
sys.meta_path.insert(0, NoPango())
"""


def test_missing_pango_is_explained_not_a_traceback(project, tmp_path):
    """A machine without Pango cannot be made here, so the import failure is injected."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT, archive_entries

    script = PANGO_MISSING + "from reporter.app.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    result = subprocess.run(
        [sys.executable, "-c", script, "run", "--config", str(project / "config" / "reporter.yaml")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "apt-get install libpango-1.0-0" in result.stderr
    assert archive_entries(project / "output") == []


def test_rerender_draws_the_archived_brief_again_from_its_numbers(result, tmp_path, monkeypatch):
    """brief.json holds numbers and words, not drawings: the same templates give the same
    HTML byte for byte, and a template change shows in the re-rendered brief only."""
    config = str(result.folder.parent.parent / "config" / "reporter.yaml")
    same = tmp_path / "same"
    assert main(["rerender", "--config", config, result.run_id, "--out", str(same)]) == 0
    assert (same / "brief.html").read_text() == result.html.read_text()
    assert "Who the customers are" in PdfReader(same / "brief.pdf").pages[0].extract_text() + "".join(
        page.extract_text() for page in PdfReader(same / "brief.pdf").pages[1:3])
    assert "data:image/svg+xml" in (same / "brief.html").read_text()  # drawn again, not stored

    templates = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "reporter" / "templates", templates)
    page = templates / "base.html.j2"
    page.write_text(page.read_text().replace("</body>", "<p>Template of next year</p></body>"))
    monkeypatch.setattr(render, "templates_dir", lambda: templates)
    render.environment.cache_clear()
    try:
        changed = tmp_path / "changed"
        assert main(["rerender", "--config", config, result.run_id, "--out", str(changed)]) == 0
    finally:
        render.environment.cache_clear()
    assert "Template of next year" in (changed / "brief.html").read_text()
    assert "Template of next year" not in result.html.read_text()


def test_rerender_of_a_run_without_brief_json_says_why(result, tmp_path):
    copy = tmp_path / "output" / result.folder.name
    shutil.copytree(result.folder, copy)
    (copy / "brief.json").unlink()
    config = tmp_path / "config" / "reporter.yaml"
    config.parent.mkdir()
    config.write_text((result.folder.parent.parent / "config" / "reporter.yaml").read_text())
    (tmp_path / "config" / "personas.yaml").write_text(
        (result.folder.parent.parent / "config" / "personas.yaml").read_text())
    done = run_main("rerender", "--config", str(config), result.run_id)
    assert done.returncode == 2
    assert "no brief.json" in done.stderr and "cannot be re-rendered" in done.stderr


@pytest.mark.parametrize(("value", "shown"), [(-0.04, "0.0"), (0.0, "0.0"), (-0.0, "0.0"),
                                              (0.06, "+0.1"), (-1.26, "-1.3"), (12.0, "+12.0")])
def test_points_never_show_negative_zero(value, shown):
    assert render.points(value) == shown


def test_a_second_render_of_the_same_brief_draws_no_chart_again(result, monkeypatch):
    """The re-render after a PDF warning, appendix.pdf and `reporter rerender` draw the
    same figures again: each chart is drawn once per process, the HTML is the same."""
    import functools

    from reporter.brief import charts, predict_charts

    calls = []
    for module in (charts, predict_charts):
        for name in ("persona_sizes", "pca_scatter", "k_selection", "mix_bars", "income_spend",
                     "rate_bars", "lift_bars", "reliability_curve"):
            if hasattr(module, name):
                draw = getattr(module, name)
                monkeypatch.setattr(module, name, functools.wraps(draw)(
                    lambda *a, _draw=draw, **k: (calls.append(_draw.__name__), _draw(*a, **k))[1]))
    render._drawn.clear()
    first = render.render_html(result.brief)
    drawn_first = len(calls)
    assert drawn_first >= 7
    assert render.render_html(result.brief) == first and len(calls) == drawn_first
    assert "appendix" in render.render_appendix_html(result.brief) and len(calls) == drawn_first


def test_drawn_charts_are_told_apart_by_every_number():
    """An array's repr shortens it ('...'); the key never does: a chart differing in one
    point of thousands is drawn again, equal numbers in a new list are not."""
    import numpy as np

    from reporter.brief.charts import ScatterGroup

    calls = []

    def draw(groups):
        calls.append(groups)
        return f"<svg>{len(calls)}</svg>"

    points = np.zeros((5000, 2))
    moved = points.copy()
    moved[2500, 0] = 1.0
    assert repr(points) == repr(moved)
    first = render.drawn(draw, [ScatterGroup("A", "#111111", points)])
    assert render.drawn(draw, [ScatterGroup("A", "#111111", points.copy())]) == first
    assert render.drawn(draw, [ScatterGroup("A", "#111111", moved)]) != first
    assert render.drawn(draw, [ScatterGroup("B", "#111111", points)]) != first
    assert len(calls) == 3
