"""Make docs/brief-first-page.png, the README's picture of the sample brief's first page.

    .venv/bin/python docs/make_screenshot.py      (or: make screenshot)

Generates the embedded sample (2,240 customers, seed 2240), runs a brief into a temporary
archive, and turns page 1 of its PDF into a PNG with pdftoppm (Debian: poppler-utils).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from reporter.app.pipeline import run
from reporter.app.settings import load_config
from reporter.data import sample

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "brief-first-page.png"


def main() -> int:
    if shutil.which("pdftoppm") is None:
        print("pdftoppm is missing: sudo apt-get install poppler-utils", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        data = sample.write(sample.generate(2240, seed=2240), work / "customers-sample.csv")
        (work / "config").mkdir()
        shutil.copy(ROOT / "config" / "personas.yaml", work / "config" / "personas.yaml")
        settings = yaml.safe_load((ROOT / "config" / "reporter.yaml").read_text())
        settings.update(source={"path": str(data)}, output={"dir": str(work / "output")}, teams=[])
        (work / "config" / "reporter.yaml").write_text(yaml.safe_dump(settings))
        result = run(load_config(work / "config" / "reporter.yaml"))
        subprocess.run(["pdftoppm", "-r", "70", "-f", "1", "-l", "1", "-png", "-singlefile",
                        str(result.pdf), str(TARGET.with_suffix(""))], check=True)
    print(f"Wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
