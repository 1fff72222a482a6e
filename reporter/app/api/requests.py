"""What a client sends: the JSON body, read within its limits, and each customer checked field
by field against the ranges reporter/data/schema.py declares for the files, so the API and the
file checks cannot disagree."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
from fastapi import HTTPException, Request

from reporter.data.load import RowNames
from reporter.data.schema import COLUMNS, DATE_COLUMN, MAX_COUNT, TEXT_COLUMNS, WHOLE_RANGES

IN_BATCH = RowNames("customer", 0)  # messages count customers as the JSON array does, from 0
MAX_DEPTH = 32  # a request nests 3 deep ({"customers": [{...}]}); deeper is refused unparsed
RANGES = {**WHOLE_RANGES, "Income": (0, MAX_COUNT)}  # as the file checks read them

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
    depth = nesting(body)
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

_STRING = re.compile(rb'"[^"]*"')

_BRACKETS = np.zeros(256, dtype=np.int8)

_BRACKETS[[ord("["), ord("{")]] = 1
_BRACKETS[[ord("]"), ord("}")]] = -1


def nesting(body: bytes) -> int:
    """How deep arrays and objects nest in a JSON text, strings skipped: counted in C-speed
    passes before parsing, as a parser recursing into 100,000 brackets fails deep inside."""
    structure = _STRING.sub(b"", _ESCAPED.sub(b"", body))
    steps = _BRACKETS[np.frombuffer(structure, dtype=np.uint8)]
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
    problems = [problem for position, customer in enumerate(customers)
                for problem in _field_problems(customer, position)]
    if problems:
        raise HTTPException(422, problems[:50])
    return customers, single


def _field_problems(customer: Any, position: int) -> list[dict]:
    """Each problem names the customer by position in the batch (and by ID when that is
    valid), the field and what was expected, with the allowed range for numbers."""
    if not isinstance(customer, dict):
        return [{"customer": position, "problem": "expected an object of the export's columns"}]
    who = {"customer": position}
    if _fits("ID", customer.get("ID")):
        who["customer_id"] = int(customer["ID"])
    problems = []
    for field, expected in EXPECTED.items():
        value = customer.get(field)
        if field not in customer:
            if field in COLUMNS and field != "Income":
                problems.append({**who, "field": field, "problem": f"missing; expected {expected}"})
            continue
        if not _fits(field, value):
            problems.append({**who, "field": field,
                             "problem": f"expected {expected}, got {json.dumps(value)[:40]}"})
    unknown = sorted(set(customer) - set(EXPECTED))
    if unknown:
        problems.append({**who, "field": unknown[0],
                         "problem": f"not a column of the export (columns: {', '.join(COLUMNS)})"})
    return problems


def _fits(field: str, value: Any) -> bool:
    """The value as the file checks would accept it: numbers within RANGES, checked before
    anything casts them (a count of 2**63 would wrap to a negative int64)."""
    if field in TEXT_COLUMNS:
        return isinstance(value, str)
    if field == DATE_COLUMN:
        return isinstance(value, str) and bool(value.strip())
    if field == "Income" and value is None:
        return True
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    low, high = RANGES[field]
    number = isinstance(value, int) or math.isfinite(value)
    whole = field == "Income" or isinstance(value, int) or float(value).is_integer()
    return number and whole and low <= value <= high


def assign_schema(max_batch: int) -> dict:
    customer = {"type": "object", "required": [c for c in COLUMNS if c != "Income"],
                "properties": {c: {"type": "string", "format": "date"} if c == DATE_COLUMN else
                               {"type": "string"} if c in TEXT_COLUMNS else
                               {"type": ["number", "null"], "minimum": 0} if c == "Income" else
                               {"type": "integer", "minimum": 0} for c in EXPECTED},
                "additionalProperties": False}
    return {"oneOf": [customer, {"type": "object", "required": ["customers"], "properties": {
        "customers": {"type": "array", "items": customer, "minItems": 1, "maxItems": max_batch}}}]}

