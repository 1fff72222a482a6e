"""Customers sent as records (the API's JSON objects, already checked field by field against
reporter/data/schema.py's ranges) typed straight into columns, as load types a table: the
array path of `reporter serve`.

Only a batch that load's remaining checks would pass is typed here: text within MAX_TEXT_CHARS,
join dates in one unambiguous layout (zero-padded, as the exports write them) from 1900 to the
day after now, no ID sent twice with other values. Anything else gives None, and the caller
takes load's own path (typed_customers), whose messages name the customer and what to fix:
so both paths refuse alike, by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from operator import itemgetter

import numpy as np

from reporter.data.load import EARLIEST_JOIN, MAX_TEXT_CHARS
from reporter.data.schema import CAMPAIGN_COLUMNS, COLUMNS, DATE_COLUMN, TEXT_COLUMNS

# the layouts load recognises (load.DATE_FORMATS), each as its zero-padded text and where its
# year, month and day stand in it
STRICT_DATES = {"%Y-%m-%d": re.compile(r"\d{4}-\d{2}-\d{2}"), "%d-%m-%Y": re.compile(r"\d{2}-\d{2}-\d{4}"),
                "%m/%d/%Y": re.compile(r"\d{2}/\d{2}/\d{4}"), "%d/%m/%Y": re.compile(r"\d{2}/\d{2}/\d{4}")}
PLACES = {"%Y-%m-%d": (slice(0, 4), slice(5, 7), slice(8, 10)),
          "%d-%m-%Y": (slice(6, 10), slice(3, 5), slice(0, 2)),
          "%m/%d/%Y": (slice(6, 10), slice(0, 2), slice(3, 5)),
          "%d/%m/%Y": (slice(6, 10), slice(3, 5), slice(0, 2))}
# without source.date_format, load guesses the layout: these two never read each other's text
GUESSED = ("%Y-%m-%d", "%d-%m-%Y")
EPOCH = date(1970, 1, 1).toordinal()


def typed_records(records: Sequence[dict], date_format: str | None,
                  exported: datetime) -> dict[str, np.ndarray] | None:
    """The records' columns as load types them (the export's order, each campaign column the
    records have), or None when load's checks might have something to say."""
    names = [*COLUMNS, *(c for c in CAMPAIGN_COLUMNS if all(c in r for r in records))]
    if any(len(r) != len(names) for r in records):
        return None  # a campaign column some records lack: load names the empty values
    values = dict(zip(names, zip(*map(itemgetter(*names), records), strict=True), strict=True))
    return typed_columns(values, date_format, exported)


def typed_columns(values: Mapping[str, Sequence], date_format: str | None,
                  exported: datetime) -> dict[str, np.ndarray] | None:
    """typed_records on the records' values already taken apart by column (the export's
    columns, then the campaign columns every record has): one pass per column, each in C
    where it can be (a whole number typed straight to int64, a date looked up once per
    distinct text)."""
    dates = _dates(values[DATE_COLUMN], date_format, exported)
    if dates is None:
        return None
    columns: dict[str, np.ndarray] = {}
    for name, sent in values.items():
        if name == DATE_COLUMN:
            columns[name] = dates
        elif name in TEXT_COLUMNS:
            text = list(map(str.strip, sent))
            if max(map(len, text)) > MAX_TEXT_CHARS:
                return None
            columns[name] = np.array(text, dtype=object)
        elif name == "Income":
            columns[name] = np.array(sent, dtype="float64")  # None: NaN
        elif set(map(type, sent)) == {int}:  # within WHOLE_RANGES: exact in float64 too
            columns[name] = np.array(sent, dtype="int64")
        else:  # a whole number sent as 3.0
            columns[name] = np.array(sent, dtype="float64").astype("int64")
    return columns if _ids_agree(columns) else None


def _dates(values: Sequence[str], date_format: str | None, exported: datetime) -> np.ndarray | None:
    distinct = dict.fromkeys(values)
    layout = date_format or next((f for f in GUESSED if STRICT_DATES[f].fullmatch(values[0])), None)
    strict = STRICT_DATES.get(layout or "")
    if strict is None or not all(strict.fullmatch(value) for value in distinct):
        return None
    year, month, day = PLACES[layout]
    try:  # what strptime reads in these layouts, without its cost per value
        parsed = [date(int(value[year]), int(value[month]), int(value[day])) for value in distinct]
    except ValueError:
        return None
    latest, earliest = (exported + timedelta(days=1)), EARLIEST_JOIN.date()
    if max(parsed) > latest.date() or min(parsed) < earliest:  # a day after `latest`'s date is after it
        return None
    position = {value: index for index, value in enumerate(distinct)}
    at = np.fromiter(map(position.__getitem__, values), dtype=np.int64, count=len(values))
    # days since 1970-01-01 are datetime64[D]'s own numbers: NumPy converts a date object
    # about a hundred times slower
    days = np.array([joined.toordinal() - EPOCH for joined in parsed], dtype=np.int64)
    return days.view("datetime64[D]")[at]


def _ids_agree(columns: dict[str, np.ndarray]) -> bool:
    """No ID sent twice with other values (which one is the customer cannot be guessed)."""
    ids = columns["ID"]
    if len(np.unique(ids)) == len(ids):
        return True
    seen: dict[int, tuple] = {}
    for index, customer_id in enumerate(ids.tolist()):
        row = tuple(_same(values[index]) for values in columns.values())
        if seen.setdefault(customer_id, row) != row:
            return False
    return True


def _same(value):
    """A value as rows are compared: a missing income equals a missing income."""
    return None if isinstance(value, float) and value != value else value
