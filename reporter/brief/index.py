"""The archive's front page: output/index.html lists every run, newest first, with a chart of
persona shares over time. Links are relative, so it works opened straight from disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reporter.archive import write_text_atomic
from reporter.brief import charts
from reporter.brief.render import render_index
from reporter.history.catalogue import RunSummary, all_runs, delivery_words, followed_shares
from reporter.history.record import RECORD_FILE

FALLBACK_COLOURS = ("#1f6f8b", "#8e44ad", "#e67e22", "#7f8c8d", "#c0392b", "#27ae60", "#2c3e50")


@dataclass(frozen=True)
class IndexRow:
    folder: str
    run_id: str
    started_at: str
    as_of: str
    data_file: str
    customers: int
    persona_shares: tuple[tuple[str, float], ...]
    delivery: str
    links: tuple[tuple[str, str], ...]  # label, relative path


@dataclass(frozen=True)
class SourceSection:
    """One customer source: its runs, newest first, and its persona shares by data date."""

    source: str
    rows: tuple[IndexRow, ...]
    chart_svg: str


def rebuild_index(output_dir: Path) -> Path:
    runs = all_runs(output_dir)
    sections = []
    for number, source in enumerate(dict.fromkeys(r.source for r in runs), start=1):
        own = [r for r in runs if r.source == source]
        sections.append(SourceSection(source, tuple(_row(r, own) for r in own),
                                      _share_chart(own, f"history{number}")))
    html = render_index(sections, len(runs))
    target = output_dir / "index.html"
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, html)
    return target


def _row(run: RunSummary, runs: list[RunSummary]) -> IndexRow:
    wanted = [("Brief", "brief.html"), ("PDF", "brief.pdf"), ("Appendix", "appendix.pdf"),
              ("Customers", "customers.csv"), (RECORD_FILE, RECORD_FILE)]
    files = run.files()
    links = tuple((label, f"{run.folder.name}/{name}") for label, name in wanted if name in files)
    links += tuple((label, f"{run.folder.name}/{name}") for label, name in list_links(files))
    persona_links = tuple((Path(name).stem.removeprefix("persona_").replace("_", " "),
                           f"{run.folder.name}/{name}")
                          for name in files if name.startswith("persona_"))
    return IndexRow(run.folder.name, run.run_id, run.started_at[:16].replace("T", " "), run.as_of,
                    run.data_file, run.customers, tuple(run.persona_shares.items()),
                    delivery_words(run, runs),
                    links + persona_links)


NOT_CALL_LISTS = {"customers.csv", "segments.csv"}


def list_links(files: tuple[str, ...]) -> list[tuple[str, str]]:
    """A run's call lists ('Call list: churn risk' -> churn_risk.csv) and change files
    ('New: churn risk' -> changes/new_churn_risk.csv, 'Slipped' -> changes/slipped.csv)."""
    calls = [(f"Call list: {_words(name)}", name) for name in files
             if "/" not in name and name.endswith(".csv") and name not in NOT_CALL_LISTS
             and not name.startswith("persona_")]
    changes = [(_change_label(name), name) for name in files
               if name.startswith("changes/") and name.endswith(".csv")]
    return calls + changes


def _words(name: str) -> str:
    return Path(name).stem.replace("_", " ")


def _change_label(name: str) -> str:
    stem = Path(name).stem
    if stem.startswith("new_"):
        return f"New: {_words(stem.removeprefix('new_'))}"
    return _words(stem).capitalize()


def _share_chart(runs: list[RunSummary], prefix: str) -> str:
    labels, series = share_points(runs)
    return charts.share_history(labels, series, prefix) if labels else ""


def share_points(runs: list[RunSummary]) -> tuple[list[str], list[charts.Series]]:
    """One point per data date: the newest run of that date people received. A persona's line
    starts at the first date it exists (no 0% before it)."""
    received = [r for r in sorted(runs, key=lambda r: r.started_at) if r.record.is_baseline and r.as_of]
    by_date: dict[str, tuple[RunSummary, dict[str, float]]] = {}
    for run, followed in zip(received, followed_shares(received), strict=True):
        by_date[run.as_of] = run, followed  # a renamed persona: one line under its newest name
    if not by_date:
        return [], []
    ordered = [by_date[day][0] for day in sorted(by_date)]
    shares = [by_date[day][1] for day in sorted(by_date)]
    names = list(dict.fromkeys(name for week in shares for name in week))
    colours = {}
    for index, name in enumerate(names):
        stored = [r.record.personas[name].color for r in ordered if name in r.record.personas]
        colours[name] = next((c for c in reversed(stored) if c),
                             FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)])
    labels = [r.as_of for r in ordered]
    return labels, [charts.Series(name, colours[name], _from_first(name, shares)) for name in names]


def _from_first(name: str, shares: list[dict[str, float]]) -> list[float]:
    """Shares per date; NaN (no point, no line) before the persona first appears."""
    first = next(i for i, week in enumerate(shares) if name in week)
    return [float("nan") if i < first else week.get(name, 0.0) for i, week in enumerate(shares)]
