"""How fast each page of `reporter app` is drawn for a source of 1,000,000 customers: the page
script's time in Streamlit's AppTest (the server's part of a page view; the browser's drawing
is not included), the first view of a run (its customers read) and the views after it (read
from the cache), `repeats` times each.

    python -m benchmarks.app [--rows 1000000] [--repeats 3]

Writes benchmarks/results/app.json; `python -m benchmarks --rewrite` puts it in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.common import RESULTS, ROOT, quickened, table

PAGES = ("This week", "Personas", "Customer lookup", "Rule workshop", "Archive")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reporter-bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true",
                        help="the test suite's analysis settings for the run the pages show (the "
                             "harness checked; the page views are timed the same way)")
    args = parser.parse_args(argv)
    from streamlit.testing.v1 import AppTest

    from reporter.app.pipeline import run
    from reporter.app.settings import load_config

    args.work.mkdir(parents=True, exist_ok=True)
    config = project(args.work / f"app-{args.rows}", table(args.rows, args.work), args.quick)
    if not list((config.parent.parent / "output").glob("20*")):
        run(load_config(config))
    os.environ["REPORTER_APP_CONFIG"] = str(config)
    script = str(ROOT / "reporter" / "app" / "dashboard.py")
    first, cached = {p: [] for p in PAGES}, {p: [] for p in PAGES}
    for _ in range(args.repeats):
        for page in PAGES:  # a fresh app each time: its caches start empty
            tested = AppTest.from_file(script, default_timeout=600)
            tested.query_params["page"] = page
            first[page].append(_timed(tested))
            cached[page].append(_timed(tested))
            if page == "Customer lookup":  # the lookup itself, after the page
                start = time.perf_counter()
                tested.text_input[0].input("1").run()
                cached[page][-1] = round(time.perf_counter() - start, 3)
            if tested.exception:
                raise SystemExit(f"{page}: {tested.exception}")
    report = {"rows": args.rows, "repeats": args.repeats, "date": time.strftime("%Y-%m-%d"),
              "load": [round(v, 2) for v in os.getloadavg()],
              "pages": {p: {"first": _median(first[p]), "cached": _median(cached[p])} for p in PAGES}}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "app.json").write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    return report


def project(folder: Path, data: Path, quick: bool = False) -> Path:
    (folder / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "personas.yaml", folder / "config" / "personas.yaml")
    document = yaml.safe_load((ROOT / "config" / "reporter.yaml").read_text())
    document["source"]["path"] = str(data)
    document.update(output={"dir": str(folder / "output")}, teams=[])
    if quick:
        quickened(document)
    (folder / "config" / "reporter.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return folder / "config" / "reporter.yaml"


def _timed(tested) -> float:
    start = time.perf_counter()
    tested.run()
    return round(time.perf_counter() - start, 3)


def _median(values: list[float]) -> dict:
    return {"seconds": statistics.median(values), "runs": sorted(values)}


def markdown(report: dict) -> str:
    """The cold view (the first in the process: nothing cached) and the views after it."""
    lines = ["## The app on a large source", "",
             f"`python -m benchmarks.app` on {report['date']}: each page of `reporter app` for a source "
             f"of {report['rows']:,} customers, the page script's time in Streamlit's AppTest (the "
             "server's part of a page view, not the browser's drawing), "
             f"{report['repeats']} times in one process. The first view of all is cold: it reads "
             "the run's customers (Personas) or prepares them for replays (Rule workshop: read, "
             "cleaned, scored); every later view takes them from the cache (the customer lookup's "
             "figure is a lookup); medians with fastest–slowest. Load average "
             f"{' / '.join(map(str, report['load']))} after.", "",
             "| page | cold view (s) | later views (s) | later views under 1 s |", "|---|---|---|---|"]
    for page, figures in report["pages"].items():
        cold, cached = figures["first"]["runs"][-1], figures["cached"]
        lines.append(f"| {page} | {cold:.2f} | {cached['seconds']:.2f} ({cached['runs'][0]:.2f}–"
                     f"{cached['runs'][-1]:.2f}) | {'yes' if cached['seconds'] < 1 else '**no**'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
