"""What the app (`reporter app`) shows, without Streamlit: the source's runs and their
figures, customers and their history, and the rule workshop's check, replay and save. Kept
apart from the page script so every figure is tested as plain data, and read from the same
records, files and functions as the brief and `reporter validate`, so the app never says
anything the brief would not.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv

from reporter.app.archived import Replay, Replayable, replay_with
from reporter.app.params import configured_source_key
from reporter.app.settings import Config
from reporter.brief.charts import MixChart, RateChart
from reporter.brief.view import Brief, read_brief
from reporter.errors import ReporterError
from reporter.history.catalogue import RunSummary, find_baseline, followed_shares, runs_of
from reporter.personas.rulebook import read_rulebook

SAMPLE_ROWS = 50_000  # charts and distributions read a fixed-seed sample above this
# The workshop checks the text at every keystroke: bounded before anything parses it, so a
# pasted 40,000-character line costs nothing (a real personas.yaml is a few kB, lines < 200).
MAX_RULES_CHARS = 100_000
MAX_LINE_CHARS = 2_000
METRICS = {"income": "Income", "total_spending": "Spend", "total_purchases": "Purchases",
           "recency": "Days since last purchase", "age": "Age", "deal_share": "Share bought on deal",
           "web_visits": "Web visits a month"}


def source_runs(config: Config) -> list[RunSummary]:
    """The configured source's runs, newest first."""
    return runs_of(config.output_dir, configured_source_key(config))


def latest_delivered(config: Config) -> RunSummary | None:
    """The run the brief readers received last (what `reporter serve` scores with too)."""
    return find_baseline(config.output_dir, configured_source_key(config), datetime.max.date())


def persona_table(run: RunSummary) -> pd.DataFrame:
    """The brief's persona figures, in the brief's order and colours."""
    return pd.DataFrame([{"persona": name, "customers": f.customers, "share": f.share,
                          "spend share": f.spend_share, "color": f.color}
                         for name, f in run.record.personas.items()])


def share_trend(runs: list[RunSummary]) -> pd.DataFrame:
    """Each persona's share of customers by the data's date (one row per delivered run)."""
    ordered = [run for run in sorted(runs, key=lambda r: r.started_at) if run.record.is_baseline]
    rows = [{"as of": run.as_of, **shares}  # a renamed persona: one line under its newest name
            for run, shares in zip(ordered, followed_shares(ordered), strict=True)]
    return (pd.DataFrame(rows).drop_duplicates("as of", keep="last").sort_values("as of")
            .set_index("as of") if rows else pd.DataFrame())


def customers(run: RunSummary) -> pd.DataFrame:
    """The run's customers.csv (Arrow's reader: a million rows in about a second)."""
    return pacsv.read_csv(run.folder / "customers.csv").to_pandas()


