"""Personas: check personas.yaml as a whole, name each segment, flag individual customers.

Segment personas name a whole segment by its average customer: every segment gets the first
persona (by priority) whose rules hold, else the fallback. Customer personas ("flags") test
each customer on their own, so the brief can list the customers to act on whatever their
segment. The rule language itself lives in `rules.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from reporter.data.features import REGISTRY, FeatureTable
from reporter.errors import ConfigError, DataError, Problem, Problems
from reporter.personas.colours import close_names, to_hex
from reporter.personas.control import list_key
from reporter.personas.rules import (
    OPERATORS,
    Condition,
    FrozenPopulation,
    Population,
    RuleError,
    matches,
    metric_hint,
    parse_condition,
    rule_set_implies,
)
from reporter.personas.spec import PersonasFile, PersonaSpec, read_personas
from reporter.segmentation.profile import GroupProfile, Profiles
from reporter.yamlsource import line_of, read_source_text


@dataclass(frozen=True)
class Persona:
    spec: PersonaSpec
    color: str  # as #rrggbb, whatever the file said
    mode: str  # "all", "any", or "fallback"
    conditions: tuple[Condition, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def customer_level(self) -> bool:
        return self.spec.level == "customer"


@dataclass(frozen=True)
class Rulebook:
    personas: tuple[Persona, ...]  # segment personas in priority order, fallback last
    flags: tuple[Persona, ...]  # customer-level personas in priority order
    fallback: Persona
    source: dict = field(default_factory=dict, compare=False)  # the file as validated, for the model
    warnings: tuple[str, ...] = field(default=(), compare=False)  # e.g. two personas share a priority

    def by_name(self) -> dict[str, Persona]:
        return {p.name: p for p in (*self.personas, *self.flags)}


MAX_FLAGS = 20  # customer-level personas
# metrics a model predicts (predict/lifetime.py): a week without the model has none of them
PREDICTED = {"p_alive": "alive probability", "clv": "12-month customer value"}
NEAR_MISS = 0.10  # a threshold missed by at most this share of itself is worth showing


@dataclass(frozen=True)
class ConditionCheck:
    """One condition tested on one segment: the two numbers side by side."""

    text: str
    observed: float
    threshold: float
    holds: bool
    metric: str = ""
    op: str = ""

    @property
    def gap(self) -> float:
        """How far the segment is from the threshold, as a share of the threshold."""
        return abs(self.observed - self.threshold) / (abs(self.threshold) or 1.0)

    def holds_with(self, shift: float) -> bool:
        """Whether it holds with the bar moved by `shift` of itself: raised for a positive
        shift (clearing it by a margin), lowered for a negative one (missing it by no more)."""
        if not self.op:
            return self.holds
        step = shift * abs(self.threshold)
        bar = self.threshold + step if self.op in (">=", ">") else self.threshold - step
        return bool(OPERATORS[self.op](self.observed, bar))


@dataclass(frozen=True)
class Attempt:
    """One persona tried on one segment."""

    persona: str
    mode: str  # "all" or "any"
    checks: tuple[ConditionCheck, ...]
    matched: bool

    @property
    def near_miss(self) -> ConditionCheck | None:
        """The one condition that kept the segment out, when it missed by little."""
        failed = [c for c in self.checks if not c.holds]
        if self.matched or not failed or (self.mode == "all" and len(failed) > 1):
            return None
        closest = min(failed, key=lambda c: c.gap)
        return closest if closest.gap <= NEAR_MISS else None

    def holds_with(self, shift: float) -> bool:
        """Whether the persona's rules hold with every bar moved by `shift` (see ConditionCheck)."""
        results = [c.holds_with(shift) for c in self.checks]
        return bool(results) and (all(results) if self.mode == "all" else any(results))

    def close(self, margin: float) -> bool:
        """Decided within the margin: the answer differs with the bars moved by it either way."""
        return margin > 0 and self.holds_with(-margin) != self.holds_with(margin)

    def deciding(self, margin: float) -> ConditionCheck | None:
        """The check nearest its bar among those within the margin, or the nearest held one."""
        checks = [c for c in self.checks if c.gap <= margin] or [c for c in self.checks if c.holds]
        return min(checks, key=lambda c: c.gap) if checks else None


