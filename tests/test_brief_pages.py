"""The PDF as a reader sees it: page images (pdftoppm), page text, and golden wording."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

GOLDEN = Path(__file__).parent / "golden"
PDFTOPPM = shutil.which("pdftoppm")
SAMPLE_PAGES = 11  # the generated sample's brief; a change here is a layout change to review
DPI = 50


@pytest.fixture(scope="module")
def sample_brief(tmp_path_factory, sample_csv):
    """The sample's brief with the shipped settings, made once per session and shared with
    tests/test_browser.py (tests/support/default_brief.py): the same brief this module made
    for itself before (the teams it has, and this module had not, only get emails)."""
    from tests.support.default_brief import default_brief

    return default_brief(tmp_path_factory, sample_csv)


@pytest.fixture(scope="module")
def pages(sample_brief, tmp_path_factory) -> list[np.ndarray]:
    if PDFTOPPM is None:
        if os.environ.get("CI"):
            pytest.fail("pdftoppm is missing; .ci/run installs poppler-utils")
        pytest.skip("pdftoppm is not installed (apt-get install poppler-utils)")
    folder = tmp_path_factory.mktemp("png")
    subprocess.run([PDFTOPPM, "-r", str(DPI), "-png", str(sample_brief.pdf), str(folder / "page")],
                   check=True)
    return [np.asarray(Image.open(p).convert("L")) for p in sorted(folder.glob("page-*.png"))]


def test_page_count_is_stable_for_the_sample(pages):
    assert len(pages) == SAMPLE_PAGES


def test_nothing_is_cut_off_at_the_right_margin(pages):
    margin = int(15 / 25.4 * DPI) - 3  # the 15 mm right margin, less antialiasing
    for number, page in enumerate(pages, start=1):
        strip = page[:, -margin:]
        assert strip.min() > 200, f"ink in the right margin of page {number}"


def test_every_page_has_content_and_a_footer(pages):
    for number, page in enumerate(pages, start=1):
        assert (page < 128).mean() > 0.002, f"page {number} is blank"
        footer = page[-int(18 / 25.4 * DPI):, :]
        assert (footer < 200).any(), f"page {number} has no footer"


def test_pdf_text_names_every_persona_and_headline_number(sample_brief):
    from pypdf import PdfReader

    reader = PdfReader(sample_brief.pdf)
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    for row in sample_brief.brief.personas:
        assert row.name in text
    for sentence in sample_brief.brief.headlines:
        for number in __import__("re").findall(r"\d[\d,]*%?", sentence):
            assert number in text, f"{number} from '{sentence}'"
    assert sample_brief.pdf.stat().st_size < 3 * 1024 * 1024


def test_headline_sentences_word_for_word(sample_brief):
    """Golden file: a change of wording or numbers shows up in review. To accept a change,
    rewrite tests/golden/headlines_sample.txt with the new sentences."""
    golden = (GOLDEN / "headlines_sample.txt").read_text().splitlines()
    assert list(sample_brief.brief.headlines) == golden
