"""Charts: every figure of the brief, drawn in one style and returned as SVG text.

Charts never read files or compute statistics; they draw what they are given. Output is
deterministic (fixed hash salt, no timestamps) so the same run gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import re
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#666666",
    "svg.fonttype": "none",
    "svg.hashsalt": "smartcart-reporter",
    "text.parse_math": False,  # names and labels are text, never TeX ("$\\frac{$" broke a chart)
}
TEXT_COLOUR = "#333333"


@functools.cache
def _matplotlib():
    """matplotlib on the Agg backend, imported at the first chart: the commands that build a
    brief's view without drawing it (assign, personas replay, validate --data) and every
    `import reporter.app.pipeline` would otherwise wait for its half second of imports."""
    import matplotlib  # at the first chart: see the docstring

    matplotlib.use("Agg")
    return matplotlib


def warm() -> None:
    """Import what drawing needs now (the scheduler's forkserver, once for every run)."""
    _figure((1.0, 1.0))


def _style():
    """The brief's chart style, as a context for drawing one chart."""
    return _matplotlib().rc_context(STYLE)


@dataclass(frozen=True)
class Bar:
    label: str
    share: float  # of customers, 0..1
    spend_share: float  # of spend, 0..1
    color: str


def persona_sizes(bars: list[Bar]) -> str:
    """Horizontal bars: share of customers, with share of spend beside each (SVG)."""
    with _style():
        return _svg(_persona_sizes_figure(bars), "sizes")


def persona_sizes_png(bars: list[Bar]) -> bytes:
    """The same chart as PNG, for email clients that do not show SVG."""
    with _style():
        buffer = io.BytesIO()
        _persona_sizes_figure(bars).savefig(buffer, format="png", dpi=110,
                                            metadata={"Software": None})
        return buffer.getvalue()


def _figure(figsize: tuple[float, float]) -> Figure:
    """A figure with its own Agg canvas. Without one, every tight_layout pass (two per titled
    chart) makes a new renderer and measures every label again; with it the passes share one
    renderer and its text-metrics cache. The SVG drawn is byte for byte the same."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # at the first chart: see _matplotlib
    from matplotlib.figure import Figure  # at the first chart: see _matplotlib

    _matplotlib()  # the Agg backend, once

    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure


def _persona_sizes_figure(bars: list[Bar]) -> Figure:
    with _style():
        figure = _figure(figsize=(6.4, 0.55 * len(bars) + 1.1))
        axes = figure.subplots()
        positions = np.arange(len(bars))[::-1]
        axes.barh(positions + 0.18, [b.share * 100 for b in bars], height=0.36,
                  color=[b.color for b in bars], label="% of customers")
        axes.barh(positions - 0.18, [b.spend_share * 100 for b in bars], height=0.36,
                  color=[b.color for b in bars], alpha=0.45, label="% of spend")
        for y, bar in zip(positions, bars, strict=True):
            axes.text(bar.share * 100 + 0.8, y + 0.18, f"{bar.share:.0%}", va="center", fontsize=8)
            axes.text(bar.spend_share * 100 + 0.8, y - 0.18, f"{bar.spend_share:.0%} of spend",
                      va="center", fontsize=8, color=TEXT_COLOUR)
        axes.set_yticks(positions, [b.label for b in bars])
        axes.set_xlabel("Share (%)")
        axes.set_xlim(0, max(max(b.share, b.spend_share) for b in bars) * 100 * 1.3 + 1)
        _title(figure, axes, _size_title(bars))
        return figure


def _size_title(bars: list[Bar]) -> str:
    top = max(bars, key=lambda b: b.spend_share)
    return f"{top.label}: {top.share:.0%} of customers, {top.spend_share:.0%} of spend"


@dataclass(frozen=True)
class ScatterGroup:
    label: str
    color: str
    points: np.ndarray  # n x 2


@dataclass(frozen=True)
class PointChart:
    """A scatter's data: points per persona (already subsampled), axis words, a title."""

    groups: tuple[ScatterGroup, ...]
    axes: tuple[str, str] = ("", "")
    title: str = ""
    x_limit: float = 0.0  # income scatter: where the income axis stops

    @property
    def points(self) -> int:
        return sum(len(group.points) for group in self.groups)


def pca_scatter(groups: list[ScatterGroup], axis_labels: tuple[str, str]) -> str:
    with _style():
        figure = _figure(figsize=(6.4, 4.4))
        axes = figure.subplots()
        for group in groups:
            axes.scatter(group.points[:, 0], group.points[:, 1], s=7, alpha=0.55,
                         color=group.color, label=group.label, linewidths=0, rasterized=True)
        axes.set_xlabel(_wrap(axis_labels[0]))
        axes.set_ylabel(_wrap(axis_labels[1], 50))
        axes.set_title("Customers on the two main PCA components, coloured by persona", loc="left")
        axes.legend(frameon=False, fontsize=8, markerscale=2.5, loc="best")
        figure.tight_layout()
        return _svg(figure, "scatter")


def k_selection(ks: list[int], inertias: list[float], silhouettes: list[float],
                chosen: int, elbow: int) -> str:
    """Inertia and silhouette against k, side by side, with the chosen k marked."""
    with _style():
        figure = _figure(figsize=(6.4, 2.6))
        left, right = figure.subplots(1, 2)
        left.plot(ks, inertias, marker="o", color="#1f6f8b")
        left.set_title("Inertia (lower is tighter)", loc="left")
        right.plot(ks, silhouettes, marker="o", color="#8e44ad")
        right.set_title("Silhouette (higher is better)", loc="left")
        for axes, values in ((left, inertias), (right, silhouettes)):
            axes.axvline(chosen, color="#c0392b", linestyle="--", linewidth=1)
            axes.annotate(f"chosen k={chosen}", (chosen, values[ks.index(chosen)]),
                          textcoords="offset points", xytext=(6, 6), fontsize=8, color="#c0392b")
            axes.set_xlabel("k (number of segments)")
            axes.set_xticks(ks)
        if elbow != chosen:
            left.annotate(f"elbow k={elbow}", (elbow, inertias[ks.index(elbow)]),
                          textcoords="offset points", xytext=(6, -12), fontsize=8)
        figure.tight_layout()
        return _svg(figure, "kselect")


MIX_PALETTE = ("#2e4057", "#66a182", "#d1495b", "#edae49", "#00798c", "#8d96a3")


@dataclass(frozen=True)
class Mix:
    """Shares of one whole (spend by category, purchases by channel) for each persona."""

    persona: str
    shares: tuple[float, ...]  # one per part, summing to 1


@dataclass(frozen=True)
class MixChart:
    """A stacked-bar chart's data: each persona's split over `parts`, titled with the finding."""

    rows: tuple[Mix, ...]
    parts: tuple[str, ...]
    title: str
    prefix: str  # for the SVG's ids, unique per chart of a page


def mix_bars(rows: list[Mix], parts: list[str], title: str, prefix: str) -> str:
    """100% stacked horizontal bars, one per persona, parts labelled where they are wide."""
    with _style():
        figure = _figure(figsize=(6.4, 0.5 * len(rows) + 1.4))
        axes = figure.subplots()
        positions = np.arange(len(rows))[::-1]
        left = np.zeros(len(rows))
        for index, part in enumerate(parts):
            widths = np.array([row.shares[index] * 100 for row in rows])
            colour = MIX_PALETTE[index % len(MIX_PALETTE)]
            axes.barh(positions, widths, left=left, color=colour, label=part, height=0.6)
            for y, x, width in zip(positions, left, widths, strict=True):
                if width >= 9:
                    axes.text(x + width / 2, y, f"{width:.0f}%", ha="center", va="center",
                              fontsize=7.5, color="white")
            left += widths
        axes.set_yticks(positions, [row.persona for row in rows])
        axes.set_xlim(0, 100)
        axes.set_xlabel("Share (%)")
        axes.legend(frameon=False, fontsize=7.5, ncol=len(parts), loc="upper center",
                    bbox_to_anchor=(0.5, -0.35 if len(rows) > 2 else -0.5))
        _title(figure, axes, title)
        return _svg(figure, prefix)


def income_spend(groups: list[ScatterGroup], title: str, income_limit: float,
                 axis_labels: tuple[str, str]) -> str:
    """Income against total spend, one colour per persona (points already subsampled);
    the income axis stops at `income_limit` so one extreme income cannot squash the rest."""
    with _style():
        figure = _figure(figsize=(6.4, 4.0))
        axes = figure.subplots()
        for group in groups:
            axes.scatter(group.points[:, 0] / 1000, group.points[:, 1], s=7, alpha=0.55,
                         color=group.color, label=group.label, linewidths=0, rasterized=True)
        axes.set_xlim(0, income_limit / 1000)
        axes.set_xlabel(axis_labels[0])
        axes.set_ylabel(axis_labels[1])
        axes.legend(frameon=False, fontsize=8, markerscale=2.5, loc="upper left")
        _title(figure, axes, title)
        return _svg(figure, "income")


@dataclass(frozen=True)
class Rates:
    """One persona's rates (0..1), one per part of a RateChart."""

    persona: str
    color: str
    rates: tuple[float, ...]


@dataclass(frozen=True)
class RateChart:
    """Rates by persona over a few parts (campaigns, complaints), with the population's."""

    rows: tuple[Rates, ...]
    parts: tuple[str, ...]
    title: str
    population: tuple[float, ...]


def rate_bars(chart: RateChart) -> str:
    """Grouped columns: one group per part, one column per persona in its colour, and the
    population's rate as a dash across each group."""
    with _style():
        figure = _figure(figsize=(6.4, 3.2))
        axes = figure.subplots()
        width = 0.8 / max(len(chart.rows), 1)
        positions = np.arange(len(chart.parts))
        for index, row in enumerate(chart.rows):
            offsets = positions - 0.4 + width * (index + 0.5)
            values = [r * 100 for r in row.rates]
            axes.bar(offsets, values, width=width * 0.92, color=row.color, label=row.persona)
            for x, value in zip(offsets, values, strict=True):
                axes.text(x, value + 0.3, f"{value:.0f}", ha="center", va="bottom", fontsize=6.5)
        axes.hlines([p * 100 for p in chart.population], positions - 0.42, positions + 0.42,
                    colors="#222222", linestyles="--", linewidth=1, label="All customers")
        axes.set_xticks(positions, list(chart.parts), fontsize=8)
        axes.set_ylabel("Customers who did (%)")
        axes.set_ylim(0, max(max(r.rates) for r in chart.rows) * 100 * 1.25 + 1)
        axes.legend(frameon=False, fontsize=7.5, ncol=min(len(chart.rows) + 1, 5),
                    loc="upper center", bbox_to_anchor=(0.5, -0.28))
        _title(figure, axes, chart.title)
        return _svg(figure, "campaigns")


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    values: list[float]  # shares 0..1, one per run


def share_history(run_labels: list[str], series: list[Series], prefix: str = "history") -> str:
    """Persona shares per data date, oldest to newest (NaN: no point)."""
    with _style():
        figure = _figure(figsize=(7.5, 3.0))
        axes = figure.subplots()
        positions = list(range(len(run_labels)))
        for line in series:
            axes.plot(positions, [v * 100 for v in line.values], marker="o", color=line.color,
                      label=line.label)
        axes.set_xticks(positions, run_labels, fontsize=7)
        axes.set_ylabel("Share of customers (%)")
        axes.set_title("Persona shares over time", loc="left")
        axes.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
        figure.tight_layout()
        return _svg(figure, prefix)


TITLE_EM = 0.68  # a bold DejaVu Sans character's mean width, in em (generous: wraps early)


def _title(figure: Figure, axes, title: str) -> None:
    """A title wrapped to the room right of where the axes start (persona names as tick
    labels push them right), never cut at the chart's edge; then the layout again."""
    figure.tight_layout()
    width = figure.get_figwidth()
    room = width * (1 - axes.get_position().x0) - 0.1  # inches
    size = float(_matplotlib().rcParams["axes.titlesize"])
    axes.set_title(_wrap(title, max(16, int(room * 72 / (size * TITLE_EM)))), loc="left")
    figure.tight_layout()


def _wrap(text: str, width: int = 80) -> str:
    return "\n".join(textwrap.wrap(text, width)) if text else ""


def _svg(figure: Figure, prefix: str) -> str:
    buffer = io.StringIO()
    # Scatter points are rasterized (at 150 dpi) inside the SVG: thousands of vector dots
    # make the PDF slow to render and large, and a reader cannot tell the difference.
    figure.savefig(buffer, format="svg", dpi=150, metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    svg = _prefix_ids(_slim(text[text.index("<svg"):]), prefix)
    # Scale with the page: drop the fixed size in points, keep the viewBox.
    return re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r'<svg\1 width="100%"', svg, count=1)


METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
NO_ROTATION = re.compile(r' transform="rotate\(-?0 [-+\d.e]+ [-+\d.e]+\)"')
BARE_GROUP = re.compile(r'\s*<g(?: id="[^"]*")?>')
EMPTY_GROUP = re.compile(r'\s*<g(?: id="[^"]*")?/>')


def _slim(svg: str) -> str:
    """matplotlib's SVG without what draws nothing: the metadata, rotations by 0 degrees and
    the groups that only carry an id (two of every three elements; no style, no transform, no
    clip, never referenced). WeasyPrint draws an SVG node by node, so the brief's charts cost
    it a quarter less; a browser and the PDF show the same pixels. matplotlib writes one tag
    per line, so a group is known by its line and closed by the next `</g>` at its depth."""
    lines, open_groups = [], []
    for line in NO_ROTATION.sub("", METADATA.sub("", svg, count=1)).split("\n"):
        if BARE_GROUP.fullmatch(line):
            open_groups.append(False)
        elif EMPTY_GROUP.fullmatch(line):
            continue
        elif line.lstrip().startswith("<g"):
            open_groups.append(True)
            lines.append(line)
        elif line.strip() == "</g>":
            if open_groups.pop():
                lines.append(line)
        else:
            lines.append(line)
    return "\n".join(lines)


def _prefix_ids(svg: str, prefix: str) -> str:
    """matplotlib numbers ids from 1 in every figure; two inline charts would share ids
    (invalid HTML, and clip paths could point into the wrong chart)."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    if not ids:
        return svg
    pattern = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    svg = re.sub(rf'\bid="({pattern})"', rf'id="{prefix}-\1"', svg)
    return re.sub(rf'#({pattern})(?=["\)])', rf"#{prefix}-\1", svg)