@dataclass(frozen=True)
class CloseCall:
    """A segment named within the margin of a bar: the name it got and the one it had, with
    the figures that decided it ("its spend, $1,065, cleared Premium's bar, $1,063, by 0.2%")."""

    cluster: int
    named: str  # the persona the segment got
    previous: str  # the persona it had before ("" when there was none)
    bar: str  # the persona whose rule it was within the margin of
    check: ConditionCheck
    margin: float

    @property
    def changed(self) -> bool:
        return bool(self.previous) and self.named != self.previous


@dataclass(frozen=True)
class NearMiss:
    """'segment 1 missed Premium by 1.7% on income': a name the segment nearly had."""

    cluster: int
    persona: str
    metric: str
    gap: float  # share of the threshold

    @property
    def sentence(self) -> str:
        what = REGISTRY[self.metric].label.lower() if self.metric in REGISTRY else self.metric
        return f"segment {self.cluster} missed {self.persona} by {self.gap:.1%} on {what}"


@dataclass(frozen=True)
class SegmentVerdict:
    """Why a segment got its persona: every persona tried, in order, until one matched."""

    cluster: int
    persona: str
    tried: tuple[Attempt, ...]
    previous: str = ""  # the persona it had before this naming ("" when there was none)
    held: bool = False  # kept `previous` while missing its rule by no more than the margin
    close_calls: tuple[CloseCall, ...] = ()

    @property
    def matched(self) -> Attempt | None:
        return next((a for a in self.tried if (a.matched or self.held) and a.persona == self.persona),
                    None)

    @property
    def changed(self) -> bool:
        """Named otherwise than before (a new segment, or none before, is no change)."""
        return bool(self.previous) and self.persona != self.previous

    @property
    def why(self) -> CloseCall | None:
        """What decided a change of name: the close call on the new or the old persona's bar,
        else the new persona's nearest bar (or, for the fallback, the old persona's bar it fell
        short of). A close call on a third persona's bar decided nothing: a segment that moved
        to Wine Lovers was said to have "missed Premium's bar by 1.6%"."""
        if not self.changed:
            return None
        found = next((c for c in self.close_calls
                      if c.changed and c.bar in (self.persona, self.previous)), None)
        if found is not None:
            return found
        if self.matched is not None:  # the bar of its new persona it cleared by least
            attempt, checks = self.matched, [c for c in self.matched.checks if c.holds]
        else:  # fell to the fallback: the old persona's bar it now misses
            attempt = next((a for a in self.tried if a.persona == self.previous), None)
            checks = [c for c in attempt.checks if not c.holds] if attempt is not None else []
        if not checks:
            return None
        return CloseCall(self.cluster, self.persona, self.previous, attempt.persona,
                         min(checks, key=lambda c: c.gap), 0.0)

    @property
    def reason(self) -> str:
        attempt = self.matched
        if attempt is None:
            return "no persona rule matched"
        return "; ".join(f"{c.text} ({c.observed:,.2f}; bar: {c.threshold:,.2f})"
                         for c in attempt.checks if c.holds)

    @property
    def kept_by(self) -> CloseCall | None:
        """Why a held segment kept its name: the close call on the bar of the persona the plain
        rules gave it (tried earlier, cleared by less than the margin), else on its own bar,
        missed by less. The first close call could be a third persona's."""
        if not self.held:
            return None
        plain = next((a.persona for a in self.tried if a.matched and a.persona != self.persona), None)
        return next((c for c in self.close_calls if c.bar == (plain or self.persona)), None)

    @property
    def near_misses(self) -> tuple[NearMiss, ...]:
        """Personas tried before the one it got that it missed on a single close threshold; not
        those a close call already names with its figures (the appendix said it twice)."""
        called = {call.bar for call in self.close_calls}
        return tuple(NearMiss(self.cluster, a.persona, check.metric, check.gap)
                     for a in self.tried if a.persona != self.persona and a.persona not in called
                     and (check := a.near_miss) is not None)


