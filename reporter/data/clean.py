"""Clean: repairs and exclusions, each one counted so the brief can show it.

No customer is dropped silently. Repairs (a filled-in income, a harmonised category) keep the
customer; exclusions (an implausible age, an extreme income) only keep the customer out of
*fitting* the segments: every customer is still assigned a segment and a persona.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from reporter.data.load import RawCustomers
from reporter.data.params import CleanParams
from reporter.errors import DataError

EDUCATION_LEVELS = {
    "basic": "Undergraduate",
    "2n cycle": "Undergraduate",
    "graduation": "Graduate",
    "master": "Postgraduate",
    "phd": "Postgraduate",
}
LIVING_WITH = {
    "married": "Partner",
    "together": "Partner",
    "single": "Alone",
    "divorced": "Alone",
    "widow": "Alone",
    "alone": "Alone",
}
OTHER = "Other"


def customers(count: int) -> str:
    return f"{count:,} customer{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class DataNote:
    """One line of the brief's data notes: what happened to how many customers."""

    kind: str  # "repair", "exclusion", "duplicate" (rows merged into one person) or "info"
    count: int
    text: str


@dataclass(frozen=True)
class DataNotes:
    rows_read: int
    rows_kept: int
    rows_in_fit: int
    notes: tuple[DataNote, ...] = field(default_factory=tuple)

    def count(self, kind: str) -> int:
        return sum(n.count for n in self.notes if n.kind == kind)


@dataclass(frozen=True)
class Customers:
    """Clean customers; `in_fit` marks those used to fit the segments."""

    frame: pd.DataFrame
    as_of: date
    notes: DataNotes
    income_fill: float  # what a missing income is filled with (saved with the model)


def clean(raw: RawCustomers, settings: CleanParams, as_of: date,
          income_fill: float | None = None) -> Customers:
    """Repairs and exclusions. `income_fill` is a saved model's fill for missing incomes;
    without one, the median of this file is used."""
    notes: list[DataNote] = list(column_notes(raw))
    frame = _drop_exact_duplicates(raw, notes)
    frame = _same_person(frame, settings.duplicates, raw, notes)
    fill = _income_fill(frame) if income_fill is None else income_fill
    frame = _impute_income(frame, fill, notes, fill_source(fill, income_fill is not None, settings.currency))
    frame = _harmonise(frame, notes)
    frame = _mark_fit_exclusions(frame, settings, as_of, notes)
    summary = DataNotes(
        rows_read=raw.rows_read,
        rows_kept=len(frame),
        rows_in_fit=int(frame["in_fit"].sum()),
        notes=tuple(notes),
    )
    return Customers(frame=frame.reset_index(drop=True), as_of=as_of, notes=summary, income_fill=fill)


def column_notes(raw: RawCustomers) -> list[DataNote]:
    notes = [DataNote("repair", count, text) for count, text in raw.repairs]
    if raw.renamed_columns:
        pairs = ", ".join(f"'{old}' read as {new}" for old, new in raw.renamed_columns)
        notes.append(DataNote("repair", 0, f"Column names matched ignoring case and spaces: {pairs}."))
    if raw.extra_columns:
        names = ", ".join(raw.extra_columns)
        notes.append(DataNote("info", 0, f"Extra columns ignored: {names}."))
    return notes


def _drop_exact_duplicates(raw: RawCustomers, notes: list[DataNote]) -> pd.DataFrame:
    frame = raw.frame
    exact = frame.duplicated(keep="first")
    if exact.any():
        notes.append(exact_duplicates_note(int(exact.sum())))
        frame = frame[~exact]
    return frame  # rows sharing an ID with other values were refused by load


def exact_duplicates_note(count: int) -> DataNote:
    return DataNote("repair", count, f"{count} exact duplicate rows removed.")


def _same_person(frame: pd.DataFrame, mode: str, raw: RawCustomers,
                 notes: list[DataNote]) -> pd.DataFrame:
    """Rows identical in every column but ID are one person exported twice (the real table has
    182). `merge` keeps the row with the smallest ID of each group (whatever the export's row
    order, so the person keeps that ID week after week) and names the other IDs in
    `other_ids`, so the person counts once in fitting, shares and call lists; `keep` counts
    every row but still names the others; `refuse` stops the run."""
    fingerprint = pd.util.hash_pandas_object(frame.drop(columns="ID"), index=False)
    in_group = fingerprint.duplicated(keep=False)
    other_ids = pd.Series("", index=frame.index, dtype="object")
    if not in_group.any():
        return frame.assign(other_ids=other_ids)
    grouped = frame.loc[in_group, "ID"]
    repeats = grouped.ne(grouped.groupby(fingerprint[in_group]).transform("min"))
    count = int(repeats.sum())
    if mode == "refuse":
        first = repeats[repeats].index[0]
        twin = grouped[fingerprint[in_group].eq(fingerprint[first]) & ~repeats].index[0]
        raise refused_duplicates(raw.origin, count, frame.at[first, "ID"], frame.at[twin, "ID"])
    ids = grouped.groupby(fingerprint[in_group], sort=False).agg(list)
    for index in in_group[in_group].index:
        own = frame.at[index, "ID"]
        other_ids[index] = " ".join(str(i) for i in ids[fingerprint[index]] if i != own)
    notes.append(duplicates_note(count, ids.map(len).value_counts().to_dict(), mode))
    frame = frame.assign(other_ids=other_ids)
    return frame[~repeats.reindex(frame.index, fill_value=False)] if mode == "merge" else frame