def sample(frame: pd.DataFrame, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """Charts need shapes, not every customer: a fixed-seed sample above `rows`."""
    return frame.sample(rows, random_state=0) if len(frame) > rows else frame


def flag_names(frame: pd.DataFrame) -> list[str]:
    return [c.removeprefix("flag_") for c in frame.columns if c.startswith("flag_")]


def selected(frame: pd.DataFrame, persona: str | None, flag: str | None, sort_by: str,
             descending: bool = True) -> pd.DataFrame:
    """The customers of a persona and/or a flag, sorted (ties by ID), for the list and its CSV."""
    chosen = frame
    if persona:
        chosen = chosen[chosen["persona"] == persona]
    if flag:
        chosen = chosen[chosen[f"flag_{flag}"].astype(bool)]
    return chosen.sort_values([sort_by, "ID"], ascending=[not descending, True])


def compare(frame: pd.DataFrame, left: str, right: str) -> pd.DataFrame:
    """Two personas side by side: the median of each metric, and all customers' (said so)."""
    rows = {}
    for metric, label in METRICS.items():
        rows[f"{label} (median)"] = {left: frame.loc[frame["persona"] == left, metric].median(),
                       right: frame.loc[frame["persona"] == right, metric].median(),
                       "all customers": frame[metric].median()}
    return pd.DataFrame(rows).T


@dataclass(frozen=True)
class Seen:
    """A customer in one run."""

    run_id: str
    as_of: str
    persona: str
    segment: int
    flags: tuple[str, ...]
    customer: str = ""  # '5386 (also 6024)' when found under another of their IDs


def segments(folder: Path) -> pd.DataFrame:
    """A run's segments.csv by customer ID (empty for a run without one)."""
    path = folder / "segments.csv"
    if not path.is_file():
        return pd.DataFrame(columns=["persona", "cluster"])
    return pacsv.read_csv(path).to_pandas().set_index("ID")


def customer_history(runs: list[RunSummary], customer_id: int,
                     segments_of: Callable[[Path], pd.DataFrame] = segments,
                     aliases_of: Callable[[Path], dict[int, int]] | None = None) -> list[Seen]:
    """The customer in every run that has them, under any of their IDs (a merged duplicate
    is listed under one), newest first (`segments_of`, `aliases_of` may be cached)."""
    aliases_of = aliases_of or aliases
    seen = []
    for run in runs:
        frame = segments_of(run.folder)
        listed = customer_id if customer_id in frame.index else aliases_of(run.folder).get(customer_id)
        if listed is not None and listed in frame.index:
            row = frame.loc[listed]
            flags = tuple(f for f in flag_names(frame) if row[f"flag_{f}"])
            shown = str(listed) if listed == customer_id else f"{listed} (also {customer_id})"
            seen.append(Seen(run.run_id, run.as_of, row["persona"], int(row["cluster"]), flags,
                             shown))
    return seen


def against_persona(frame: pd.DataFrame, customer_id: int) -> pd.DataFrame:
    """The customer's figures beside their persona's median and all customers'."""
    row = frame[frame["ID"] == customer_id].iloc[0]
    mates = frame[frame["persona"] == row["persona"]]
    return pd.DataFrame({label: {"this customer": row[metric], f"{row['persona']} (median)":
                                 mates[metric].median(), "all customers (median)": frame[metric].median()}
                         for metric, label in METRICS.items()}).T


def customer_predictions(frame: pd.DataFrame, customer_id: int) -> pd.DataFrame:
    """The customer's predictions in plain words, beside their persona's and all customers'
    averages (empty when the run made none)."""
    from reporter.predict.columns import present

    row = frame[frame["ID"] == customer_id].iloc[0]
    mates = frame[frame["persona"] == row["persona"]]
    return pd.DataFrame({p.label: {"this customer": p.shown(row[p.name]),
                                   f"{row['persona']} (average)": p.shown(mates[p.name].mean()),
                                   "all customers (average)": p.shown(frame[p.name].mean())}
                         for p in present(frame.columns)}, dtype=object).T


@dataclass(frozen=True)
class Workshop:
    """A personas file as typed: its problems (as `reporter validate` words them) and, when
    it has none, what it would do to the latest delivered run's customers."""

    problems: tuple[str, ...]
    replay: Replay | None = None

    def sizes(self) -> pd.DataFrame:
        """Customers per persona before and after."""
        frame = self.replay.customers
        return pd.DataFrame({"before": frame["persona_before"].value_counts(),
                             "after": frame["persona_after"].value_counts()}).fillna(0).astype(int)


def too_long(text: str, name: str) -> str:
    """Why the text is too long to check, or "" when it is not."""
    if len(text) > MAX_RULES_CHARS:
        return (f"{name}: the text is {len(text):,} characters; the workshop checks up to "
                f"{MAX_RULES_CHARS:,}: shorten it")
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_LINE_CHARS:
            return (f"{name}: line {number} is {len(line):,} characters long; the workshop checks lines "
                    f"of up to {MAX_LINE_CHARS:,}: split or shorten it (a rule is a short condition "
                    'like "income >= 1.5x population")')
    return ""


def try_rules(config: Config, text: str, base: Callable[[], Replayable] | None) -> Workshop:
    """Check the text as a personas file and, when it is valid, replay it on the customers
    `base` gives (made once per run by the app: reading a million customers takes seconds)."""
    refused = too_long(text, config.personas_path.name)
    if refused:
        return Workshop((refused,))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / config.personas_path.name
        path.write_text(text, encoding="utf-8")
        try:
            rulebook = read_rulebook(path)
        except ReporterError as exc:
            shown = config.personas_path.name  # the temporary copy's path means nothing to a user
            return Workshop(tuple(str(replace(p, file=shown) if p.file == str(path) else p)
                                  for p in exc.found))
    if base is None:
        return Workshop(())
    try:
        return Workshop((), replay_with(base(), rulebook, config.settings.rules.keep_margin))
    except ReporterError as exc:
        return Workshop((exc.one_line(),))


def save_rules(config: Config, text: str) -> str:
    """Write a valid personas file in one rename, the previous one kept beside it as
    `<name>.previous`; returns the diff (empty when nothing changed)."""
    problems = try_rules(config, text, None).problems
    if problems:
        raise ReporterError(f"not saved: {problems[0]}", problems)
    path = config.personas_path
    before = path.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(before.splitlines(keepends=True), text.splitlines(keepends=True),
                                        f"{path.name} (before)", f"{path.name} (saved)"))
    if not diff:
        return ""
    path.with_name(path.name + ".previous").write_text(before, encoding="utf-8")
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return diff


def brief_of(run: RunSummary) -> Brief | None:
    """The brief as archived (brief.json): its charts' figures and titles, word for word."""
    try:
        return read_brief(run.folder)
    except ReporterError:
        return None