@dataclass(frozen=True)
class PersonaAssignment:
    cluster_persona: dict[int, str]
    customer_persona: np.ndarray  # persona name per customer, aligned with the feature table
    verdicts: dict[int, SegmentVerdict]
    present: tuple[str, ...]  # segment personas with customers this week, in priority order
    absent: tuple[str, ...]
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # flag name -> bool per customer
    notes: tuple[str, ...] = ()  # conditions left out this week (a prediction there is none of)

    @property
    def reasons(self) -> dict[int, str]:
        return {cluster: verdict.reason for cluster, verdict in self.verdicts.items()}

    @property
    def close_calls(self) -> tuple[CloseCall, ...]:
        """Every name decided within the margin, segment by segment."""
        return tuple(call for _, verdict in sorted(self.verdicts.items()) for call in verdict.close_calls)

    def renamed_segments(self, personas: tuple[str, ...]) -> tuple[SegmentVerdict, ...]:
        """Segments this naming gave another persona than they had (both among `personas`:
        a persona renamed in the file is a rename, not a segment changing name)."""
        return tuple(v for _, v in sorted(self.verdicts.items())
                     if v.changed and v.previous in personas
                     and self.cluster_persona.get(v.cluster) == v.persona)


@dataclass(frozen=True)
class RuleChange:
    """What other rules make of the same customers in the same segments. Identity is by the
    customers a name covers: a name whose customers all carry one new name, which covers no
    one else, is a rename (`renames`), not movement."""

    since_run: str  # the run whose rules are compared with
    moves: tuple[tuple[str, str, int], ...]  # from persona, to persona, customers; most first
    flags: tuple[tuple[str, int, int], ...]  # flag, customers before, customers after
    renames: tuple[tuple[str, str, int], ...] = ()  # old name, new name, customers (the same ones)
    sizes: tuple[tuple[str, int, int], ...] = ()  # persona, customers before, customers after
    absent: tuple[str, ...] = ()  # personas of the new rules that name no customer
    absent_before: tuple[str, ...] = ()  # personas of the old rules that named no customer

    @property
    def moved(self) -> int:
        return sum(count for _, _, count in self.moves)

    @property
    def renamed(self) -> dict[str, str]:
        """Old name -> new name, for following a persona from week to week."""
        return {old: new for old, new, _ in self.renames}

    @property
    def real_moves(self) -> tuple[tuple[str, str, int], ...]:
        """The moves that are not a rename: customers now under another persona."""
        renamed = {(old, new) for old, new, _ in self.renames}
        return tuple(m for m in self.moves if (m[0], m[1]) not in renamed)

    @property
    def vanished(self) -> tuple[str, ...]:
        """Personas that had customers under the old rules and have none now, not renamed:
        emptied by their rules, or taken out of the file (merged into another)."""
        renamed = self.renamed
        return tuple(name for name, before, after in self.sizes
                     if before > 0 and after == 0 and name not in renamed)

    @property
    def emptied(self) -> tuple[str, ...]:
        """Vanished personas the new rules still name, with nobody left to carry them."""
        absent = set(self.absent)
        return tuple(name for name in self.vanished if name in absent)

    @property
    def successors(self) -> dict[str, str]:
        """Old name -> new name, renamed with its rule changed in the same edit: the old name is
        out of the file and most of its customers went to one new name, most of whose customers
        came from it (not a rename: some went elsewhere, or came from elsewhere)."""
        before = {name: count for name, count, _ in self.sizes}
        after = {name: count for name, _, count in self.sizes}
        found, sources = {}, {}
        for old in sorted(set(self.vanished) - set(self.absent)):  # no longer a persona of the rules
            went = self.went_to(old)
            if not went:
                continue
            new, kept = went[0]
            sources[new] = sources.get(new, 0) + 1
            if before.get(new, 0) == 0 and new not in self.absent_before and \
                    2 * kept > before[old] and 2 * kept > after.get(new, 0):
                found[old] = new
        return {old: new for old, new in found.items() if sources[new] == 1}  # two into one: a merge

    def shift(self) -> dict[str, float]:
        """Points of share each persona gained (or lost) only because the rules moved customers
        to another persona (a rename moves nobody): what a share check leaves out. Of the
        customers compared (every customer, on either engine; not Spark's fitting sample)."""
        customers = sum(before for _, before, _ in self.sizes)
        points: dict[str, float] = {}
        for before, after, count in self.real_moves:
            moved = 100 * count / max(customers, 1)
            points[before] = points.get(before, 0.0) - moved
            points[after] = points.get(after, 0.0) + moved
        return points

    def went_to(self, name: str) -> tuple[tuple[str, int], ...]:
        """Where the customers of `name` went under the new rules, most first."""
        return tuple((after, count) for before, after, count in self.moves if before == name)

    @property
    def sentence(self) -> str:
        flags = "".join(f"; {name} {before:,} -> {after:,} customers" for name, before, after in self.flags
                        if before != after)
        renamed = sum(count for _, _, count in self.renames)
        only = f", {renamed:,} of them only by a rename" if renamed else ""
        return (f"Persona rules changed since run {self.since_run}: {self.moved:,} customers now named "
                f"differently{only}{flags}.")


