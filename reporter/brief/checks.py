"""Pre-send checks: a brief reaches no team unless its data is fresh, no persona vanished, no
share jumped, every chart has data, the PDF is complete and the model was not held.

Each check is set to `hold` (the run is archived with status held, the owners are told, no team
gets it until `reporter release`), `warn` (it goes out with a banner naming the problem) or
`off` in `checks:` of reporter.yaml. `unchanged_data` may also be `skip`: the pipeline stops
before anything is archived (`unchanged_since` says why); should a run get here anyway, it holds.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

from pypdf import PdfReader

from reporter.brief.params import ChecksParams
from reporter.brief.view import Brief
from reporter.data.load import RawCustomers
from reporter.history.record import CheckRecord, RunRecord
from reporter.model.lifecycle import ModelDecision
from reporter.personas.rulebook import RuleChange

BRIEF_SECTIONS = ("This week in brief", "Who the customers are", "Data notes")
APPENDIX_SECTIONS = ("How the segments were found",)


@dataclass(frozen=True)
class CheckResult:
    name: str
    mode: str  # "hold" or "warn"
    passed: bool
    problem: str = ""  # one sentence when it failed


@dataclass(frozen=True)
class CheckReport:
    results: tuple[CheckResult, ...]
    checked_pdf_sha256: str = ""  # of the PDF bytes the PDF check read

    @property
    def holding(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed and r.mode == "hold")

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(r.problem for r in self.results if not r.passed and r.mode == "warn")

    @property
    def held(self) -> bool:
        return bool(self.holding)

    def record(self) -> tuple[CheckRecord, ...]:
        return tuple(CheckRecord(r.name, r.mode, r.passed, r.problem) for r in self.results)


def before_render(settings: ChecksParams, raw: RawCustomers, brief: Brief,
                  previous: RunRecord | None, decision: ModelDecision, now: datetime,
                  newer: RunRecord | None = None) -> CheckReport:
    """The checks that need only the data and the brief's figures. `newer`: a brief people
    received of customers newer than these."""
    checks = {
        "data_fresh": lambda: _older_than_sent(brief, newer) or _data_fresh(settings, raw, previous, now),
        "unchanged_data": lambda: unchanged_since(raw, previous),
        "no_new_empty_persona": lambda: _no_new_empty_persona(settings, brief, previous,
                                                              decision.rule_change),
        "share_move": lambda: _share_move(settings, brief, previous, decision.rule_change),
        "customer_count": lambda: _customer_count(settings, brief, previous),
        "charts_have_data": lambda: _charts_have_data(brief),
        "model_not_held": lambda: "" if not decision.held else decision.sentence,
    }
    return _run(settings, checks)


def after_render(settings: ChecksParams, pdf: bytes, appendix: str = "attach",
                 appendix_pdf: bytes | None = None) -> CheckReport:
    """The PDF holds every section the brief promises; with `appendix: separate`, the
    appendix's own PDF holds the appendix."""
    def complete() -> str:
        wanted = BRIEF_SECTIONS + (APPENDIX_SECTIONS if appendix == "attach" else ())
        problem = _pdf_complete(settings, pdf, wanted)
        if not problem and appendix_pdf is not None:
            problem = _pdf_complete(settings, appendix_pdf, APPENDIX_SECTIONS)
            return f"appendix.pdf: {problem}" if problem else ""
        return problem
    report = _run(settings, {"pdf_complete": complete})
    return CheckReport(report.results, hashlib.sha256(pdf).hexdigest())


def _run(settings: ChecksParams, checks: dict) -> CheckReport:
    results = []
    for name, problem_of in checks.items():
        mode = getattr(settings, name).mode
        mode = "hold" if mode == "skip" else mode
        if mode != "off":
            problem = problem_of()  # or (problem, mode) when the check decides its own mode
            problem, mode = problem if isinstance(problem, tuple) else (problem, mode)
            results.append(CheckResult(name, mode, not problem, problem))
    return CheckReport(tuple(results))


