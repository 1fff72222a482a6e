"""The installed package must carry its templates and default config, not only the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The package's wheel as pip builds it from the checkout, built once for both tests
    (each only reads it: one lists it, the other unpacks a copy of its files elsewhere)."""
    folder = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(folder), str(REPO_ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (found,) = folder.glob("*.whl")
    return found


def test_wheel_ships_templates_and_default_config(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {p.relative_to(REPO_ROOT / "reporter" / "templates").as_posix()
                 for p in (REPO_ROOT / "reporter" / "templates").rglob("*") if p.is_file()}
    assert templates, "the repository has templates"
    for name in templates:
        assert f"reporter/templates/{name}" in names
    assert "reporter/default_config/reporter.yaml" in names
    assert "reporter/default_config/personas.yaml" in names
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"):
        assert f"reporter/app/static/swagger-ui/{name}" in names, "/docs is drawn from these"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "reporter = reporter.app.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_init_from_the_installed_wheel_writes_a_starter_that_validates(wheel, tmp_path):
    """After `pip install`, with no repository around: `reporter init` has its files."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    environment = {**os.environ, "PYTHONPATH": str(site)}
    for args in (["init", "starter"], ["validate", "--config", "starter/reporter.yaml"]):
        done = subprocess.run([sys.executable, "-m", "reporter", *args], cwd=work, env=environment,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert (work / "starter" / "personas.yaml").read_text() == (
        REPO_ROOT / "config" / "personas.yaml").read_text()
    where = subprocess.run([sys.executable, "-c", "import reporter; print(reporter.__file__)"],
                           cwd=work, env=environment, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(site)), "the wheel's copy ran, not the checkout"