def find_renames(moves: tuple[tuple[str, str, int], ...], sizes: tuple[tuple[str, int, int], ...],
                 absent: tuple[str, ...] = (), absent_before: tuple[str, ...] = ()
                 ) -> tuple[tuple[str, str, int], ...]:
    """Renames among the moves: every customer of the old name went to the new one, the new
    name covers no one else (its customers all came from the old name), the old name is no
    longer in the rules (`absent`: the new rules' personas with nobody) and the new one was
    not in them (`absent_before`). A persona added in front of the fallback takes all its
    customers and was said to be the fallback renamed."""
    before = {name: count for name, count, _ in sizes}
    after = {name: count for name, _, count in sizes}
    return tuple((old, new, count) for old, new, count in moves
                 if count > 0 and before.get(old, 0) == count and after.get(new, 0) == count
                 and old not in absent and new not in absent_before)


def persona_sizes(before: np.ndarray, after: np.ndarray) -> tuple[tuple[str, int, int], ...]:
    """Customers per persona under the old rules and under the new, every name of either, by name."""
    then = pd.Series(before, dtype=object).value_counts().to_dict()  # hashed: 1M names in ~0.1 s
    now = pd.Series(after, dtype=object).value_counts().to_dict()
    return tuple((str(n), int(then.get(n, 0)), int(now.get(n, 0))) for n in sorted({*then, *now}))


def rule_change(before: PersonaAssignment, after: PersonaAssignment, since_run: str) -> RuleChange:
    """Customer by customer: the persona each had under the old rules and has under the new."""
    old = np.asarray(before.customer_persona, dtype=object)
    new = np.asarray(after.customer_persona, dtype=object)
    moved = old != new
    pairs: dict[tuple[str, str], int] = {}
    for pair in zip(old[moved], new[moved], strict=True):
        pairs[pair] = pairs.get(pair, 0) + 1
    moves = tuple(sorted(((a, b, n) for (a, b), n in pairs.items()), key=lambda m: (-m[2], m[0], m[1])))
    names = list(dict.fromkeys([*before.flags, *after.flags]))
    flags = tuple((name, int(before.flags[name].sum()) if name in before.flags else 0,
                   int(after.flags[name].sum()) if name in after.flags else 0) for name in names)
    sizes = persona_sizes(old, new)
    absent, absent_before = tuple(after.absent), tuple(before.absent)
    return RuleChange(since_run, moves, flags, find_renames(moves, sizes, absent, absent_before), sizes,
                      absent, absent_before)


