"""The versions a run was made with: recorded in run.json and model.json, so a question about
a brief ("which scikit-learn fitted this?") has an answer years later."""

from __future__ import annotations

import platform
from importlib import metadata

from reporter import __version__

PACKAGES = ("pandas", "numpy", "scikit-learn", "jinja2", "weasyprint", "matplotlib",
            "apscheduler", "pyyaml", "pydantic")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "reporter": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
