"""Same-run A/B of the html + pdf stage: one archived brief (the generated sample, 2,240 rows,
seed 2240) drawn by this checkout and by another (`--vs`, e.g. an extracted copy of main),
each in a fresh process, taking turns, `--repeats` times.

Each process imports the renderer first (not timed), then times the brief's first render
(HTML with its charts, then the PDF: what a weekly run pays) and the same brief again in the
same process (the re-render after a PDF warning, appendix.pdf, `reporter rerender`, a test
session's runs of one sample). CPU is the process's own user + system time. Figures are the
median of the repeats with the fastest and slowest. Writes benchmarks/results/render.json and
prints the table BENCHMARKS.md holds.

    python -m benchmarks.render --vs /tmp/pdf-main [--repeats 5] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, project

ROWS, SEED = 2240, 2240
CHILD = """
import json, sys, time
from pathlib import Path
from reporter.brief.view import read_brief
from reporter.brief.render import render_html, render_pdf
brief = read_brief(Path(sys.argv[1]))
out = {}
for name in ("first", "again"):
    wall, cpu = time.perf_counter(), time.process_time()
    html = render_html(brief)
    html_cpu = time.process_time() - cpu
    pdf = render_pdf(html)
    out[name] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                 "html_cpu": html_cpu, "pdf_cpu": time.process_time() - cpu - html_cpu}
out["pdf_bytes"] = len(pdf)
print(json.dumps(out))
"""
MEASURES = (("first", "cpu", "first render: html + pdf CPU (s)"),
            ("first", "html_cpu", "first render: html (charts) CPU (s)"),
            ("first", "pdf_cpu", "first render: pdf CPU (s)"),
            ("first", "wall", "first render: wall (s)"),
            ("again", "cpu", "same brief again: html + pdf CPU (s)"),
            ("again", "wall", "same brief again: wall (s)"))


def archived_brief(work: Path) -> Path:
    """One fit-week run of the sample, made once with this checkout; its brief.json is read
    by both trees (the brief's format is the same)."""
    folders = sorted((work / "project" / "output").glob("20*"))
    if folders:
        return folders[-1]
    data = work / "sample.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "reporter", "sample", "--rows", str(ROWS), "--seed",
                    str(SEED), "--out", str(data)], check=True, env=env, cwd=ROOT)
    config = project(work / "project", data)
    subprocess.run([sys.executable, "-m", "reporter", "run", "--config", str(config), "--dry-run"],
                   check=True, env=env, cwd=ROOT, capture_output=True)
    return sorted((work / "project" / "output").glob("20*"))[-1]


def render_once(tree: Path, folder: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder)], env=env, cwd=tree,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(samples: list[dict]) -> dict:
    return {f"{when}_{what}": [statistics.median(s[when][what] for s in samples),
                               min(s[when][what] for s in samples),
                               max(s[when][what] for s in samples)]
            for when, what, _ in MEASURES} | {"pdf_bytes": samples[-1]["pdf_bytes"]}


def table(this: dict, other: dict, vs: str) -> str:
    lines = [f"| measure | this tree | {vs} | ratio |", "|---|---|---|---|"]
    for when, what, label in MEASURES:
        a, b = this[f"{when}_{what}"], other[f"{when}_{what}"]
        lines.append(f"| {label} | {a[0]:.2f} ({a[1]:.2f}–{a[2]:.2f}) | "
                     f"{b[0]:.2f} ({b[1]:.2f}–{b[2]:.2f}) | {b[0] / a[0]:.1f}x |")
    lines.append(f"| PDF size (KB) | {this['pdf_bytes'] / 1024:.0f} | {other['pdf_bytes'] / 1024:.0f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vs", type=Path, required=True, help="the other checkout (e.g. main)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="render-bench-"))
    folder = archived_brief(work)
    this, other = [], []
    for _ in range(args.repeats):  # taking turns, so the machine's load falls on both alike
        this.append(render_once(ROOT, folder))
        other.append(render_once(args.vs.resolve(), folder))
    load = os.getloadavg()
    result = {"this": summary(this), "vs": summary(other), "vs_tree": str(args.vs),
              "repeats": args.repeats, "load_average": [round(x, 2) for x in load]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "render.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result["this"], result["vs"], args.vs.name))
    print(f"load average after: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")


if __name__ == "__main__":
    main()