class _Problems(Problems):
    """The collector, for one rules file: each message at the line of its key."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def add(self, loc: tuple, message: str) -> None:
        self.append(Problem(message, line=line_of(self.text, loc) or 0))

    def ordered(self) -> list[Problem]:
        return sorted(self, key=lambda problem: problem.line)


def compile_rulebook(personas_file: PersonasFile, path: Path) -> Rulebook:
    """Parse every condition and check the file as a whole; report all problems at once."""
    rulebook, problems = _compile_file(personas_file, path)
    if problems:
        raise ConfigError.collected(path, problems.ordered(), "fix and check with `reporter validate`")
    return rulebook


def read_rulebook(path: Path, missing_fix: str = "check the path given to --rules") -> Rulebook:
    """A personas file on its own (`reporter personas replay --rules FILE`), every problem of
    its structure and its rules reported together."""
    problems = Problems()
    personas, _ = read_personas(path, problems, missing_fix)
    if personas is not None:
        problems.extend(rulebook_problems(personas, path))
    problems.raise_if_any()
    return compile_rulebook(personas, path)


def rulebook_problems(personas_file: PersonasFile, path: Path) -> list[Problem]:
    """The same checks, located, for `load_config` to report with every other problem."""
    return [replace(p, file=str(path)) for p in _compile_file(personas_file, path)[1].ordered()]


def _compile_file(personas_file: PersonasFile, path: Path) -> tuple[Rulebook | None, _Problems]:
    text = read_source_text(path) if path.is_file() else ""
    problems = _Problems(text)
    _check_names(personas_file, problems)
    _check_flag_count(personas_file, problems)
    names = {spec.name for spec in personas_file.personas}
    compiled = [_compile(spec.place(index), spec, personas_file.fallback, names | set(personas_file.unread()),
                         problems) for index, spec in enumerate(personas_file.personas)]
    segment = sorted((p for p in compiled if not p.customer_level),
                     key=lambda p: (p.mode == "fallback", p.spec.priority))
    _check_reachable(segment, personas_file, problems)
    fallback = next((p for p in segment if p.mode == "fallback"), None)
    if problems or fallback is None:
        return None, problems
    flags = sorted((p for p in compiled if p.customer_level), key=lambda p: p.spec.priority)
    return Rulebook(tuple(segment), tuple(flags), fallback, personas_file.model_dump(mode="json"),
                    _tied_priorities(segment) + _tied_priorities(flags)), problems


def _tied_priorities(ordered: list[Persona]) -> tuple[str, ...]:
    """Two personas with one priority are tried in file order: legal, but rarely meant."""
    seen: dict[int, str] = {}
    warnings = []
    for persona in ordered:
        if persona.mode == "fallback":
            continue
        earlier = seen.setdefault(persona.spec.priority, persona.name)
        if earlier != persona.name:
            warnings.append(f'"{earlier}" and "{persona.name}" both have priority '
                            f'{persona.spec.priority}; "{earlier}" is tried first because it comes '
                            "first in the file; give each its own number to say which you mean")
    return tuple(warnings)


def _check_names(personas_file: PersonasFile, problems: _Problems) -> None:
    seen: dict[str, int] = {}
    spelled: dict[str, str] = {}  # a name as its files and columns spell it -> the first name so
    for index, spec in enumerate(personas_file.personas):
        key = list_key(spec.name)
        if spec.name in seen:
            problems.add(("personas", spec.place(index), "name"),
                         f'persona name "{spec.name}" is used twice; give each persona its own name')
        elif spelled.get(key, spec.name) != spec.name:
            problems.add(("personas", spec.place(index), "name"),
                         f'persona names "{spelled[key]}" and "{spec.name}" differ only in capitals '
                         "or punctuation, and would share one call list file and CRM column; give "
                         "each a name of its own")
        seen.setdefault(spec.name, index)
        spelled.setdefault(key, spec.name)
    if personas_file.fallback not in seen and personas_file.fallback not in personas_file.unread():
        names = ", ".join(f'"{s.name}"' for s in personas_file.personas if s.level == "segment")
        ruleless = [s.name for s in personas_file.personas if s.rules is None and s.level == "segment"]
        hint = f'did you mean "{ruleless[0]}", the persona without rules?' if len(ruleless) == 1 \
            else "name one of them"
        problems.add(("fallback",), f'fallback "{personas_file.fallback}" is not one of the '
                                    f"personas ({names}); {hint}")


def _check_flag_count(personas_file: PersonasFile, problems: _Problems) -> None:
    """Each flag is a column of every customer list and a call list of its own."""
    flags = [spec.place(i) for i, spec in enumerate(personas_file.personas) if spec.level == "customer"]
    if len(flags) > MAX_FLAGS:
        problems.add(("personas", flags[MAX_FLAGS]),
                     f"{len(flags)} customer flags (level: customer), more than the {MAX_FLAGS} a "
                     "brief can list; keep the ones a team acts on")


def _compile(index: int, spec: PersonaSpec, fallback: str, known_names: set[str],
             problems: _Problems) -> Persona:
    where = ("personas", index)
    label = f'persona "{spec.name}"'
    color = _hex_colour(spec.color)
    if color is None:
        problems.add((*where, "color"), f'{label}: unknown colour "{spec.color}"; '
                                        f"{_colour_hint(spec.color)}")
    if spec.name == fallback:
        if spec.rules is not None:
            problems.add((*where, "rules"), f"{label} is the fallback and cannot have rules; "
                                            "it names the segments no rule matches")
        if spec.level == "customer":
            problems.add((*where, "level"), f"{label} is the fallback and must be a segment persona")
        return Persona(spec, color or "#7f8c8d", "fallback", ())
    if spec.level == "customer" and spec.rank_by in PREDICTED:
        problems.add((*where, "rank_by"), f'{label}: rank_by "{spec.rank_by}" is a prediction, which a '
                                          "week without its model does not have; rank by a metric "
                                          "of the export such as total_spending")
    elif spec.level == "customer" and spec.rank_by not in REGISTRY:
        problems.add((*where, "rank_by"), f'{label}: rank_by "{spec.rank_by}" is not a metric; '
                                          f"{metric_hint(spec.rank_by, predicted=False)}")
    if spec.rules is None:
        if fallback in known_names:  # else the fallback message already points at this persona
            problems.add(where, f"{label} has no rules; add `rules:` with `all:` or `any:`")
        return Persona(spec, color or "#7f8c8d", "all", ())
    if not spec.rules.conditions:
        problems.add((*where, "rules", spec.rules.mode),
                     f"{label} has an empty rule set; list at least one condition")
    conditions = []
    for position, condition in enumerate(spec.rules.conditions):
        try:
            conditions.append(parse_condition(condition, segment_level=spec.level == "segment"))
        except RuleError as exc:
            problems.add((*where, "rules", spec.rules.mode, position), f"{label}: {exc}")
    return Persona(spec, color or "#7f8c8d", spec.rules.mode, tuple(conditions))


def _colour_hint(value: str) -> str:
    close = close_names(value)
    if close:
        return "did you mean " + " or ".join(f'"{name}"' for name in close) + "?"
    return 'use a CSS colour name such as "teal" or a code such as "#1f6f8b"'


def _hex_colour(value: str) -> str | None:
    return to_hex(value.strip().lower()) if value.strip() else None


def _check_reachable(ordered: list[Persona], personas_file: PersonasFile,
                     problems: _Problems) -> None:
    """A persona whose rules imply an earlier persona's rules can never be chosen."""
    index_of = {spec.name: i for i, spec in enumerate(personas_file.personas)}
    for position, later in enumerate(ordered):
        for earlier in ordered[:position]:
            if later.mode == "fallback" or earlier.mode == "fallback":
                continue
            if rule_set_implies(later.conditions, later.mode, earlier.conditions, earlier.mode):
                problems.add(
                    ("personas", index_of[later.name], "priority"),
                    f'persona "{later.name}" can never be chosen: whenever its rules hold, so do '
                    f'those of "{earlier.name}" (priority {earlier.spec.priority}), which is tried '
                    f'first; give "{later.name}" a lower priority number than "{earlier.name}"',
                )
                break


