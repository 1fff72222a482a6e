"""Where each stage spends its time: one whole `reporter run`, every top-level stage under its
own cProfile, the functions with the most time of their own per stage.

    python -m benchmarks.profile --rows 1000000 [--work DIR] [--top 4]

Profiles the fit week and the scored week of a fresh archive (in this process, so the figures
carry cProfile's overhead: read them as shares, not as times) and writes the tables to
benchmarks/results/profile.json and the "Profile" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import pstats
import tempfile
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, project, table

PROFILE_START = "## Profile"
DONE = (  # what the profile led to, newest first; what it shows next is in the last line
    "profile + personas: grouped by persona names as text and computed medians nobody read; "
    "now category codes and means only (at 1M: 1.70 -> 0.69 s for the personas, 2.00 -> 0.57 s "
    "for the segments, medians of 3 in one session).",
    "pdf: WeasyPrint computed CSS for every path and label of inline SVG charts; the charts are "
    "now SVG images inside the page (the sample's PDF 2.0-2.6 s -> 1.55-1.66 s).",
    "start-up: scikit-learn and scipy.optimize were imported by every run; only fitting imports "
    "them now, and scheduled runs fork from a warm process (the sample's scored week 5.7 s -> "
    "3.6 s under `reporter schedule`).",
    "refit: the week scored with the old model was kept beside the refit; now only its drift "
    "(1M refit-week peak 1,942 -> 1,516 MiB).",
    "next: `write_csv` writes the same million rows three times (customers.csv, the persona "
    "files, segments.csv); reading the CSV; KMeans' Lloyd iterations lead the fit.",
)


class ProfiledStages:
    """A StageTimer whose top-level stages each run under their own profiler (nested stages,
    such as exports inside archive, belong to their parent: one profiler at a time)."""

    def __init__(self, timer_class):
        self.timer_class = timer_class
        self.profiles: dict[str, pstats.Stats] = {}

    def timer(self):
        outer = self

        class Timer(self.timer_class):
            depth = 0

            def __call__(self, name: str):
                inner = super().__call__(name)

                @contextlib.contextmanager
                def profiled():
                    if Timer.depth:
                        with inner:
                            yield
                        return
                    Timer.depth += 1
                    profiler = cProfile.Profile()
                    try:
                        with inner:
                            profiler.enable()
                            try:
                                yield
                            finally:
                                profiler.disable()
                    finally:
                        Timer.depth -= 1
                        outer._add(name, profiler)
                return profiled()
        return Timer

    def _add(self, name: str, profiler: cProfile.Profile) -> None:
        stats = pstats.Stats(profiler)
        if name in self.profiles:
            self.profiles[name].add(stats)
        else:
            self.profiles[name] = stats

    def top(self, count: int) -> dict[str, list[dict]]:
        """Per stage: total seconds and the functions with the most time of their own."""
        table = {}
        for name, stats in self.profiles.items():
            rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:count]
            table[name] = {
                "seconds": round(stats.total_tt, 2),
                "functions": [{"function": _where(key), "own_seconds": round(value[2], 2),
                               "calls": value[1]} for key, value in rows],
            }
        return table


def _where(key: tuple[str, int, str]) -> str:
    path, line, function = key
    if path == "~":
        return function  # a built-in, e.g. <method 'reduce' of 'numpy.ufunc' objects>
    parts = Path(path).parts
    for anchor in ("site-packages", "reporter"):
        if anchor in parts:
            return f"{'/'.join(parts[parts.index(anchor) + 1:])}:{line} {function}"
    return f"{Path(path).name}:{line} {function}"


def profile_weeks(rows: int, work: Path, count: int, quick: bool = False) -> dict:
    import reporter.app.pipeline as pipeline
    from reporter.app.settings import load_config

    data = table(rows, work)
    config = project(work / f"profile-{rows}", data, quick)
    weeks = {}
    original = pipeline.StageTimer
    try:
        for week in ("fit", "scored"):
            profiled = ProfiledStages(original)
            pipeline.StageTimer = profiled.timer()
            pipeline.run(load_config(config), data=data)
            weeks[week] = profiled.top(count)
    finally:
        pipeline.StageTimer = original
    return {"rows": rows, "weeks": weeks}


def markdown(report: dict, slowest: int = 6) -> str:
    lines = [PROFILE_START, "",
             f"cProfile of one fit week and one scored week at {report['rows']:,} rows "
             "(`python -m benchmarks.profile`; in-process, with the profiler's overhead, so the "
             "seconds are for comparing stages, not wall times). For the slowest stages, the "
             "functions with the most time of their own:", ""]
    for week, stages in report["weeks"].items():
        lines += [f"**{week} week**", "", "| stage | s | top functions (own seconds) |",
                  "|---|---|---|"]
        ranked = sorted(stages.items(), key=lambda item: -item[1]["seconds"])[:slowest]
        for name, entry in ranked:
            functions = "; ".join(f"`{f['function']}` {f['own_seconds']:.2f}"
                                  for f in entry["functions"])
            lines.append(f"| {name} | {entry['seconds']:.1f} | {functions} |")
        lines.append("")
    lines += ["What was done about it:", "", *(f"- {line}" for line in DONE), ""]
    return "\n".join(lines)


def write(report: dict, results: Path, benchmarks_md: Path) -> None:
    """profile.json, and the Profile section of BENCHMARKS.md replaced (or appended)."""
    results.mkdir(parents=True, exist_ok=True)
    (results / "profile.json").write_text(json.dumps(report, indent=2) + "\n")
    text = benchmarks_md.read_text() if benchmarks_md.is_file() else "# Benchmarks\n"
    before = text.split(PROFILE_START, 1)[0].rstrip()
    benchmarks_md.write_text(before + "\n\n" + markdown(report))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--top", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reporter-bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--markdown", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true",
                        help="the test suite's analysis settings (the harness checked, not timed)")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    report = profile_weeks(args.rows, args.work, args.top, args.quick)
    write(report, args.results, args.markdown)
    return report


if __name__ == "__main__":
    main()
