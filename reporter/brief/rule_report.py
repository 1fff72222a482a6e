"""`reporter personas preview`: which segments each persona matches this week, and why,
with each rule's threshold beside the segment's own value. Plain text for a terminal."""

from __future__ import annotations

from reporter.brief.rule_check import unmatched_sentences
from reporter.brief.rule_edits import rule_edit_lines
from reporter.brief.view import Units, close_call_sentence
from reporter.data.clean import DataNotes, customers
from reporter.model.lifecycle import Analysis
from reporter.personas.rulebook import SegmentVerdict

TICK, CROSS = "yes", "no "


def preview_text(analysis: Analysis, currency: str = "$") -> str:
    units = Units(currency)
    lines = [
        f"Data: {analysis.raw.origin} ({counted(analysis.customers.notes)}, "
        f"as of {analysis.customers.as_of:%Y-%m-%d}); {analysis.segmentation.k} segments",
        "",
    ]
    profiles = analysis.cluster_profiles.by_key()
    for cluster in sorted(analysis.assignment.verdicts):
        group = profiles[str(cluster)]
        verdict = analysis.assignment.verdicts[cluster]
        lines.append(f"Segment {cluster}: {customers(group.size)} ({group.share:.0%}) -> "
                     f"{verdict.persona}")
        lines.extend(_verdict_lines(verdict))
        lines.extend(f"  Close call: {close_call_sentence(call, units)}" for call in verdict.close_calls)
        lines.append("")
    if analysis.assignment.absent:
        lines.append("Not present this week: " + ", ".join(analysis.assignment.absent))
        lines.extend(f"  {sentence}" for sentence in unmatched_sentences(analysis, units).values())
    for name, flagged in analysis.assignment.flags.items():
        lines.append(f"Customer flag {name}: {customers(int(flagged.sum()))} "
                     f"({flagged.mean():.0%} of customers)")
    lines.extend(_rule_change_lines(analysis))
    return "\n".join(lines).rstrip() + "\n"


def counted(notes: DataNotes) -> str:
    """The customers as the brief counts them: after duplicate rows are merged into one person."""
    merged = notes.count("duplicate")
    read = f"; {notes.rows_read:,} rows, {merged:,} duplicate rows counted once" if merged else ""
    return f"{customers(notes.rows_kept)}{read}"


def _rule_change_lines(analysis: Analysis) -> list[str]:
    """Against the latest delivered brief of the source: who these rules name differently."""
    change = analysis.decision.rule_change
    if change is None:
        return []
    return ["", change.sentence, *(f"  {line}" for line in rule_edit_lines(change)),
            *(f"  {before} -> {after}: {customers(count)}" for before, after, count in change.moves)]


def _verdict_lines(verdict: SegmentVerdict) -> list[str]:
    lines = []
    for attempt in verdict.tried:
        lines.append(f"  {'MATCH' if attempt.matched else 'no   '} {attempt.persona}")
        for check in attempt.checks:
            mark = TICK if check.holds else CROSS
            lines.append(f"      {mark} {check.text:<40} segment {check.observed:>12,.2f}   "
                         f"threshold {check.threshold:>12,.2f}")
    if verdict.held:  # "MATCH VIP" above, then "fallback: no rule matched", said both
        lines.append(f"  -> stays {verdict.persona}, its name in the last brief: decided within "
                     "rules.keep_margin (the close call below)")
    elif verdict.matched is None:
        lines.append(f"  -> fallback {verdict.persona}: no rule matched")
    lines.extend(f"  Near miss: {miss.sentence}." for miss in verdict.near_misses)
    return lines