def assign(rulebook: Rulebook, cluster_profiles: Profiles, table: FeatureTable,
           labels: np.ndarray, keep: dict[int, str] | None = None,
           previous: dict[int, str] | None = None, margin: float = 0.0) -> PersonaAssignment:
    """Each segment gets the first persona whose rules hold, or, with `keep`, the persona it
    had when the saved model was fitted (the verdicts are still worked out, to show whether
    the rules would now say otherwise); with `previous`, names decided afresh stay put within
    `margin`; each customer is tested for flags."""
    _require_metrics(rulebook, table)
    population = Population(table.frame)
    judged, _ = usable_rulebook(rulebook, table.frame.columns)
    verdicts, cluster_persona = name_segments(judged, cluster_profiles, population, keep, previous,
                                              margin)
    return label_customers(rulebook, cluster_persona, table, labels, population, verdicts)


def name_segments(rulebook: Rulebook, cluster_profiles: Profiles, population: Population | FrozenPopulation,
                  keep: dict[int, str] | None = None, previous: dict[int, str] | None = None,
                  margin: float = 0.0) -> tuple[dict[int, SegmentVerdict], dict[int, str]]:
    """What the rules say of each segment, and the persona each gets (`keep`'s, when given):
    from the segments' profiles alone, whichever engine summed them. `previous` (last week's
    names; `keep` when given) makes names sticky by `margin` (see judge_segment)."""
    before = keep or previous or {}
    verdicts = {int(g.key): judge_segment(rulebook, g, population, before.get(int(g.key), ""), margin)
                for g in cluster_profiles.groups}
    return verdicts, dict(keep) if keep else {c: v.persona for c, v in verdicts.items()}


