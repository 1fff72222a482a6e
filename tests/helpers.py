"""Build stage inputs from generated tables without going through files twice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from reporter.data import sample
from reporter.data.clean import Customers, clean
from reporter.data.features import FeatureTable, build_features
from reporter.data.load import load
from reporter.data.params import CleanParams


def customers_from_sample(tmp_path: Path, rows: int = 400, seed: int = 3,
                          as_of: date | None = None) -> Customers:
    path = sample.write(sample.generate(rows, seed=seed), tmp_path / f"s{rows}-{seed}.csv")
    raw = load(path)
    reference = as_of or raw.frame["Dt_Customer"].max().date()
    return clean(raw, CleanParams(), reference)


def features_from_sample(tmp_path: Path, rows: int = 400, seed: int = 3) -> FeatureTable:
    return build_features(customers_from_sample(tmp_path, rows, seed))


# Pages that follow a forced page break: the page before one may end a section short.
SECTION_STARTS = ("Who the customers are", "How the segments were found")


def _fill(page, dpi: int) -> float:
    """How far down the content reaches, as a share of the space between the margins."""
    import numpy as np

    top, bottom = int(16 / 25.4 * dpi), page.shape[0] - int(18 / 25.4 * dpi)
    rows = np.nonzero((page[top:bottom] < 200).any(axis=1))[0]
    return (rows.max() + 1) / (bottom - top) if len(rows) else 0.0


def short_pages(pdf: Path, scratch: Path) -> list[str]:
    """Pages of a brief under half full that are not the end of a section, as 'page N: 31%'
    (pdftoppm draws each page; the last page may be short)."""
    import shutil
    import subprocess

    import numpy as np
    from PIL import Image
    from pypdf import PdfReader

    tool = shutil.which("pdftoppm")
    assert tool is not None, "pdftoppm is missing; .ci/run installs poppler-utils"
    scratch.mkdir(parents=True, exist_ok=True)
    subprocess.run([tool, "-r", "40", "-png", str(pdf), str(scratch / "p")], check=True)
    images = [np.asarray(Image.open(p).convert("L")) for p in sorted(scratch.glob("p-*.png"))]
    texts = [page.extract_text() for page in PdfReader(pdf).pages]
    return [f"page {number}: {_fill(image, 40):.0%}" for number, image in enumerate(images[:-1], start=1)
            if not texts[number].lstrip().startswith(SECTION_STARTS) and _fill(image, 40) < 0.5]
