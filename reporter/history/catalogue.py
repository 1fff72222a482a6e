"""Catalogue: the runs in the archive, as the index, `reporter archive` and the next run see
them. The previous run is the newest published run of the same source (the folder the data
file came from) with an earlier as-of date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reporter.archive import published_runs
from reporter.data.load import RawCustomers
from reporter.history.record import DeliveryEntry, RunRecord, read_record


@dataclass(frozen=True)
class RunSummary:
    """One archived run: its folder, its record and the files it holds."""

    folder: Path
    record: RunRecord
    files: tuple[str, ...]

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
        return Path(self.record.data.path).name

    @property
    def customers(self) -> int:
        return self.record.data.rows_read

    @property
    def persona_shares(self) -> dict[str, float]:
        return {name: figures.share for name, figures in self.record.personas.items()}

    @property
    def delivery(self) -> str:
        if self.record.held:
            return "held: " + "; ".join(self.record.held_because)
        return delivery_status(self.record.delivery)


def read_run(folder: Path) -> RunSummary:
    files = tuple(sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()))
    return RunSummary(folder, read_record(folder), files)


def delivery_status(entries: tuple[DeliveryEntry, ...]) -> str:
    """The latest status per team, in words."""
    if not entries:
        return "not sent"
    latest = {entry.team: entry.status for entry in entries}
    return ", ".join(f"{team}: {status}" for team, status in latest.items())


def all_runs(output_dir: Path) -> list[RunSummary]:
    """Every published run, newest first; unreadable folders are skipped, not fatal."""
    runs = []
    for folder in published_runs(output_dir):
        try:
            runs.append(read_run(folder))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(runs, key=lambda r: (r.started_at, r.folder.name), reverse=True)


def source_key(raw: RawCustomers) -> str:
    """Runs compare with earlier runs of the same source: the folder the exports land in."""
    return str(raw.path.resolve().parent)


def find_previous(output_dir: Path, source: str, as_of: date) -> RunSummary | None:
    earlier = [r for r in all_runs(output_dir)
               if r.record.data.source_key == source and r.as_of and date.fromisoformat(r.as_of) < as_of
               and (r.folder / "customers.csv").is_file()]
    return max(earlier, key=lambda r: (r.as_of, r.started_at), default=None)