def _older_than_sent(brief: Brief, newer: RunRecord | None) -> str:
    """Customers older than a brief already received: never fresh, whatever the file's age."""
    if newer is None:
        return ""
    how = "published" if newer.teams == () else "already sent"
    return (f"these customers are as of {brief.as_of:%Y-%m-%d} (their newest join date), older than "
            f"those of run {newer.run_id} (as of {newer.as_of}), which was {how}: an old export, or "
            "one cut short (its newest customers missing); export this week's customers, or release "
            "it if those customers were removed on purpose")


def _data_fresh(settings: ChecksParams, raw: RawCustomers, previous: RunRecord | None,
                now: datetime) -> str:
    """Stale, by time: older than max_age_days and not both different from and newer than what
    the baseline read (the same bytes at any age are `unchanged_since`'s). A file's age is
    its modification time, a database's its newest snapshot; a database read without a
    snapshot column (or a Spark table) is stale when it returns exactly what a run read
    max_age_days ago."""
    if previous is not None and raw.origin.kind in ("database", "spark table") and not raw.origin.snapshot:
        read_before = datetime.fromisoformat(previous.data.modified)
        days = (now.replace(tzinfo=None) - read_before).total_seconds() / 86400
        if raw.sha256 == previous.data.sha256 and days > settings.data_fresh.max_age_days:
            return (f"{raw.origin} returned exactly the customers run {previous.run_id} read "
                    f"{days:.0f} days ago; check that the table is still updated")
        return ""
    age_days = (now.replace(tzinfo=None) - raw.modified).total_seconds() / 86400
    if age_days <= settings.data_fresh.max_age_days or previous is None:
        return ""
    before = datetime.fromisoformat(previous.data.modified)  # kept to the second
    if raw.sha256 != previous.data.sha256 and raw.modified.replace(microsecond=0) > before:
        return ""
    what = f"the data file {raw.origin.label}" if raw.origin.kind == "file" else \
        f"the newest data in {raw.origin}"
    return (f"{what} was last changed {age_days:.0f} days ago and is no newer than the one run "
            f"{previous.run_id} used; export this week's customers")


def unchanged_since(raw: RawCustomers, previous: RunRecord | None) -> str:
    """Unchanged: the data's sha256 (the file's bytes; the rows, for a database or Spark) is the
    one the baseline read. Its age does not matter: last week's export touched again, or left
    as it was, is still last week's customers."""
    if previous is None or not previous.data.sha256 or raw.sha256 != previous.data.sha256:
        return ""
    what = (f"the data file {raw.origin.label}" if raw.origin.kind == "file"
            else f"{raw.origin}")
    read_on = previous.started_at[:10] or "?"
    return (f"{what} holds exactly the customers run {previous.run_id} read on {read_on} "
            f"(sha256 {raw.sha256[:12]}); export this week's customers, or run with "
            "--allow-unchanged to brief the same data again")


def _no_new_empty_persona(settings: ChecksParams, brief: Brief, previous: RunRecord | None,
                          rules: RuleChange | None) -> str | tuple[str, str]:
    """A persona that emptied is a warning sign: held (by default) when the data emptied it,
    a warning (`rules_emptied`) naming where its customers went when an edit of the rules did.
    A renamed persona did not empty: its customers carry the new name."""
    if previous is None:
        return ""
    now = {p.name for p in brief.personas if p.size > 0}
    renamed = rules.renamed if rules is not None else {}
    by_rules = set(rules.vanished) if rules is not None else set()
    vanished = [name for name, figures in previous.personas.items()
                if figures.customers > 0 and name not in now and name not in renamed]
    by_data = [name for name in vanished if name not in by_rules]
    if by_data:
        return (f"{', '.join(by_data)} had customers in run {previous.run_id} and has none now; "
                "check the data and personas.yaml")
    emptied = [name for name in vanished if name in by_rules]
    mode = settings.no_new_empty_persona.rules_emptied
    if not emptied or mode == "off":
        return ""
    return _emptied_by_rules(emptied, rules, previous.run_id), mode