def duplicates_note(count: int, group_sizes: dict[int, int], mode: str) -> DataNote:
    return DataNote("duplicate" if mode == "merge" else "info", count,
                    _duplicates_text(count, group_sizes, mode))


def refused_duplicates(origin, count: int, first: int, twin: int) -> DataError:
    return DataError(
        f"{origin}: {count} rows repeat another customer under a different ID (first: ID "
        f"{first} repeats ID {twin}); remove them from the export or set clean.duplicates: merge")


def _duplicates_text(count: int, group_sizes: dict[int, int], mode: str) -> str:
    times = {2: "twice", 3: "three times"}
    sizes = ", ".join(f"{people:,} {'appear ' if not n else ''}{times.get(size, f'{size} times')}"
                      for n, (size, people) in enumerate(sorted(group_sizes.items())))
    what = (f"{count:,} duplicate rows: customers who appear more than once under different IDs, "
            f"identical in every other column ({sizes})")
    if mode == "merge":
        return f"{what}: each person is counted once; the other IDs are in the other_ids column."
    return f"{what}: kept as separate customers (clean.duplicates: keep)."


def _income_fill(frame: pd.DataFrame) -> float:
    return checked_fill(float(frame["Income"].median()))


def checked_fill(median: float | None) -> float:
    if median is None or pd.isna(median):
        raise DataError("column Income: every value is empty; the brief needs incomes")
    return median


def _impute_income(frame: pd.DataFrame, fill: float, notes: list[DataNote], source: str) -> pd.DataFrame:
    missing = frame["Income"].isna()
    if not missing.any():
        return frame.assign(income_imputed=missing)
    notes.append(income_note(int(missing.sum()), source))
    return frame.assign(Income=frame["Income"].fillna(fill), income_imputed=missing)


def income_note(count: int, source: str) -> DataNote:
    return DataNote("repair", count, f"{count} missing incomes filled with {source}.")


def fill_source(fill: float, saved: bool, currency: str) -> str:
    source = "the saved model's median" if saved else "the median"
    return f"{source}, {currency}{fill:,.0f}"


def _harmonise(frame: pd.DataFrame, notes: list[DataNote]) -> pd.DataFrame:
    education = _map_category(frame["Education"], EDUCATION_LEVELS, "Education", notes)
    living = _map_category(frame["Marital_Status"], LIVING_WITH, "Marital_Status", notes)
    return frame.assign(education=education, living_with=living)


def _map_category(
    values: pd.Series, mapping: dict[str, str], column: str, notes: list[DataNote]
) -> pd.Series:
    mapped = values.str.strip().str.lower().map(mapping)
    unknown = mapped.isna()
    if unknown.any():
        notes.append(unrecognised_note(column, int(unknown.sum()),
                                       sorted(values[unknown].astype(str).unique())))
    return mapped.fillna(OTHER)


def unrecognised_note(column: str, count: int, seen: list[str]) -> DataNote:
    shown = ", ".join(repr(v) for v in seen[:5]) + (" ..." if len(seen) > 5 else "")
    return DataNote("repair", count, f"{count} unrecognised {column} values set to Other: {shown}.")


def _mark_fit_exclusions(
    frame: pd.DataFrame, settings: CleanParams, as_of: date, notes: list[DataNote]
) -> pd.DataFrame:
    age = as_of.year - frame["Year_Birth"]
    bad_age = (age < settings.min_age) | (age > settings.max_age)
    high_income = frame["Income"] > settings.max_income
    reason = pd.Series("", index=frame.index, dtype="object")
    reason[high_income] = "income"
    reason[bad_age] = "age"
    notes += exclusion_notes(settings, as_of, int(bad_age.sum()), int((high_income & ~bad_age).sum()))
    return frame.assign(in_fit=reason.eq(""), fit_excluded=reason)


def exclusion_notes(settings: CleanParams, as_of: date, ages: int, incomes: int) -> list[DataNote]:
    """Who is left out of fitting: implausible ages first, then (of the rest) extreme incomes."""
    notes = []
    for count, why in (
        (ages, f"an implausible age (under {settings.min_age} or over "
               f"{settings.max_age} on {as_of:%d %b %Y})"),
        (incomes, f"an income above {settings.currency}{settings.max_income:,.0f}"),
    ):
        if count:
            notes.append(DataNote(
                "exclusion", count,
                f"{customers(count)} with {why} left out of fitting the segments; "
                f"{'it is' if count == 1 else 'they are'} counted in the nearest segment, not in its "
                f"averages.",
            ))
    return notes


__all__ = ["Customers", "DataNote", "DataNotes", "clean"]
