"""What a client sends: the JSON body, read within its limits, and each customer checked field
by field against the ranges reporter/data/schema.py declares for the files, so the API and the
file checks cannot disagree."""

from __future__ import annotations

import json
import math
import re
from operator import itemgetter
from typing import Annotated, Any

import numpy as np
from fastapi import HTTPException, Request
from pydantic import (
    AfterValidator,
    ConfigDict,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    create_model,
)

from reporter.data.load import RowNames
from reporter.data.schema import (
    COLUMNS,
    DATE_COLUMN,
    MAX_COUNT,
    NEWCOMER_ZEROS,
    TEXT_COLUMNS,
    WHOLE_RANGES,
)

IN_BATCH = RowNames("customer", 0)  # messages count customers as the JSON array does, from 0
MAX_DEPTH = 32  # a request nests 3 deep ({"customers": [{...}]}); deeper is refused unparsed

EXPECTED = {
    **{c: f"a whole number from {low:,} to {high:,}" for c, (low, high) in WHOLE_RANGES.items()},
    "Income": f"a number from 0 to {MAX_COUNT:,}, or null when unknown",
    **{c: "text" for c in TEXT_COLUMNS},
    DATE_COLUMN: "a date, YYYY-MM-DD",
}



async def body_of(request: Request, limit_kb: int) -> Any:
    """The JSON body, read no further than the limit (a body without a length is counted)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_kb * 1024:
            raise HTTPException(413, f"the body is over the limit of {limit_kb:,} kB (api.max_body_kb)")
        chunks.append(chunk)
    body = b"".join(chunks)
    # nesting cannot be deeper than the brackets opened: a small body is not counted through
    depth = nesting(body) if body.count(b"[") + body.count(b"{") > MAX_DEPTH else 0
    if depth > MAX_DEPTH:
        raise HTTPException(400, f"the body nests {depth:,} levels deep; at most {MAX_DEPTH} are read: "
                                 'send one customer as an object of plain values, or {"customers": [...]}')
    try:
        return json.loads(body)
    except RecursionError:  # not expected below MAX_DEPTH; a 400 all the same
        raise HTTPException(400, f"the body nests too deep; at most {MAX_DEPTH} levels are read") from None
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise HTTPException(400, f"the body is not valid JSON{where}; send one customer as an "
                                 'object, or {"customers": [...]}') from None


_ESCAPED = re.compile(rb"\\.", re.DOTALL)

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')

_BRACKETS = np.zeros(256, dtype=np.int8)

_BRACKETS[[ord("["), ord("{")]] = 1
_BRACKETS[[ord("]"), ord("}")]] = -1


def nesting(body: bytes) -> int:
    """How deep arrays and objects nest in a JSON text, strings skipped: counted in C-speed
    passes before parsing, as a parser recursing into 100,000 brackets fails deep inside.
    Escapes dropped, only quotes and brackets kept; a bracket is in a string when an odd
    number of quotes comes before it."""
    unescaped = _ESCAPED.sub(b"", body) if b"\\" in body else body
    structure = np.frombuffer(unescaped.translate(None, _NOT_STRUCTURE), dtype=np.uint8)
    outside = (np.cumsum(structure == ord('"'), dtype=np.int64) & 1) == 0
    steps = _BRACKETS[structure] * outside
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


def customers_of(document: Any, max_batch: int) -> tuple[list[dict], bool]:
    """The customers sent, and whether one was sent alone; every field problem of every
    customer is reported together, each with the customer's position."""
    single = isinstance(document, dict) and "customers" not in document
    customers = [document] if single else document.get("customers") if isinstance(document, dict) else None
    if not isinstance(customers, list) or not customers:
        raise HTTPException(422, [{"problem": 'send one customer as an object, or {"customers": [...]} '
                                              "with at least one"}])
    if len(customers) > max_batch:
        raise HTTPException(413, f"{len(customers):,} customers in one request; the limit is "
                                 f"{max_batch:,} (api.max_batch): split the batch")
    if _all_plainly_valid(customers) if len(customers) > 8 else all(map(_plainly_valid, customers)):
        return customers, single  # what pydantic would pass, told in plain Python at a fifth of its cost
    problems = [problem for position, customer in enumerate(customers)
                for problem in _field_problems(customer, position)]
    if problems:
        raise HTTPException(422, problems[:50])
    return customers, single


def _number(low: float, high: float, whole: bool):
    """A JSON number as the file checks read it: finite, within [low, high], and whole where
    the column is, checked before anything casts it (a count of 2**63 would wrap to a negative
    int64). true and false are not numbers here."""

    def check(value: int | float | None) -> int | float | None:
        if isinstance(value, float) and not (math.isfinite(value) and (value.is_integer() or not whole)):
            raise ValueError("not a finite whole number" if whole else "not finite")
        if value is not None and not low <= value <= high:
            raise ValueError("out of range")
        return value

    return AfterValidator(check)


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("empty")
    return text