def mix_frame(chart: MixChart) -> pd.DataFrame:
    """A brief's mix chart as rows: persona, part, share (the bars the brief draws)."""
    return pd.DataFrame([{"persona": row.persona, "part": part, "share": share, "order": order}
                         for row in chart.rows
                         for order, (part, share) in enumerate(zip(chart.parts, row.shares, strict=True))])


def rate_frame(chart: RateChart) -> pd.DataFrame:
    """A brief's campaign chart as rows: persona (and all customers), campaign, rate."""
    rows = [{"persona": row.persona, "part": part.replace("\n", " "), "rate": rate}
            for row in chart.rows for part, rate in zip(chart.parts, row.rates, strict=True)]
    rows += [{"persona": "all customers", "part": part.replace("\n", " "), "rate": rate}
             for part, rate in zip(chart.parts, chart.population, strict=True)]
    return pd.DataFrame(rows)


def newest_run(config: Config) -> RunSummary | None:
    """The source's newest run whatever its state: 'This week' shows a held brief as held."""
    runs = source_runs(config)
    return runs[0] if runs else None


def held_note(run: RunSummary, config_path: Path) -> str:
    """Why a run is held and the command that releases it, whole."""
    from reporter.delivery.hints import console_command

    reasons = "; ".join(run.record.held_because) or "a pre-send check failed"
    return (f"This brief (run {run.run_id}) is held, not sent to any team: {reasons}. When it is "
            f"fine to send: `{console_command(config_path, 'release', run.run_id)}`.")


def _money(brief: Brief, value: float) -> str:
    return f"{brief.units.currency}{value:,.0f}"


def brief_table(brief: Brief) -> pd.DataFrame:
    """Page 1's persona table as the brief prints it: its labels, units, order and roundings
    (averages, as the brief's), columns alike for every persona left out as the brief does."""
    period, flat = brief.units.spend_period, set(brief.this_week.flat_columns)
    columns = {"income": ("Income (a year)", lambda v: _money(brief, v)),
               "total_spending": (f"Spend ({period})", lambda v: _money(brief, v)),
               "recency": ("Days since last purchase", lambda v: f"{v:,.0f}"),
               "total_purchases": (f"Purchases ({period})", lambda v: f"{v:,.1f}")}
    rows = []
    for p in brief.personas:
        row = {"Persona": p.name, "Customers": f"{p.size:,}", "Share": f"{p.share:.0%}",
               "Share of spend": f"{p.spend_share:.0%}"}
        row |= {label: shown(p.figures[name]) for name, (label, shown) in columns.items()
                if name not in flat}
        rows.append(row | {"Key traits": ", ".join(p.traits)})
    return pd.DataFrame(rows)


def effect_table(effects) -> pd.DataFrame:
    """The brief's table of what earlier lists did: one row per list and measure."""
    rows = []
    for effect in effects:
        for c in effect.comparisons:
            share = c.measure != "spend change"
            value = (lambda v: f"{v:.0%}") if share else (lambda v: f"{v:,.0f}")
            change = (lambda v: f"{v * 100:+.0f} points") if share else (lambda v: f"{v:+,.0f}")
            rows.append({"List": f"{effect.name}, {effect.as_of}", "Measure": c.measure,
                         "Contacted": f"{value(c.contacted_value)} ({c.contacted:,})",
                         "Control": f"{value(c.control_value)} ({c.control:,})",
                         "Difference (95% interval)": (
                             f"{change(c.difference)} ({change(c.low)} to {change(c.high)})"
                             if c.enough else "not enough customers yet")})
    return pd.DataFrame(rows)


PLAIN_COLUMNS = {"ID": "Customer ID", "other_ids": "Also known as", "persona": "Persona",
                 "cluster": "Segment", "run_id": "Run", "as_of": "As of"}


def plain_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A customer table with the brief's words for its columns: 'Churn Risk', not
    flag_churn_risk; 'Tenure (days)', not tenure_days."""
    from reporter.data.features import REGISTRY
    from reporter.predict.columns import present

    names = {}
    predicted = {p.name: p.label for p in present(frame.columns)}
    for column in frame.columns:
        if column.startswith("flag_"):
            names[column] = column.removeprefix("flag_").replace("_", " ").title()
        elif column in REGISTRY:
            names[column] = REGISTRY[column].label
        elif column in predicted:
            names[column] = predicted[column]
        else:
            names[column] = PLAIN_COLUMNS.get(column, column.replace("_", " "))
    return frame.rename(columns=names)


def aliases(folder: Path) -> dict[int, int]:
    """Other ID -> the ID a run lists a merged customer under ('5386 (also 6024)')."""
    path = folder / "customers.csv"
    if not path.is_file():
        return {}
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        include_columns=["ID", "other_ids"], column_types={"other_ids": "string"},
        strings_can_be_null=True)).to_pandas()
    named = table.dropna(subset=["other_ids"])
    return {int(other): int(main) for main, text in zip(named["ID"], named["other_ids"], strict=True)
            for other in str(text).split()}
