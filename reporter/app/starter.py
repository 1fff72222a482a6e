"""`reporter init`: a commented starter reporter.yaml and personas.yaml for an installation
made with pip, where there is no repository to copy them from."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from reporter.errors import ConfigError

STARTER_FILES = ("reporter.yaml", "personas.yaml", "reporter.schema.json", "personas.schema.json")


def starter_dir() -> Path:
    """The shipped default config: inside the wheel (reporter/default_config), or the
    checkout's config/ folder in an editable install."""
    shipped = Path(str(resources.files("reporter") / "default_config"))
    return shipped if (shipped / "reporter.yaml").is_file() else Path(__file__).parents[2] / "config"


def write_starter(folder: Path, force: bool = False) -> list[Path]:
    """Copy the starter files into `folder`; never over a file that exists unless `force`."""
    source = starter_dir()
    targets = [folder / name for name in STARTER_FILES]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        names = ", ".join(str(t) for t in existing)
        raise ConfigError(f"{names}: already there, nothing was written; pick another folder or "
                          "pass --force to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    for name, target in zip(STARTER_FILES, targets, strict=True):
        target.write_bytes((source / name).read_bytes())
    return targets
