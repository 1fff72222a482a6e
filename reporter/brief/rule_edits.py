"""What an edit of personas.yaml did to the names, in words for page 1.

Identity is by the customers a name covers (`RuleChange`): a rename keeps its customers and
is said to be a rename, two names whose customers all went to one new name are a merge, a
persona left with no customers is news with where its customers went, and every other move
is named as caused by the edit.
"""

from __future__ import annotations

from reporter.personas.rulebook import RuleChange

MAX_LINES = 8  # page 1 shows the largest changes; the appendix lists every move


def rule_edit_lines(change: RuleChange | None) -> tuple[str, ...]:
    """One sentence per rename, merge, emptied persona and other move, largest first."""
    if change is None:
        return ()
    merges = _merges(change)
    merged = {old for olds, _, _ in merges for old in olds}
    # "now": the customers compared are this run's, so the count need not be last brief's
    lines = [f"{old} is now called {new}: a new name only, the same customers ({count:,} now)."
             for old, new, count in change.renames]
    lines += [f"{_and(olds)} are now one persona, {new}: the same customers together ({count:,} now)."
              for olds, new, count in merges]
    successors = {old: new for old, new in change.successors.items() if old not in merged}
    lines += [_successor(change, old, new) for old, new in successors.items()]
    told = merged | set(change.vanished)
    lines += [_emptied(change, name) for name in change.vanished
              if name not in merged and name not in successors]
    lines += [f"{count:,} customers moved from {old} to {new} because personas.yaml changed."
              for old, new, count in change.real_moves if old not in told]
    return tuple(lines[:MAX_LINES])


def _merges(change: RuleChange) -> list[tuple[tuple[str, ...], str, int]]:
    """New names that cover exactly the customers of two or more earlier names, all of them
    (a persona folded into one that keeps its own customers counts as one of the two)."""
    before = {name: count for name, count, _ in change.sizes}
    after = {name: count for name, _, count in change.sizes}
    into: dict[str, list[tuple[str, int]]] = {}
    emptied = set(change.emptied)  # still a persona of the rules, with nobody: not merged
    for old, new, count in change.real_moves:
        if old not in emptied:
            into.setdefault(new, []).append((old, count))
    merges = []
    for new, sources in into.items():
        whole = all(before.get(old, 0) == count for old, count in sources)
        left = any(old == new for old, _, _ in change.moves)  # it lost customers of its own
        stayed = before.get(new, 0)
        names = tuple(sorted(old for old, _ in sources)) + ((new,) if stayed else ())
        if whole and not left and len(names) >= 2 and \
                sum(count for _, count in sources) + stayed == after.get(new, 0):
            merges.append((names, new, after[new]))
    return merges


def _successor(change: RuleChange, old: str, new: str) -> str:
    """The count is of the customers compared (this run's under the old rules), said as such:
    it need not be the old name's count in the last brief."""
    kept = dict(change.went_to(old))[new]
    had = next(before for name, before, _ in change.sizes if name == old)
    others = [(to, count) for to, count in change.went_to(old) if to != new]
    said = (f"{old} is now called {new}, and its rule changed too: of the {had:,} customers the old "
            f"rules would call {old} now, {kept:,} are {new}")
    return said + "".join(f", {count:,} went to {to}" for to, count in others) + "."


def _emptied(change: RuleChange, name: str) -> str:
    """A persona left with nobody (or taken out of the file), and where its customers went."""
    went = change.went_to(name)
    where = _and([f"{to} ({count:,})" for to, count in went]) if went else "no other persona"
    total = sum(count for _, count in went)
    return (f"{name} has no customers now: personas.yaml changed, and its {total:,} customers "
            f"went to {where}.")


def _and(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