def label_customers(rulebook: Rulebook, cluster_persona: dict[int, str], table: FeatureTable,
                    labels: np.ndarray, population: Population | FrozenPopulation,
                    verdicts: dict[int, SegmentVerdict] | None = None) -> PersonaAssignment:
    """Persona per customer from its segment, and the customer-level flags."""
    _require_metrics(rulebook, table)
    rulebook, notes = usable_rulebook(rulebook, tuple(table.frame.keys()))
    names = np.array([cluster_persona.get(c, rulebook.fallback.name)
                      for c in range(max(cluster_persona) + 1)], dtype=object)
    present = tuple(p.name for p in rulebook.personas if p.name in cluster_persona.values())
    absent = tuple(p.name for p in rulebook.personas if p.name not in present)
    rows = len(labels)  # table.frame may be columns by name (the array path)
    flags = {flag.name: np.broadcast_to(np.asarray(matches(flag.conditions, flag.mode, table.frame,
                                                           population), dtype=bool), (rows,)).copy()
             for flag in rulebook.flags}
    return PersonaAssignment(cluster_persona, names[labels], verdicts or {}, present, absent, flags,
                             notes)


def usable_rulebook(rulebook: Rulebook, columns) -> tuple[Rulebook, tuple[str, ...]]:
    """The rules as they can be judged this week: a condition on a prediction that this week
    has none of (p_alive, clv without a lifetime model) is left out, and said so, persona and
    condition named; a persona left with no condition names nobody. Unchanged otherwise."""
    have = set(columns)
    notes: list[str] = []

    def judged(persona: Persona, kind: str = "persona") -> Persona:
        missing = [c for c in persona.conditions if c.metric in PREDICTED and c.metric not in have]
        if not missing:
            return persona
        notes.extend(f'{kind} "{persona.name}": "{c.text}" is left out this week: there is no '
                     f"{PREDICTED[c.metric]} this week (the brief's Value at risk section says why)"
                     for c in missing)
        kept = tuple(c for c in persona.conditions if c not in missing)
        return replace(persona, conditions=kept, mode=persona.mode if kept else "any")

    personas = tuple(judged(p) for p in rulebook.personas)
    flags = tuple(judged(p, "flag") for p in rulebook.flags)
    if not notes:
        return rulebook, ()
    return replace(rulebook, personas=personas, flags=flags), tuple(notes)


