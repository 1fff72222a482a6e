"""Make docs/app-this-week.png and docs/app-personas.png, the pictures in docs/marketing/the-app.md.

    .venv/bin/python docs/make_app_screenshots.py      (or: make screenshot)

Runs two weeks of the embedded sample into a temporary archive, starts `reporter app` on a free
port, waits for Streamlit's start-up line and photographs two pages in headless Chromium.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from reporter.app.pipeline import run
from reporter.app.settings import load_config
from reporter.data import sample

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"This week": ROOT / "docs" / "app-this-week.png", "Personas": ROOT / "docs" / "app-personas.png"}


def main() -> int:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("Chromium is missing: sudo apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        config = _archive(Path(folder))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        app = subprocess.Popen([sys.executable, "-m", "reporter", "app", "--config", str(config),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=ROOT)
        try:
            for line in app.stdout:  # the start-up line, then the server listens
                if f":{port}" in line:
                    break
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                for name, target in PAGES.items():
                    page.goto(f"http://127.0.0.1:{port}/?page={name.replace(' ', '+')}",
                              wait_until="networkidle")
                    page.get_by_role("heading", name=name.split()[0]).first.wait_for()
                    page.wait_for_timeout(1500)  # charts finish drawing after the page settles
                    page.screenshot(path=str(target))
                    print(f"wrote {target}")
                browser.close()
        finally:
            app.terminate()
            app.wait(timeout=60)
    return 0


def _archive(work: Path) -> Path:
    first = sample.generate(2240, seed=2240)
    data = sample.write(first, work / "data" / "customers-week1.csv")
    (work / "config").mkdir()
    shutil.copy(ROOT / "config" / "personas.yaml", work / "config" / "personas.yaml")
    settings = yaml.safe_load((ROOT / "config" / "reporter.yaml").read_text())
    settings.update(source={"path": str(data), "name": "sample"}, output={"dir": str(work / "output")},
                    teams=[])
    (work / "config" / "reporter.yaml").write_text(yaml.safe_dump(settings))
    config = load_config(work / "config" / "reporter.yaml")
    run(config)
    run(config, data=sample.write(sample.age(first, 7, seed=2241), work / "data" / "customers-week2.csv"))
    return work / "config" / "reporter.yaml"


if __name__ == "__main__":
    sys.exit(main())
