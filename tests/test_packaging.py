"""The installed package must carry its templates and default config, not only the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import REPO_ROOT


def test_wheel_ships_templates_and_default_config(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(REPO_ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {p.relative_to(REPO_ROOT / "reporter" / "templates").as_posix()
                 for p in (REPO_ROOT / "reporter" / "templates").rglob("*") if p.is_file()}
    assert templates, "the repository has templates"
    for name in templates:
        assert f"reporter/templates/{name}" in names
    assert "reporter/default_config/reporter.yaml" in names
    assert "reporter/default_config/personas.yaml" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "reporter = reporter.app.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