def _require_metrics(rulebook: Rulebook, table: FeatureTable) -> None:
    """Campaign history is optional in an export; a rule that needs it must say so plainly."""
    for persona in (*rulebook.personas, *rulebook.flags):
        for condition in persona.conditions:
            if condition.metric in PREDICTED:
                continue  # left out with a note when there is no prediction (usable_rulebook)
            if condition.metric in REGISTRY and condition.metric not in table.frame:
                raise DataError(
                    f'persona "{persona.name}" uses {condition.metric} ("{condition.text}"), but '
                    "this export has no AcceptedCmp1-AcceptedCmp5 columns; add them to the export "
                    "or remove the condition")


def all_conditions(rulebook: Rulebook) -> list[Condition]:
    return [c for persona in (*rulebook.personas, *rulebook.flags) for c in persona.conditions]


def judge_segment(rulebook: Rulebook, group: GroupProfile, population: Population,
                  previous: str = "", margin: float = 0.0) -> SegmentVerdict:
    """The first persona, by priority, whose rules hold for the segment's average customer.
    With `previous` (the persona it had) the name is sticky: the segment keeps it while it
    misses that rule by no more than `margin` (a share of each bar), and takes a persona tried
    earlier only when it clears that one's rule by the margin. Every name decided within the
    margin is recorded as a close call."""
    attempts = _attempts(rulebook, group, population)
    plain = next((a for a in attempts if a.matched), None)
    chosen, held = _sticky(attempts, plain, previous, margin, rulebook.fallback.name)
    name = chosen.persona if chosen is not None else rulebook.fallback.name
    position = attempts.index(chosen) + 1 if chosen is not None else len(attempts)
    tried = tuple(attempts[:max(position, attempts.index(plain) + 1 if plain else 0)])
    calls = tuple(CloseCall(int(group.key), name, previous, a.persona, a.deciding(margin), margin)
                  for a in tried if a.close(margin) and a.deciding(margin) is not None)
    return SegmentVerdict(int(group.key), name, tried, previous, held, calls)


def _attempts(rulebook: Rulebook, group: GroupProfile, population: Population) -> list[Attempt]:
    """Every segment persona's rules tried on the segment's means, in priority order."""
    observed = {**group.means, "share": group.share, "spend_share": group.spend_share}
    attempts = []
    for persona in rulebook.personas:
        if persona.mode == "fallback":
            continue
        checks = tuple(
            ConditionCheck(c.text, float(observed[c.metric]), c.threshold(population),
                           bool(c.holds(observed[c.metric], population)), c.metric, c.op)
            for c in persona.conditions
        )
        matched = bool(matches(persona.conditions, persona.mode, observed, population))
        attempts.append(Attempt(persona.name, persona.mode, checks, matched))
    return attempts


def _sticky(attempts: list[Attempt], plain: Attempt | None, previous: str, margin: float,
            fallback: str) -> tuple[Attempt | None, bool]:
    """Hysteresis: walking the personas in priority order, one tried before `previous` wins
    only by clearing its rule by the margin; `previous` stays while within the margin of its
    rule (the fallback always can). Otherwise the plain verdict stands. Returns the attempt
    chosen (None for the fallback) and whether `previous` was held against the plain rules."""
    known = previous == fallback or any(a.persona == previous for a in attempts)
    if not previous or margin <= 0 or not known or (plain.persona if plain else fallback) == previous:
        return plain, False
    for attempt in attempts:
        if attempt.persona == previous:
            return (attempt, True) if attempt.holds_with(-margin) else (plain, False)
        if attempt.holds_with(margin):
            return attempt, False
    return (None, True) if previous == fallback else (plain, False)
