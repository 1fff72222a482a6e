"""Call lists in the email: which flags a team acts on, which of their list files go with its
email as CSV attachments, and the first customers its body names.

Decided when the run is archived (the files are in the run folder then), written into the
team's archived email document, and attached from the run folder when the message is built.
A list too large to attach is never dropped silently: the body says where it is. An attached
list is read back as untrusted input (only a list file name of the run folder, neutralised
again where a spreadsheet would run a cell as a formula). Each prediction column goes as
people read it: its plain label ("Chance to answer next campaign") and a rounded value (34%).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from reporter.brief.this_week import call_reason
from reporter.brief.view import Brief, FlagSection
from reporter.csvcells import neutralise_table
from reporter.errors import ArchiveError
from reporter.predict.columns import present

MB = 1024 * 1024
LIST_NAME = re.compile(r"(changes/new_)?[a-z0-9_]+\.csv")
BASE64_GROWTH = 1.37  # an attachment's bytes on the wire, base64 with line breaks
BODY_ALLOWANCE = 512 * 1024  # the HTML, text and chart parts of a brief's email


@dataclass(frozen=True)
class CallList:
    """One list file of a team's flags and whether it goes with the email."""

    file: str  # in the run folder: churn_risk.csv, changes/new_churn_risk.csv
    flag: str
    rows: int
    size: int  # bytes; 0 when the file is missing
    attached: bool
    note: str = ""  # why not attached, and where it is

    @property
    def line(self) -> str:
        """'churn_risk.csv (401 customers)', as both parts of the email say it."""
        return f"{self.file} ({self.rows:,} customer{'' if self.rows == 1 else 's'})"


@dataclass(frozen=True)
class NamedCustomer:
    flag: str
    customer_id: int
    other_ids: str
    why: str


def team_flags(brief: Brief, personas: tuple[str, ...]) -> tuple[FlagSection, ...]:
    """The flags a team's email acts on: those it names in teams[].personas, every flag when it
    names none (the team sees the whole brief)."""
    named = tuple(f for f in brief.flags if f.name in personas)
    return named if personas else brief.flags


def named_customers(brief: Brief, flags: tuple[FlagSection, ...],
                    count: int) -> tuple[NamedCustomer, ...]:
    """The first `count` customers of each flag, in the brief's order, each with why."""
    return tuple(NamedCustomer(flag.name, c.customer_id, c.other_ids,
                               call_reason(c, flag, brief.units))
                 for flag in flags for c in flag.top[:count])


def call_lists(flags: tuple[FlagSection, ...], size_of: Callable[[str], int | None],
               attach: bool, max_list_mb: float, max_email_mb: float, pdf_bytes: int,
               where: str) -> tuple[CallList, ...]:
    """Each flag's list and its newly flagged list; attached while each is under max_list_mb
    and the whole email stays under max_email_mb, else said with where the file is."""
    budget = max_email_mb * MB / BASE64_GROWTH - pdf_bytes - BODY_ALLOWANCE
    lists = []
    for flag in flags:
        files = [(flag.list_file, flag.to_contact)]  # the control group is not in the file
        if flag.new_count is not None:
            files.append((flag.new_file, flag.new_count))
        for name, rows in files:
            size = size_of(name)
            note = _why_not(size, attach, max_list_mb, budget, where, name)
            if not note:
                budget -= size
            lists.append(CallList(name, flag.name, rows, size or 0, not note, note))
    return tuple(lists)


def _why_not(size: int | None, attach: bool, max_list_mb: float, budget: float, where: str,
             name: str) -> str:
    place = f"it is in the run folder: {where}/{name}"
    if size is None:
        return "not written by this run"
    if not attach:
        return f"not attached (teams[].attach_lists is off); {place}"
    if size > max_list_mb * MB:
        return (f"{size / MB:.1f} MB, over delivery.max_list_mb ({max_list_mb:g} MB), so not "
                f"attached; {place}")
    if size > budget:
        return f"not attached: the email would pass delivery.max_email_mb; {place}"
    return ""


def attachment(folder: Path, name: str, max_bytes: int) -> bytes:
    """A list file of the run folder as it goes with the email: only a list name, only inside
    the folder, bounded, every text cell neutralised again (the archive is input too)."""
    path = folder / name
    if not LIST_NAME.fullmatch(name) or not path.resolve().is_relative_to(folder.resolve()):
        raise ArchiveError(f"{folder}: email attachment {name!r} is not a call list of the run; "
                           "the email document was edited: run `reporter rerender` or send again")
    data = path.read_bytes() if path.is_file() and path.stat().st_size <= max_bytes else None
    if data is None:
        raise ArchiveError(f"{path}: missing or larger than when the run was archived; the "
                           "email is not sent with it: restore the run folder and send again")
    table = pacsv.read_csv(io.BytesIO(data))
    safe = neutralise_table(for_people(table))
    if safe is table:
        return data
    buffer = pa.BufferOutputStream()
    pacsv.write_csv(safe, buffer, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return buffer.getvalue().to_pybytes()


def for_people(table: pa.Table) -> pa.Table:
    """Each prediction column under its plain label, rounded as people read it (0.3412 -> 34%);
    a column that is not numbers (an edited file) stays as it is, to be neutralised."""
    for prediction in present(table.column_names):
        values = table.column(prediction.name)
        if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
            continue
        shown = pa.array([prediction.shown(v) for v in values.to_pylist()], pa.string())
        table = table.set_column(table.column_names.index(prediction.name), prediction.label, shown)
    return table