def _field(column: str):
    """The pydantic field of one column, from reporter/data/schema.py's ranges and kinds."""
    if column in TEXT_COLUMNS:
        kind = StrictStr
    elif column == DATE_COLUMN:
        kind = Annotated[StrictStr, AfterValidator(_not_blank)]
    elif column == "Income":
        return Annotated[StrictInt | StrictFloat | None, _number(0, MAX_COUNT, whole=False)], None
    else:
        kind = Annotated[StrictInt | StrictFloat, _number(*WHOLE_RANGES[column], whole=True)]
    # a new customer may leave out the campaign columns, Complain and Response (read as 0)
    return kind, (... if column in COLUMNS and column not in NEWCOMER_ZEROS else None)


# One customer as POST /v1/assign takes it, generated from the file schema: the same columns,
# kinds and ranges, so the API and the file checks cannot disagree.
Customer = create_model("Customer", __config__=ConfigDict(extra="forbid"),
                        **{column: _field(column) for column in EXPECTED})


def _field_problems(customer: Any, position: int) -> list[dict]:
    """Each problem names the customer by position in the batch (and by ID when that is
    valid), the field and what was expected, with the allowed range for numbers."""
    if not isinstance(customer, dict):
        return [{"customer": position, "problem": "expected an object of the export's columns"}]
    try:
        Customer.model_validate(customer)
        return []
    except ValidationError as exc:
        wrong = {str(error["loc"][0]): error["type"] for error in exc.errors() if error["loc"]}
    who = {"customer": position}
    if "ID" in customer and "ID" not in wrong:
        who["customer_id"] = int(customer["ID"])
    problems = []
    for field, expected in EXPECTED.items():
        if field not in wrong:
            continue
        if wrong[field] == "missing":
            problems.append({**who, "field": field, "problem": f"missing; expected {expected}"})
        else:
            problems.append({**who, "field": field,
                             "problem": f"expected {expected}, got {json.dumps(customer[field])[:40]}"})
    unknown = sorted(field for field, kind in wrong.items() if kind == "extra_forbidden")
    if unknown:
        problems.append({**who, "field": unknown[0],
                         "problem": f"not a column of the export (columns: {', '.join(COLUMNS)})"})
    return problems


_REQUIRED = frozenset(c for c in COLUMNS if c != "Income" and c not in NEWCOMER_ZEROS)
_ALLOWED = frozenset(EXPECTED)


def _all_plainly_valid(customers: list) -> bool:
    """`_plainly_valid` of every customer: column by column (each check one pass in C over a
    column) when they all have the same fields, else customer by customer."""
    if set(map(type, customers)) != {dict}:
        return False
    keys = tuple(customers[0])
    if not (len(keys) > 1 and _REQUIRED <= set(keys) <= _ALLOWED and set(map(len, customers)) == {len(keys)}):
        return all(map(_plainly_valid, customers))
    try:
        columns = dict(zip(keys, zip(*map(itemgetter(*keys), customers), strict=True), strict=True))
    except KeyError:  # the same number of fields, not the same fields
        return all(map(_plainly_valid, customers))
    return all(_column_valid(name, values) for name, values in columns.items()) or \
        all(map(_plainly_valid, customers))  # a whole number sent as 3.0 is checked one by one


def _column_valid(name: str, values: tuple) -> bool:
    """True only when every value of the column is one `_plainly_valid` passes (a float in a
    whole-number column is left to it: False here)."""
    kinds = set(map(type, values))
    if name in WHOLE_RANGES:
        low, high = WHOLE_RANGES[name]
        return kinds == {int} and low <= min(values) and max(values) <= high
    if name == "Income":
        known = [value for value in values if value is not None]
        return kinds <= {int, float, type(None)} and (
            not known or (all(map(math.isfinite, known)) and min(known) >= 0 and max(known) <= MAX_COUNT))
    return kinds == {str} and (name != DATE_COLUMN or all(map(str.strip, values)))


def _plainly_valid(customer: Any) -> bool:
    """True only for a customer `Customer` accepts (the same kinds and WHOLE_RANGES): the
    common case told fast; anything else goes to `Customer` for its problems."""
    if type(customer) is not dict or not _REQUIRED <= customer.keys() <= _ALLOWED:
        return False
    for column, (low, high) in WHOLE_RANGES.items():
        value = customer.get(column, 0)  # a left-out campaign column, Complain or Response
        kind = type(value)
        if not ((kind is int or (kind is float and value.is_integer())) and low <= value <= high):
            return False
    income = customer.get("Income")
    if income is not None and not ((type(income) is int or (type(income) is float and math.isfinite(income)))
                                   and 0 <= income <= MAX_COUNT):
        return False
    return (all(type(customer[column]) is str for column in TEXT_COLUMNS)
            and type(customer[DATE_COLUMN]) is str and bool(customer[DATE_COLUMN].strip()))


def assign_schema(max_batch: int) -> dict:
    customer = {"type": "object", "required": sorted(_REQUIRED, key=COLUMNS.index),
                "properties": {c: {"type": "string", "format": "date"} if c == DATE_COLUMN else
                               {"type": "string"} if c in TEXT_COLUMNS else
                               {"type": ["number", "null"], "minimum": 0} if c == "Income" else
                               {"type": "integer", "minimum": 0} for c in EXPECTED},
                "additionalProperties": False}
    return {"oneOf": [customer, {"type": "object", "required": ["customers"], "properties": {
        "customers": {"type": "array", "items": customer, "minItems": 1, "maxItems": max_batch}}}]}

