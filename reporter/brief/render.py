"""Render: the Jinja2 environment, the HTML brief and the WeasyPrint PDF.

Autoescape is on (persona names and descriptions are user text) and undefined names fail
loudly, so a template that asks for a field the view model lacks breaks a test, not a brief.
The HTML is self-contained: CSS inline, charts as inline SVG, no external requests; the PDF
is made with a URL fetcher that keeps it so whatever reaches the HTML (a brief.json is read
back from the archive): `data:` URLs and the package's templates only, nothing else fetched.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import math
import threading
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    pass_context,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from reporter.brief import charts, predict_charts
from reporter.brief.propensity import PropensityView
from reporter.brief.view import Brief
from reporter.data.features import REGISTRY
from reporter.errors import ConfigError, EnvironmentProblem

PANGO_HINT = (
    "WeasyPrint cannot load the Pango text library needed for the PDF ({detail}); install it "
    "with `sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core` and run again"
)


SUBJECTS = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def templates_dir() -> Path:
    """The templates are package data: found the same way in a checkout and an installed wheel."""
    return Path(str(resources.files("reporter") / "templates"))


@cache
def environment(autoescape: bool = True) -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(["html", "xml"], default=autoescape,
                                     default_for_string=autoescape),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, pct=pct, num=num, lift=lift, day=day, metric=metric_value,
                       points=points, label=metric_label)
    env.globals["registry"] = REGISTRY
    return env


@pass_context
def money(context, value: float) -> str:
    """Every money figure carries the brief's currency (brief.currency in reporter.yaml)."""
    return "–" if _missing(value) else f"{_currency(context)}{value:,.0f}"


def _currency(context) -> str:
    brief = context.get("brief")
    return brief.units.currency if brief is not None else "$"


def pct(value: float, digits: int = 0) -> str:
    return "–" if _missing(value) else f"{value * 100:.{digits}f}%"


