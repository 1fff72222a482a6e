"""Retention: which old runs a prune deletes, decided from their records before any is touched.

Beyond the newest `keep` runs, a run is deleted unless it still matters:
- the baseline of its source's newest run (that run's week-over-week lists, a retried CRM push);
- its source's newest delivered run (what the next run compares with, what `reporter serve`
  answers from);
- a run not yet delivered: held and never released, never sent, or a team still without an
  outcome or failed (issue #29's "settled"), unless `prune_undelivered` lets it go.
A dry run was never meant to reach anyone and goes like a delivered one. Every run beyond the
limit gets a verdict with its reason: nothing is deleted, or kept, without a line saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reporter.archive import remove_run
from reporter.history.catalogue import RunSummary, delivery_status, newest_received
from reporter.history.record import RunRecord


@dataclass(frozen=True)
class Verdict:
    """One run beyond the limit: pruned or kept, and why."""

    run_id: str
    folder: Path
    day: str  # the date the run was made
    reason: str

    def line(self, verb: str) -> str:
        return f"{verb} run {self.run_id} ({self.day}): {self.reason}"


@dataclass(frozen=True)
class PrunePlan:
    pruned: tuple[Verdict, ...]
    kept: tuple[Verdict, ...]  # beyond the limit, kept for the reason given

    def lines(self, verb: str = "Pruned") -> list[str]:
        return [v.line(verb) for v in self.pruned] + [v.line("Kept") for v in self.kept]


def plan_prune(runs: list[RunSummary], keep: int, prune_undelivered: bool, setting: str) -> PrunePlan:
    """The verdicts for `runs` (newest first, of one source or several) beyond the newest `keep`
    (at least one is always kept); `setting` names what set the limit, for the reasons."""
    protected = _protected(runs)
    limit = f"beyond the newest {keep} run{'s' if keep != 1 else ''} ({setting})"
    pruned, kept = [], []
    for run in runs[max(keep, 1):]:
        waiting = undelivered(run.record)
        if run.folder in protected:
            kept.append(_verdict(run, protected[run.folder]))
        elif waiting and not prune_undelivered:
            kept.append(_verdict(run, f"{waiting}; history.prune_undelivered is false"))
        else:
            extra = f"; {waiting} (history.prune_undelivered is true)" if waiting else ""
            pruned.append(_verdict(run, limit + extra))
    return PrunePlan(tuple(pruned), tuple(kept))


def carry_out(plan: PrunePlan) -> PrunePlan:
    """Delete what the plan prunes; a folder another process removed first is not claimed."""
    done = tuple(v for v in plan.pruned if remove_run(v.folder))
    return PrunePlan(done, plan.kept)


def undelivered(record: RunRecord) -> str:
    """Why a run still waits for delivery, in words ("" when it does not)."""
    if record.dry_run:
        return ""
    if record.held:
        return "held, never released"
    if record.is_baseline:
        return ""
    status = delivery_status(record)
    return status if status.startswith("not ") else f"received by no one ({status})"


def _protected(runs: list[RunSummary]) -> dict[Path, str]:
    """Per source: the newest delivered run and the newest run's baseline."""
    found: dict[Path, str] = {}
    for source in dict.fromkeys(r.source for r in runs):
        mine = [r for r in runs if r.source == source]
        served = newest_received(mine)
        if served is not None:
            found[served.folder] = ("the newest delivered run: the next run compares with it "
                                    "and reporter serve answers from it")
        newest = mine[0]
        for run in mine:
            if newest.record.baseline and run.run_id == newest.record.baseline:
                found.setdefault(run.folder, f"the baseline of the newest run {newest.run_id}")
    return found


def _verdict(run: RunSummary, reason: str) -> Verdict:
    return Verdict(run.run_id, run.folder, run.started_at[:10] or run.folder.name[:10], reason)
