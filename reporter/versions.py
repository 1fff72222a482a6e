"""The versions a run was made with: recorded in run.json and model.json, and compared before
a saved model is loaded (a pickled scikit-learn model is only safe in the version that made it)."""

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