def points(value: float) -> str:
    """A change in percentage points, signed, never '-0.0': what rounds to nothing reads 0.0."""
    rounded = round(value, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return "0.0" if rounded == 0 else f"{rounded:+.1f}"


def num(value: float, digits: int = 1) -> str:
    return "–" if _missing(value) else f"{value:,.{digits}f}"


def lift(value: float) -> str:
    return "–" if _missing(value) else f"{value:.1f}×"


def day(value: date | datetime) -> str:
    return value.strftime("%d %b %Y")


@pass_context
def metric_value(context, value: float, name: str, one_customer: bool = False) -> str:
    """A metric in its unit; one customer's counts are whole numbers, a group's are means."""
    unit = REGISTRY[name].unit
    if unit == "money":
        return money(context, value)
    if unit == "ratio":
        return pct(value)
    return num(value, 0 if unit in {"days", "years"} or one_customer else 1)


@pass_context
def metric_label(context, name: str) -> str:
    """A metric's label with the period it covers, where the brief has units."""
    brief = context.get("brief")
    return brief.units.label(name) if brief is not None else REGISTRY[name].label


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def render_html(brief: Brief) -> str:
    css = (templates_dir() / "brief.css").read_text(encoding="utf-8")
    template = environment().get_template("brief.html.j2")
    return template.render(brief=brief, css=Markup(css), charts=draw_charts(brief),
                           k_chart=svg_image(_k_chart(brief)))


def render_appendix_html(brief: Brief) -> str:
    """The analyst's appendix on its own (brief.appendix: separate), for appendix.pdf."""
    css = (templates_dir() / "brief.css").read_text(encoding="utf-8")
    template = environment().get_template("appendix.html.j2")
    return template.render(brief=brief, css=Markup(css), charts=draw_charts(brief),
                           k_chart=svg_image(_k_chart(brief)))


def draw_charts(brief: Brief) -> dict[str, Markup]:
    """The brief's charts, drawn from its numbers (nothing is stored drawn), as SVG images
    inside the page: vector like inline SVG, but WeasyPrint lays out one image instead of
    styling every path and label of every chart (0.45 s of a 2 s PDF on the sample)."""
    scatter, income = brief.scatter, brief.income_spend
    return {
        "sizes": svg_image(drawn(charts.persona_sizes, _bars(brief))),
        "spend_mix": svg_image(_mix(brief.spend_mix)),
        "channel_mix": svg_image(_mix(brief.channel_mix)),
        "income_spend": svg_image(drawn(charts.income_spend, list(income.groups), income.title,
                                        income.x_limit, income.axes)),
        "scatter": svg_image(drawn(charts.pca_scatter, list(scatter.groups), scatter.axes)),
        "campaigns": (svg_image(drawn(charts.rate_bars, brief.campaigns)) if brief.campaigns
                      else Markup("")),
        **_propensity_charts(brief.propensity),
    }


def _propensity_charts(view: PropensityView | None) -> dict[str, Markup]:
    """The lift chart (page 1) and the reliability curve (appendix), when there is a model."""
    if view is None or view.grading is None:
        return {"lift": Markup(""), "reliability": Markup("")}
    grading = view.grading
    return {
        "lift": svg_image(drawn(predict_charts.lift_bars, [b.decile for b in view.lift],
                                [b.expected for b in view.lift],
                                [b.observed for b in view.lift], view.expected_rate)),
        "reliability": svg_image(drawn(
            predict_charts.reliability_curve, [b.predicted for b in grading.reliability],
            [b.observed for b in grading.reliability], grading.brier)),
    }


DRAWN_KEPT = 40  # charts kept drawn: a brief has ten, so the last four briefs' worth
_drawn: OrderedDict[tuple, str] = OrderedDict()
_drawn_lock = threading.Lock()


def drawn(draw: Callable[..., str], *args) -> str:
    """`draw(*args)`, drawn once per process for the same numbers. A chart is the same bytes
    for the same input (tests/test_charts.py), so a second render of the same figures takes
    matplotlib's SVG from here: the re-render after a PDF warning, appendix.pdf beside the
    brief, `reporter rerender`, and a test session's many runs of one sample table."""
    key = (draw.__module__, draw.__qualname__, _key(args))
    with _drawn_lock:
        if key in _drawn:
            _drawn.move_to_end(key)
            return _drawn[key]
    svg = draw(*args)
    with _drawn_lock:
        _drawn[key] = svg
        while len(_drawn) > DRAWN_KEPT:
            _drawn.popitem(last=False)
    return svg


def _key(value):
    """A chart input as a hashable value that is equal exactly when the input is: arrays by
    their bytes (never their shortened repr), records field by field."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__qualname__,
                *(_key(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, list | tuple):
        return (type(value).__name__, *(_key(item) for item in value))
    if isinstance(value, dict):
        return ("dict", *((_key(k), _key(v)) for k, v in value.items()))
    hash(value)  # anything else must be hashable as it is (str, numbers, None)
    return (type(value).__name__, value)


def svg_image(svg: str) -> Markup:
    """An SVG chart as a self-contained <img> (a data: URL; no file, no request)."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return Markup(f'<img class="chart-image" alt="" src="data:image/svg+xml;base64,{data}">')


def size_chart_png(brief: Brief) -> bytes:
    """The persona-size chart as PNG, for email clients that do not show SVG."""
    return charts.persona_sizes_png(_bars(brief))


def _bars(brief: Brief) -> list[charts.Bar]:
    return [charts.Bar(r.name, r.share, r.spend_share, r.color) for r in brief.personas]


def _mix(chart: charts.MixChart) -> str:
    return drawn(charts.mix_bars, list(chart.rows), list(chart.parts), chart.title, chart.prefix)


def _k_chart(brief: Brief) -> str:
    rows = brief.model.k_rows
    chosen = next(r.k for r in rows if r.chosen)
    elbow = next((r.k for r in rows if r.elbow), chosen)
    return drawn(charts.k_selection, [r.k for r in rows], [r.inertia for r in rows],
                 [r.silhouette for r in rows], chosen, elbow)


CHART_CID = "persona-sizes"


def render_index(sections: list, runs: int) -> str:
    css = (templates_dir() / "brief.css").read_text(encoding="utf-8")
    charts_svg = {s.source: Markup(s.chart_svg) for s in sections}
    return environment().get_template("index.html.j2").render(
        sections=sections, runs=runs, charts=charts_svg, css=Markup(css))


@dataclass(frozen=True)
class EmailBody:
    subject: str
    html: str
    text: str


def render_email(brief: Brief, team: str, first: tuple[str, ...], subject_template: str,
                 calls: tuple = (), lists: tuple = ()) -> EmailBody:
    """The email for one team: its personas and flags first, the chart as a CID image;
    `calls` the first customers it names, `lists` its call lists (attached or where they are)."""
    rank = {name: index for index, name in enumerate(first)}
    personas = sorted(brief.personas, key=lambda p: rank.get(p.name, len(rank)))
    flags = sorted(brief.flags, key=lambda f: rank.get(f.name, len(rank)))
    context = {"brief": brief, "team": team, "personas": personas, "flags": flags,
               "chart_cid": CHART_CID, "calls": calls, "lists": lists}
    env = environment()
    text_env = environment(autoescape=False)
    return EmailBody(
        subject=render_subject(subject_template, brief, team),
        html=env.get_template("email.html.j2").render(context),
        text=text_env.get_template("email.txt.j2").render(context),
    )


def render_subject(template: str, brief: Brief, team: str) -> str:
    """Managers write the subject; a sandbox keeps their template from reaching anything else."""
    flags = {f.name: f.to_contact for f in brief.flags}  # what each attached list holds
    summary = (f"{brief.flags[0].to_contact:,} {brief.flags[0].name.lower()} customers to contact"
               if brief.flags else f"{brief.customers:,} customers")  # as many as the attached list
    try:
        subject = SUBJECTS.from_string(template).render(
            date=f"{brief.run_date:%Y-%m-%d}", as_of=f"{brief.as_of:%Y-%m-%d}",
            customers=brief.customers, summary=summary, flags=flags, team=team,
            personas={p.name: p.size for p in brief.personas},
        )
    except TemplateError as exc:
        raise ConfigError(f"teams: subject of team {team!r} cannot be rendered ({exc}); "
                          "use {{ date }}, {{ summary }}, {{ customers }} or {{ team }}") from None
    subject = " ".join(subject.split())
    as_of = f"{brief.as_of:%Y-%m-%d}"
    # every subject names its data's date, so weekly briefs never read as one thread
    return subject if as_of in subject else f"{subject} (data as of {as_of})"


log = logging.getLogger("reporter")
SHOWN_URL_CHARACTERS = 120


def render_pdf(html: str) -> bytes:
    """A4 PDF with page numbers (from the CSS @page rules) via WeasyPrint, fetching nothing
    but `data:` URLs and the package's templates (see `allowed_url`)."""
    weasyprint = _import_weasyprint()
    fetcher = local_fetcher(weasyprint)
    library_log = logging.getLogger("weasyprint")
    library_log.addFilter(_hide_refusals)  # said once below, in our words
    try:
        pdf = weasyprint.HTML(string=html, base_url=str(templates_dir()),
                              url_fetcher=fetcher).write_pdf()
    finally:
        library_log.removeFilter(_hide_refusals)
    _report_refused(fetcher.refused)
    return pdf


REFUSED = "refused: a brief loads nothing from outside itself"


def _hide_refusals(record: logging.LogRecord) -> bool:
    return REFUSED not in record.getMessage()


def allowed_url(url: str) -> bool:
    """What a brief may load: a `data:` URL, or a file inside the package's templates folder
    (symlinks resolved). No network, no other file: a brief needs neither."""
    scheme = url.partition(":")[0].lower()
    if scheme == "data":
        return True
    if scheme != "file":
        return False
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        return False
    path = Path(urllib.request.url2pathname(parts.path)).resolve()
    return path.is_relative_to(templates_dir().resolve())


def local_fetcher(weasyprint):
    """A WeasyPrint URL fetcher that refuses (and records) every URL `allowed_url` rejects."""
    base = getattr(weasyprint, "URLFetcher", None)
    if base is None:  # WeasyPrint before 68: a fetcher is a function returning a dict
        return _LocalFunctionFetcher(weasyprint.default_url_fetcher)

    class LocalFetcher(base):
        def __init__(self):
            super().__init__(allowed_protocols=("data", "file"), allow_redirects=False)
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            if not allowed_url(url):
                self.refused.append(url)
                raise ValueError(REFUSED)
            return super().fetch(url, headers)

    return LocalFetcher()


class _LocalFunctionFetcher:
    def __init__(self, fetch):
        self._fetch = fetch
        self.refused: list[str] = []

    def __call__(self, url, *args, **kwargs):
        if not allowed_url(url):
            self.refused.append(url)
            raise ValueError(REFUSED)
        return self._fetch(url, *args, **kwargs)


def _report_refused(refused: list[str]) -> None:
    """Nothing is dropped silently: the URLs refused are named (shortened) in the log."""
    if not refused:
        return
    shown = ", ".join(url[:SHOWN_URL_CHARACTERS] for url in dict.fromkeys(refused))
    log.warning(f"brief PDF: refused to load {len(refused)} resource(s) from outside the brief "
                f"({shown}); the PDF was drawn without them")


def check_pdf_engine() -> None:
    """Fail before any work is done when the PDF cannot be made on this machine."""
    _import_weasyprint()


def _import_weasyprint():
    try:
        import weasyprint
    except OSError as exc:  # cffi raises OSError when libpango is missing
        raise EnvironmentProblem(PANGO_HINT.format(detail=" ".join(str(exc).split())[:120])) from None
    return weasyprint
