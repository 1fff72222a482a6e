"""This week, do this: page 1's short list of actions and the first customers to call.

Made from what the brief already counted (flags, personas, this week's changes), so every
count here is a count of a file in the run folder: a flag's call list (`churn_risk.csv`), its
newly flagged customers (`changes/new_churn_risk.csv`), the slipped list. Decided here once,
so the page, the email and the app say the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reporter.data.features import REGISTRY

# The view's records (reporter.brief.view), read here by their fields only: view.py builds the
# brief with this module, so importing them back would make a cycle.
PersonaRow = FlagSection = FlaggedCustomer = ChangesView = Units = Any

MAX_ACTIONS = 3
CALL_FIRST = 5
FLAT_SPREAD = 0.10  # a column whose persona values differ by less than this share of the
#                     population value does not tell personas apart


@dataclass(frozen=True)
class WeekAction:
    """One thing to do: what, how many customers, why, and the file that lists them."""

    text: str
    count: int
    reason: str
    file: str = ""


@dataclass(frozen=True)
class CallFirst:
    """One of the first customers to call, and why this one."""

    customer_id: int
    other_ids: str
    persona: str
    flag: str
    why: str


@dataclass(frozen=True)
class ThisWeek:
    actions: tuple[WeekAction, ...] = ()
    call_first: tuple[CallFirst, ...] = ()
    call_file: str = ""  # the call list the first customers come from (e.g. churn_risk.csv)
    call_order: str = ""  # 'in the order of churn_risk.csv', or newly flagged first
    flat_columns: tuple[str, ...] = ()  # page-1 table columns left out: alike for every persona
    flat_note: str = ""  # says so plainly


def this_week(personas: tuple[PersonaRow, ...], flags: tuple[FlagSection, ...],
              changes: ChangesView | None, new_by_persona: dict[str, dict[str, int]],
              units: Units, columns: tuple[str, ...]) -> ThisWeek:
    """`new_by_persona`: flag -> persona -> customers newly flagged (this week's changes)."""
    valuable = max(personas, key=lambda r: r.spend_share) if personas else None
    actions: list[WeekAction] = []
    for flag in flags:
        actions += _flag_actions(flag, valuable, new_by_persona.get(flag.name, {}))
    if changes is not None and changes.slipped_count:
        actions.append(WeekAction(
            f"Look at the {changes.slipped_count:,} customers who slipped from a valuable persona",
            changes.slipped_count, f"they were valuable in the brief of {changes.previous_as_of}",
            "changes/slipped.csv"))
    source = next((f for f in flags if f.top), None)
    flat = flat_columns(personas, columns)
    return ThisWeek(
        actions=tuple(actions[:MAX_ACTIONS]),
        call_first=_call_first(source, units) if source is not None else (),
        call_file=source.list_file if source is not None else "",
        call_order=_call_order(source) if source is not None else "",
        flat_columns=flat,
        flat_note=_flat_note(personas, flat, units),
    )


def _flag_actions(flag: FlagSection, valuable: PersonaRow | None,
                  new_by_persona: dict[str, int]) -> list[WeekAction]:
    """Newly flagged first (the news), then the flag's weight in the most valuable persona,
    then the whole list with the flag's first action."""
    actions = []
    if flag.new_count:
        in_valuable = new_by_persona.get(valuable.name, 0) if valuable is not None else 0
        of_them = f" ({in_valuable:,} of them {valuable.name})" if in_valuable else ""
        actions.append(WeekAction(
            f"Call the {flag.new_count:,} customers newly flagged {flag.name}{of_them}",
            flag.new_count, "flagged this week, not in the last brief", flag.new_file))
    in_valuable = dict(flag.by_persona).get(valuable.name, 0) if valuable is not None else 0
    held, started = 0, bool(valuable is not None and in_valuable and valuable.size)
    if started:
        held = dict(flag.held_by_persona).get(valuable.name, 0)
        held_words = (f"; {in_valuable - held:,} of them are to contact, the other {held:,} held back "
                      "as a control group") if held else ""
        actions.append(WeekAction(
            f"Start with {valuable.name}: {in_valuable:,} of {valuable.size:,} "
            f"{people(valuable.name)} ({in_valuable / valuable.size:.0%}) are {flag.name}{held_words}",
            in_valuable - held, _reason(flag, f"{valuable.name} is {valuable.spend_share:.0%} of spend"),
            flag.list_file))
    actions.append(_whole_list(flag, said_control=bool(held), said_why=started))
    return actions


def _whole_list(flag: FlagSection, said_control: bool, said_why: bool) -> WeekAction:
    """The flag's first action for everyone on its list. Page 1 counts everyone flagged, so the
    customers held back are named here too; the reason is not said twice in a row."""
    first = flag.actions[0].rstrip(".") if flag.actions else f"Contact the {flag.name} customers"
    whom = f"all {flag.to_contact:,} {people(flag.name)} to contact"
    if flag.held_back:
        control = "" if said_control else " as a control group"
        whom = (f"{flag.to_contact:,} {people(flag.name)} to contact "
                f"({flag.held_back:,} more held back{control})")
    return WeekAction(f"{first} — {whom}", flag.to_contact, "" if said_why else _reason(flag, ""),
                      flag.list_file)


def people(name: str) -> str:
    """A persona's name as its customers: "Premium customers", but "Top Customers" and "Deal
    Seekers" as they are (not "Top Customers customers")."""
    return name if name.split()[-1].lower().endswith(("ers", "people")) else f"{name} customers"


def _reason(flag: FlagSection, extra: str) -> str:
    words = flag.description.rstrip(".") if flag.description else f"flagged {flag.name}"
    words = words[:1].lower() + words[1:]
    return f"{words}; {extra}" if extra else words


def _call_first(flag: FlagSection, units: Units) -> tuple[CallFirst, ...]:
    return tuple(CallFirst(c.customer_id, c.other_ids, c.persona, flag.name, call_reason(c, flag, units))
                 for c in flag.top[:CALL_FIRST])


def _call_order(flag: FlagSection) -> str:
    """The brief lists newly flagged customers first; the call list file is by rank alone."""
    if any(c.new for c in flag.top[:CALL_FIRST]):
        return f"newly flagged first, then as in {flag.list_file}"
    return f"in the order of {flag.list_file}"


def call_reason(customer: FlaggedCustomer, flag: FlagSection, units: Units) -> str:
    """'new this week; Premium; total spend $2,524; 62 days since last purchase'."""
    parts = ["new this week"] if customer.new else []
    parts.append(customer.persona)
    shown = dict.fromkeys((flag.rank_by, "recency"))
    for name in shown:
        if name in customer.figures and name in REGISTRY:
            parts.append(_figure(name, customer.figures[name], units))
    return "; ".join(parts)


def _figure(name: str, value: float, units: Units) -> str:
    if name == "recency":
        return f"{value:,.0f} days since last purchase"
    return f"{REGISTRY[name].label.lower()} {units.quantity(name, value)}"


def flat_columns(personas: tuple[PersonaRow, ...], columns: tuple[str, ...]) -> tuple[str, ...]:
    """Columns whose persona values lie within FLAT_SPREAD of each other, relative to their
    mean: '49 / 49 / 47 / 50 days' tells a manager nothing about who is who."""
    if len(personas) < 2:
        return ()
    flat = []
    for name in columns:
        values = [r.figures[name] for r in personas if name in r.figures]
        middle = abs(sum(values) / len(values)) if values else 0.0
        if values and middle and (max(values) - min(values)) / middle < FLAT_SPREAD:
            flat.append(name)
    return tuple(flat)


def _flat_note(personas: tuple[PersonaRow, ...], flat: tuple[str, ...], units: Units) -> str:
    """'Days since last purchase is about the same for every persona (47 to 50 days), so the
    table leaves it out.'"""
    sentences = []
    for name in flat:
        values = [r.figures[name] for r in personas]
        low, high = units.quantity(name, min(values)), units.quantity(name, max(values))
        sentences.append(f"{REGISTRY[name].label} is about the same for every persona "
                         f"({low} to {high}), so the table leaves it out.")
    return " ".join(sentences)
