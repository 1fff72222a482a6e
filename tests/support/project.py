"""A project folder as `reporter init` would leave it: config/reporter.yaml (the default with
some sections replaced) and config/personas.yaml, pointed at a data file."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent.parent

# The stability check with 3 refits instead of 10, and the three-method comparison only where
# a test asks for it: the suite makes a few hundred briefs, each engine's the same way.
QUICK = {"stability": {"resamples": 3}, "comparison": {"enabled": False}}


def write_config(path: Path, **sections: dict) -> Path:
    """The default reporter.yaml with some sections' keys replaced. The suite briefs the same
    generated file many times over to test other things, so the unchanged-data check is off
    here; tests/test_freshness.py tests it as shipped (hold) and with skip."""
    document = yaml.safe_load((REPO_ROOT / "config" / "reporter.yaml").read_text())
    document["output"] = {"dir": "../output"}
    document["checks"]["unchanged_data"] = {"mode": "off"}
    for section, values in sections.items():
        if isinstance(values, dict) and isinstance(document.get(section), dict):
            document[section].update(values)
        else:
            document[section] = values
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def new_project(root: Path, data: Path | str, **sections) -> Path:
    """root/config/ with the shipped personas.yaml and a reporter.yaml reading `data`, with the
    quick settings (a section given replaces them); the reporter.yaml's path."""
    config_dir = root / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", config_dir / "personas.yaml")
    return write_config(config_dir / "reporter.yaml", source={"path": str(data)}, **{**QUICK, **sections})