def _emptied_by_rules(names: list[str], rules: RuleChange, run_id: str) -> str:
    went = "; ".join(f"{name}'s went to " + ", ".join(f"{to} ({count:,})"
                                                     for to, count in rules.went_to(name))
                     for name in names)
    return (f"{', '.join(names)} had customers in run {run_id} and has none now because "
            f"personas.yaml changed ({went}); check that the edit is meant")


def _share_move(settings: ChecksParams, brief: Brief, previous: RunRecord | None,
                rules: RuleChange | None) -> str:
    """Share moves in points, less what an edit of the rules moved: the data's own movement.
    A renamed persona is compared with its old name's share."""
    if previous is None:
        return ""
    renamed = rules.renamed if rules is not None else {}
    before = {renamed.get(name, name): figures for name, figures in previous.personas.items()}
    shift = rules.shift() if rules is not None else {}
    moves = [(p.name, (p.share - before[p.name].share) * 100 - shift.get(p.name, 0.0))
             for p in brief.personas if p.name in before]
    jumps = [(name, move) for name, move in moves if abs(move) > settings.share_move.max_points]
    if not jumps:
        return ""
    listed = ", ".join(f"{name} {move:+.0f} points" for name, move in jumps)
    return (f"persona shares moved more than {settings.share_move.max_points:.0f} points since run "
            f"{previous.run_id}: {listed}")


def _customer_count(settings: ChecksParams, brief: Brief, previous: RunRecord | None) -> str:
    """Far fewer customers than the last brief: an export cut short or filtered (1,700 to 636)
    was sent, and pushed to the CRM, with "1,082 gone" as its only sign."""
    before = previous.data_notes.rows_kept if previous is not None else 0
    if not before or brief.customers >= before:
        return ""
    drop = 100 * (before - brief.customers) / before
    limit = settings.customer_count.max_drop_percent
    if drop <= limit:
        return ""
    return (f"{brief.customers:,} customers, against {before:,} in run {previous.run_id} (-{drop:.0f}%, "
            f"more than the {limit:g}% allowed by checks.customer_count): an export cut short or "
            "filtered? export the whole customer table")


def _charts_have_data(brief: Brief) -> str:
    """Every chart has something to draw (judged on its numbers, before anything is drawn)."""
    if not brief.personas or sum(p.size for p in brief.personas) != brief.customers:
        return "the persona table does not add up to every customer"
    sizes = {"persona sizes": sum(p.share for p in brief.personas),
             "PCA scatter": brief.scatter.points, "income and spend": brief.income_spend.points,
             "spend mix": sum(sum(row.shares) for row in brief.spend_mix.rows),
             "channel mix": sum(sum(row.shares) for row in brief.channel_mix.rows)}
    empty = [name for name, amount in sizes.items() if not amount > 0]
    return f"chart(s) without data: {', '.join(empty)}" if empty else ""


def _pdf_complete(settings: ChecksParams, pdf: bytes, wanted: tuple[str, ...]) -> str:
    size_mb = len(pdf) / 1_000_000
    if size_mb > settings.pdf_complete.max_mb:
        return f"the PDF is {size_mb:.1f} MB, over the limit of {settings.pdf_complete.max_mb:g} MB"
    try:
        reader = PdfReader(io.BytesIO(pdf))
        sections = set(_titles(reader.outline))
        pages = len(reader.pages)
    except Exception as exc:  # a PDF pypdf cannot read is not one to send
        return f"the PDF cannot be read back ({type(exc).__name__})"
    missing = [section for section in wanted if section not in sections]
    if missing or not pages:
        return f"the PDF lacks the section(s): {', '.join(missing) or 'every page'}"
    return ""


def _titles(outline: list) -> list[str]:
    """The PDF's bookmarks (WeasyPrint makes one per heading), nested lists flattened. Reading
    them takes milliseconds; extracting the text of every page took most of a second."""
    titles = []
    for entry in outline:
        titles.extend(_titles(entry) if isinstance(entry, list) else [entry.title])
    return titles
