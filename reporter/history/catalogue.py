"""Catalogue: the runs in the archive, as the index, `reporter archive` and the next run see
them. Every run belongs to a source (`source.name`, or the folder its data file came from);
a run's baseline is the newest run of the same source that people received, with data no
newer than its own: the model it scores with, the week-over-week changes and the pre-send
checks all come from that one run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reporter.archive import published_runs
from reporter.data.load import RawCustomers
from reporter.errors import ConfigError, DataError
from reporter.history.record import RunRecord, read_record


@dataclass(frozen=True)
class RunSummary:
    """One archived run: its folder and its record."""

    folder: Path
    record: RunRecord

    def files(self) -> tuple[str, ...]:
        """The files the run holds (listed on demand: finding a baseline needs no listing)."""
        return tuple(sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*")
                            if p.is_file()))

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def as_of(self) -> str:
        return self.record.as_of

    @property
    def started_at(self) -> str:
        return self.record.started_at

    @property
    def data_file(self) -> str:
        """The file name, or what was read from a database ('table customers')."""
        return self.record.data.label or Path(self.record.data.path).name

    @property
    def source(self) -> str:
        return self.record.data.source_key

    @property
    def customers(self) -> int:
        """As the brief counts them: each person once (rows read, for records without it)."""
        return self.record.data_notes.rows_kept or self.record.data.rows_read

    @property
    def persona_shares(self) -> dict[str, float]:
        return {name: figures.share for name, figures in self.record.personas.items()}

    @property
    def renamed(self) -> dict[str, str]:
        """Personas this run's rules renamed since the run it was compared with: old -> new."""
        model = self.record.model
        return model.rule_change.renamed if model is not None and model.rule_change is not None else {}

    @property
    def delivery(self) -> str:
        if self.record.held:
            return "held: " + "; ".join(self.record.held_because)
        return delivery_status(self.record)


def followed_shares(ordered: list[RunSummary]) -> list[dict[str, float]]:
    """Each run's persona shares (runs oldest first) under the names of the newest run: a
    persona renamed later is one continuous line under its newest name, never an old line
    that stops and a new one that starts."""
    newest: dict[str, str] = {}  # a name in an earlier run -> its name in the newest run
    followed = []
    for run in reversed(ordered):
        shares: dict[str, float] = {}
        for name, share in run.persona_shares.items():
            key = newest.get(name, name)
            shares[key] = shares.get(key, 0.0) + share
        followed.append(shares)
        for old, new in run.renamed.items():
            newest[old] = newest.get(new, new)
    return followed[::-1]


def read_run(folder: Path) -> RunSummary:
    return RunSummary(folder, read_record(folder))


def delivery_status(record: RunRecord) -> str:
    """The latest status per team, in words; "not delivered: ..." while a team it is addressed
    to has no outcome yet or failed (the scheduler's catch-up, or `reporter send`, finishes it)."""
    latest = record.latest_status()
    latest.update({team: status or "not sent" for team, status in record.team_status().items()
                   if not status})
    if not latest:  # addressed to nobody (teams: []): settled as soon as it is published
        return "no teams to send to" if record.teams == () else "not sent"
    words = ", ".join(f"{team}: {status}" for team, status in latest.items())
    return words if record.teams is None or record.settled else f"not delivered: {words}"


def sent_since(run: RunSummary, runs: list[RunSummary]) -> RunSummary | None:
    """For a held run, the newest run of its source with newer data that people received: it
    left the held one behind (releasing it now would send older figures than the teams have)."""
    later = [other for other in runs if other.source == run.source and other.record.is_baseline
             and (other.as_of, other.started_at) > (run.as_of, run.started_at)] if run.record.held else []
    return max(later, key=lambda r: (r.as_of, r.started_at)) if later else None


def delivery_words(run: RunSummary, runs: list[RunSummary]) -> str:
    """The run's delivery, and that a held run was left behind by a newer one."""
    newer = sent_since(run, runs)
    if newer is None:
        return run.delivery
    return (f"{run.delivery}; never released, and run {newer.run_id}, of newer customers (as of "
            f"{newer.as_of}), was sent")


def all_runs(output_dir: Path) -> list[RunSummary]:
    """Every published run, newest first; unreadable folders are skipped, not fatal."""
    runs = []
    for folder in published_runs(output_dir):
        try:
            runs.append(read_run(folder))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(runs, key=lambda r: (r.started_at, r.folder.name), reverse=True)


