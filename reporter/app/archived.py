"""Work on archived runs without making a new one: re-render a brief, score new customers
with a run's model, try a rules file on a run's customers. Nothing here writes into a run."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from reporter import untrusted
from reporter.app.params import clean_params, configured_source_key, control_params, given_data, source_params
from reporter.app.settings import Config
from reporter.archive import write_bytes_atomic, write_text_atomic
from reporter.brief.render import render_appendix_html, render_html, render_pdf
from reporter.brief.view import read_brief
from reporter.data.clean import clean
from reporter.data.features import FeatureTable, build_features
from reporter.data.load import RawCustomers, load
from reporter.data.sources import read_customers
from reporter.errors import ArchiveError, DataError
from reporter.history.catalogue import RunSummary, find_baseline, resolve_run
from reporter.history.record import RECORD_FILE
from reporter.model.artefact import read_model
from reporter.model.score_new import Scored, score_new
from reporter.personas.exports import flag_column
from reporter.personas.rulebook import (
    PersonaAssignment,
    Rulebook,
    RuleChange,
    assign,
    label_customers,
    read_rulebook,
    rule_change,
)
from reporter.segmentation.profile import Profiles, profile


@dataclass(frozen=True)
class Rerendered:
    html: Path
    pdf: Path
    unchanged: bool  # the HTML is byte for byte the archived one


def rerender(folder: Path, out: Path) -> Rerendered:
    """Draw an archived run's brief again from its brief.json with the current templates.
    Written beside the archive, never over it: the archived PDF is the one that was sent."""
    brief = read_brief(folder)
    html = render_html(brief)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "brief.html", html)
    write_bytes_atomic(out / "brief.pdf", render_pdf(html))
    if brief.appendix == "separate":
        write_bytes_atomic(out / "appendix.pdf", render_pdf(render_appendix_html(brief)))
    archived, drawn = folder / "brief.html", html.encode("utf-8")
    unchanged = (archived.is_file() and archived.stat().st_size == len(drawn)  # never read a
                 and archived.read_bytes() == drawn)  # planted file larger than the brief
    return Rerendered(out / "brief.html", out / "brief.pdf", unchanged)


def assign_new(config: Config, data: Path, run: str = "latest") -> Scored:
    """`reporter assign`: score a batch of customers with an archived model: the one a run
    names, or the one the weekly brief of the configured source would score with."""
    raw = load(given_data(data), config.settings.source.date_format, newcomers=True)
    return score_new(config.output_dir, _model_run(config, run), raw, clean_params(config.settings),
                     control_params(config.settings))


def _model_run(config: Config, run: str) -> Path | None:
    if run != "latest":
        return resolve_run(config.output_dir, run)
    name = configured_source_key(config)
    baseline = find_baseline(config.output_dir, name, date.max)
    return baseline.folder if baseline is not None else None


def _data_of(config: Config, run: RunSummary, given: Path | None = None) -> RawCustomers:
    """The customers a run read, read again: its file (one of the configured source's, or the
    one the operator names with --data), or its database source as configured; refused when
    they are not what the run read."""
    data = run.record.data
    if data.kind == "file":
        path = given_data(given).resolve() if given is not None else _source_file(config, run)
        raw = load(path, data.date_format or None)
        if raw is None or raw.sha256 != data.sha256:
            raise DataError(f"{path}: not the file run {run.run_id} read (moved or changed since); "
                            "replay a run whose data file is still in place")
        return raw
    raw = read_customers(source_params(config))
    if raw.sha256 != data.sha256:
        raise DataError(f"{raw.origin}: the customers changed since run {run.run_id} read them; "
                        "replay the newest run")
    return raw


def _source_file(config: Config, run: RunSummary) -> Path:
    """The data file a run's record names, only if it is one of the configured source's files
    (symbolic links resolved): run.json is input, and a crafted path must not make a replay
    read, or write out the customers of, any other file on the machine."""
    recorded = run.folder / RECORD_FILE
    named = Path(run.record.data.path)
    if not named.is_absolute():
        raise DataError(f"{recorded}: data.path {untrusted.shown(str(named))} is not an absolute "
                        "path as reporter records it; replay a run made by reporter")
    path = named.resolve()
    if not _in_source(path, config):
        where = config.settings.source.path or "none: the source is a database"
        raise DataError(f"{recorded}: data.path {named} is not a file of the configured source "
                        f"(source.path: {where}); replay reads only that source, or the file you "
                        "name with --data (for a run made with --data)")
    if not path.is_file():
        raise DataError(f"{named}: not the file run {run.run_id} read (moved or changed since); "
                        "replay a run whose data file is still in place")
    return path


def _in_source(path: Path, config: Config) -> bool:
    """Whether `path` (resolved) is the source file, one the source's glob matches, or a file
    inside the source folder, as source.path in reporter.yaml says (resolved too)."""
    source = config.settings.source
    if source.path is None or "://" in source.path:
        return False  # a database, a Spark table or a cluster URI: no local file to read
    configured = config.resolve(source.path)
    if glob.has_magic(str(configured)):
        return path in {Path(match).resolve() for match in glob.glob(str(configured))}
    configured = configured.resolve()
    return path == configured or (configured.is_dir() and path.is_relative_to(configured))


@dataclass(frozen=True)
class Replay:
    run: RunSummary
    change: RuleChange
    customers: pd.DataFrame  # ID, cluster, persona before and after, each flag before and after


@dataclass(frozen=True)
class Replayable:
    """An archived run's customers ready for other rules: what does not depend on the rules
    (read, cleaned, featured, segmented, profiled, named by the run's own rules) made once."""

    run: RunSummary
    table: FeatureTable
    labels: np.ndarray
    profiles: Profiles
    before: PersonaAssignment


def replayable(config: Config, run: RunSummary, data: Path | None = None) -> Replayable:
    """The run's segments from its model, its features from its own data (`data`: the file an
    operator names, else the configured source's); nothing archived."""
    loaded = read_model(run.folder)
    if loaded.model is None:
        raise ArchiveError(f"{run.folder}: {loaded.problem or 'no model.json'}; replay a newer run")
    model, raw = loaded.model, _data_of(config, run, data)
    customers = clean(raw, clean_params(config.settings), date.fromisoformat(run.as_of),
                      income_fill=model.income_fill)
    table = build_features(customers, rfm=model.rfm)
    labels = model.scorer.segments(table.frame)
    before = label_customers(model.rulebook(), model.cluster_persona, table, labels, model.population)
    return Replayable(run, table, labels, profile(table, labels), before)


def replay_with(base: Replayable, rulebook: Rulebook, margin: float = 0.0) -> Replay:
    """Other rules on the same customers in the same segments: who would be named differently
    (names kept within `margin`, rules.keep_margin, as the next run would keep them)."""
    after = assign(rulebook, base.profiles, base.table, base.labels,
                   previous=base.before.cluster_persona, margin=margin)
    return Replay(base.run, rule_change(base.before, after, base.run.run_id),
                  _replayed(base.table, base.labels, base.before, after))


def replay_rules(config: Config, run: RunSummary, rules: Path, data: Path | None = None) -> Replay:
    """A rules file applied to an archived run's customers (`reporter personas replay`)."""
    return replay_with(replayable(config, run, data), read_rulebook(rules), config.settings.rules.keep_margin)


def _replayed(table: FeatureTable, labels: np.ndarray, before: PersonaAssignment,
              after: PersonaAssignment) -> pd.DataFrame:
    """Every customer with persona and flags under both rules files (for the CSV)."""
    frame = pd.DataFrame({"ID": table.frame["ID"].to_numpy(), "cluster": labels,
                          "persona_before": before.customer_persona,
                          "persona_after": after.customer_persona})
    for name in dict.fromkeys([*before.flags, *after.flags]):
        column = flag_column(name)
        frame[f"{column}_before"] = before.flags[name].astype(int) if name in before.flags else 0
        frame[f"{column}_after"] = after.flags[name].astype(int) if name in after.flags else 0
    return frame