def source_key(raw: RawCustomers, name: str | None = None) -> str:
    """The source a run belongs to: the configured name, else the folder its data came from
    (or the database and table)."""
    return name or raw.origin.home


def runs_of(output_dir: Path, source: str) -> list[RunSummary]:
    """The runs of one source, newest first."""
    return [r for r in all_runs(output_dir) if r.source == source]


def other_sources(output_dir: Path, source: str) -> tuple[str, ...]:
    """The other customer sources the archive holds runs of, newest first."""
    return tuple(dict.fromkeys(r.source for r in all_runs(output_dir) if r.source != source))


def find_baseline(output_dir: Path, source: str, as_of: date) -> RunSummary | None:
    """The newest run of this source that people received, with data no newer than `as_of`."""
    return newest_received(runs_of(output_dir, source), as_of)


def newest_received(runs: list[RunSummary], as_of: date = date.max) -> RunSummary | None:
    """Of these runs (one source's), the baseline for data as of `as_of`; with no date, the
    one the next run compares with and `reporter serve` answers from."""
    received = [r for r in runs if r.record.is_baseline and r.as_of
                and date.fromisoformat(r.as_of) <= as_of and (r.folder / "customers.csv").is_file()]
    return max(received, key=lambda r: (r.as_of, r.started_at), default=None)


def sources(output_dir: Path) -> list[str]:
    """Every source in the archive, the most recently run first."""
    return list(dict.fromkeys(r.source for r in all_runs(output_dir)))


def summary_lines(run: RunSummary, ledger_rows: list) -> list[str]:
    """`reporter archive show`: one run as a person reads it, with its delivery ledger rows
    (anything with at, kind, status, team, recipient, detail and message_id)."""
    record = run.record
    lines = [f"Run {run.run_id} ({run.folder})",
             f"Data: {record.data.path} ({run.customers:,} customers, as of {run.as_of})",
             f"Segments: k={record.k}, silhouette {record.silhouette}"]
    lines += [f"  - {sentence}" for sentence in record.headlines]
    lines += [f"  {name}: {persona.customers:,} customers ({persona.share:.0%})"
              for name, persona in record.personas.items()]
    change = record.week_over_week
    if change:
        lines.append(f"Since run {change.previous_run_id}: {change.slipped} slipped, "
                     f"{change.new_customers} new, {change.gone_customers} gone")
    if record.model:
        lines.append(f"Model: {record.model.sentence}")
    lines.append(f"Status: {record.status}")
    lines += [f"  held: {reason}" for reason in record.held_because]
    lines.append(f"Delivery: {run.delivery}")
    if ledger_rows:
        lines.append("Delivery ledger:")
    for row in ledger_rows:
        detail = f" ({row.detail})" if row.detail else ""
        message = f" {row.message_id}" if row.message_id else ""
        lines.append(f"  {row.at}  {row.kind:<6} {row.status:<7} {row.team}: {row.recipient}"
                     f"{detail}{message}")
    lines.append("Files: " + ", ".join(run.files()))
    return lines


DATA_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def resolve_run(output_dir: Path, ref: str, first_run: str = "reporter run") -> Path:
    """The run folder a person names: `latest` (the newest run, whatever its state), a data
    date (`2014-06-29`: the newest run of data as of that day), or a run id or any unique part
    of it or its folder name (`070000-ab12`, `0700`). One resolver for every command."""
    folders = published_runs(output_dir)
    if not folders:
        raise ConfigError(f"{output_dir}: no brief in the archive yet; make one with "
                          f"`{first_run}` (or add --dry-run to send nothing)")
    if ref == "latest":
        return folders[-1]
    if DATA_DATE.fullmatch(ref):
        dated = [r for r in all_runs(output_dir) if r.as_of == ref]
        if dated:
            return dated[0].folder  # all_runs is newest first
        known = ", ".join(sorted({r.as_of for r in all_runs(output_dir) if r.as_of})[-5:])
        raise DataError(f"{output_dir}: no run has data as of {ref} (data dates: {known or 'none'}); "
                        "give a data date from `reporter archive list`, a run id, or latest")
    matches = [p for p in folders if ref and ref in p.name]
    if len(matches) == 1:
        return matches[0]
    shown = ", ".join(p.name for p in (matches or folders)[-5:])
    what = f"{len(matches)} runs match" if matches else "no single run matches"
    raise DataError(f"{output_dir}: {what} '{ref}' ({'those' if matches else 'latest'}: {shown}); "
                    "give more of the run id as printed by `reporter run`, a data date "
                    "(YYYY-MM-DD) or latest")
