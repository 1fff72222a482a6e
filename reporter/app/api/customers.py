"""Routes tagged customers: assign new customers with the served model, and one customer's
persona and flags in every archived run (found under the ID a merged duplicate is counted as)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pyarrow import csv as pacsv

from reporter.app.api.requests import EXPECTED, IN_BATCH, assign_schema, body_of, customers_of
from reporter.app.api.swap import Archive, Served, served_by
from reporter.app.explore import customer_history, segments
from reporter.data.load import Origin, typed_customers
from reporter.data.params import CleanParams
from reporter.data.records import typed_columns, typed_records
from reporter.data.schema import CAMPAIGN_COLUMNS, COLUMNS, DATE_COLUMN, MAX_ID, NEWCOMER_ZEROS
from reporter.history.catalogue import RunSummary, runs_of
from reporter.model.arrays import FAST_MAX, score_arrays
from reporter.model.score_new import mark_control, score_with, scoring_date
from reporter.personas.control import ControlParams
from reporter.personas.exports import EXPORT_METRICS

INLINE_MAX = 32  # customers scored on the event loop itself: under 2 ms of CPU, 1.2 ms for one


def add_customer_routes(app: FastAPI, archive: Archive, scope, max_batch: int, max_body_kb: int,
                        cleaning: CleanParams, date_format: str | None,
                        control: ControlParams | None = None) -> None:
    scoring = asyncio.Lock()

    @app.post("/v1/assign", tags=["customers"], dependencies=[scope("assign")],
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": assign_schema(max_batch)}}}})
    async def assign(request: Request) -> JSONResponse:
        """One customer (an object with the export's columns) or a batch ({"customers": [...]}):
        each gets segment, persona, flags and RFM scores from the newest delivered run's model."""
        document, single = customers_of(await body_of(request, max_body_kb), max_batch)
        served = served_by(archive)
        # one at a time, as threads scoring side by side only contend for the interpreter
        # (measured); a batch in a worker thread, so health checks and reads are answered
        # meanwhile, a few customers at once (the hand-off to a thread cost more than them)
        async with scoring:
            if len(document) <= INLINE_MAX:
                answers = _score(served, document, cleaning, date_format, control)
            else:
                answers = await run_in_threadpool(_score, served, document, cleaning, date_format, control)
        about = {"run_id": served.run.run_id, "as_of": served.run.as_of,
                 "model_fitted_in_run": served.model.fitted_in_run}
        # plain values already: written as JSON at once (FastAPI's encoder walked every answer)
        return JSONResponse({**about, **answers[0]} if single else {**about, "customers": answers})

    @app.get("/v1/customers/{customer_id}", tags=["customers"], dependencies=[scope("read")])
    def customer(customer_id: int) -> dict:
        """The customer's persona and flags in every archived run of the source, newest first.
        An ID the clean stage merged into another (the same person exported twice) is found
        under the ID it is counted as: `merged_into` names it, and each run says `counted_as`."""
        if not 0 <= customer_id <= MAX_ID:
            raise HTTPException(422, f"customer_id is a whole number from 0 to {MAX_ID:,}")
        found = [_seen_in(run, customer_id) for run in runs_of(archive.output_dir, archive.source)]
        found = [seen for seen in found if seen is not None]
        if not found:
            raise HTTPException(404, f"customer {customer_id} is in no run of this source")
        counted_as = found[0]["counted_as"]
        return {"customer_id": customer_id,
                "merged_into": counted_as if counted_as != customer_id else None,
                "other_ids": found[0]["other_ids"], "runs": found}



def _score(served: Served, customers: list[dict], cleaning, date_format: str | None,
           control: ControlParams | None = None) -> list[dict]:
    """Scored as `reporter assign` scores: load's checks and types, then the run's model; a
    field a new customer may leave out (NEWCOMER_ZEROS) is 0. A flag's control group is marked
    (`control`) and its flag left out of `flags`, the flags to act on, as the CRM push does."""
    return answers_of(scored(served, customers, cleaning, date_format, control=control), customers)


ZEROS = {**dict.fromkeys(NEWCOMER_ZEROS, 0), "Income": None}  # what a customer may leave out
SENT = (*COLUMNS, *CAMPAIGN_COLUMNS)  # the columns of a customer filled in with ZEROS


def scored(served: Served, sent: list[dict], cleaning, date_format: str | None,
           fast: bool = True, control: ControlParams | None = None) -> dict[str, np.ndarray]:
    """customers.csv's columns for the customers sent (ZEROS filled in): on the array path
    when every value is one load's checks pass (data/records.py), else through load's own
    checks (which name what is wrong) and then score_with; `fast=False`: the table path all
    the way."""
    now = datetime.now()
    columns = None
    if fast and len(sent) <= FAST_MAX:
        by_column = sent_columns(sent)
        columns = typed_columns(by_column, date_format, now) if by_column is not None else \
            typed_records([{**ZEROS, **customer} for customer in sent], date_format, now)
    if columns is not None:
        as_of = scoring_date(served.model, columns[DATE_COLUMN].max().astype(object))
        answer = score_arrays(served.ready, columns, as_of)
        return mark_control(answer, served.ready.rulebook, control, as_of)
    sent = [{**ZEROS, **customer} for customer in sent]
    frame = pd.DataFrame.from_records(sent, columns=[c for c in EXPECTED if any(c in s for s in sent)])
    origin = Origin("request", "request", "request", kind="request")
    raw = typed_customers(frame, origin, "", now, date_format, [], rows=IN_BATCH)
    table = score_with(served.ready, served.run.folder.name, raw, cleaning, control, fast=fast).frame
    return {name: table[name].to_numpy() for name in table.columns}


def sent_columns(customers: list[dict]) -> dict[str, tuple] | None:
    """The customers' values column by column (SENT's order, ZEROS for a column none of them
    has), taken apart in one pass; None when they do not all have the same fields (then
    each is filled in on its own)."""
    keys = tuple(customers[0])
    if len(keys) < 2 or set(map(len, customers)) != {len(keys)}:
        return None
    try:
        found = dict(zip(keys, zip(*map(itemgetter(*keys), customers), strict=True), strict=True))
    except KeyError:
        return None  # the same number of fields, not the same fields
    if not found.keys() <= set(SENT) or not set(SENT) - set(ZEROS) <= found.keys():
        return None  # a field the checks refuse: load names it
    return {name: found[name] if name in found else (ZEROS[name],) * len(customers) for name in SENT}


LAYOUT = ("ID", "other_ids", "persona", "cluster", *EXPORT_METRICS)


def answers_of(table: dict[str, np.ndarray], customers: list[dict]) -> list[dict]:
    """One answer per customer sent, in the order sent (a repeated ID answered each time):
    segment, persona, the flags to act on, the lists holding the customer back as control,
    RFM scores and each saved predictor's value (p_response, ...). Column by column: a row's
    flags and control lists are worked out once per distinct combination, not per customer."""
    flags = [c for c in table if c.startswith("flag_")]
    held = [c for c in table if c.startswith("control_")]
    predicted = [c for c in table if c not in LAYOUT and c not in flags and c not in held]
    ids = table["ID"].tolist()
    marks = zip(*(table[name].tolist() for name in (*flags, *held)), strict=True) if flags or held \
        else [()] * len(ids)
    rows = zip(ids, table["cluster"].tolist(), table["persona"].tolist(),
               *(table[name].tolist() for name in ("r_score", "f_score", "m_score")), marks,
               *(table[name].tolist() for name in predicted), strict=True)
    lists = _flag_lists([name.removeprefix("flag_") for name in flags],
                        [name.removeprefix("control_") for name in held])
    answer_of: dict[int, dict] = {}
    for customer_id, cluster, persona, r, f, m, marked, *values in rows:
        if customer_id in answer_of:
            continue
        on, control = lists(marked)
        answer = {"customer_id": customer_id, "segment": int(cluster), "persona": persona,
                  "flags": [*on], "control": [*control],
                  "rfm": {"r_score": int(r), "f_score": int(f), "m_score": int(m)}}
        answer.update(zip(predicted, values, strict=True))
        answer_of[customer_id] = answer
    return [answer_of[int(customer["ID"])] for customer in customers]


def _flag_lists(flags: list[str], held: list[str]):
    """A row's flag and control marks -> (the flags to act on, the lists holding it back):
    a flag whose control group holds the customer back is not one to act on."""
    known: dict[tuple, tuple[list[str], list[str]]] = {}

    def lists(marked: tuple) -> tuple[list[str], list[str]]:
        found = known.get(marked)
        if found is None:
            control = [name for name, value in zip(held, marked[len(flags):], strict=True) if value]
            on = [name for name, value in zip(flags, marked, strict=False) if value and name not in control]
            found = known[marked] = (on, control)
        return found

    return lists


def _seen_in(run: RunSummary, customer_id: int) -> dict | None:
    """The customer in one run: under their own ID, or under the ID they were merged into."""
    merged = _merged(run.folder)
    counted_as = customer_id if customer_id in _segments(run.folder).index else \
        merged.merged_into.get(customer_id)
    if counted_as is None:
        return None
    seen = customer_history([run], counted_as, _segments)
    if not seen:
        return None  # named in other_ids, yet not in segments.csv: not trusted
    return {"run_id": run.run_id, "as_of": seen[0].as_of, "status": run.record.status,
            "counted_as": counted_as, "other_ids": list(merged.other_ids.get(counted_as, ())),
            "segment": seen[0].segment, "persona": seen[0].persona, "flags": list(seen[0].flags)}


@dataclass(frozen=True)
class MergedIds:
    """One run's customers exported under several IDs: each kept ID's others, and back."""

    other_ids: dict[int, tuple[int, ...]]
    merged_into: dict[int, int]


@lru_cache(maxsize=16)
def _merged(folder: Path) -> MergedIds:
    """customers.csv's other_ids column, read once per run; only whole numbers in range are
    taken (an archived file is input like any other)."""
    path = folder / "customers.csv"
    empty = MergedIds({}, {})
    if not path.is_file():
        return empty
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=["ID", "other_ids"], column_types={"ID": pa.int64(), "other_ids": pa.string()},
            strings_can_be_null=False)).to_pandas()
    except (pa.ArrowInvalid, KeyError, OSError):
        return empty  # no column (an older run) or a damaged file: nobody is found by another ID
    named = table[table["other_ids"].fillna("").str.strip().ne("")]
    pairs = named.assign(other=named["other_ids"].str.split()).explode("other")
    pairs = pairs[pairs["other"].str.fullmatch(r"\d{1,12}")].astype({"other": "int64"})
    pairs = pairs[pairs["other"].between(0, MAX_ID) & pairs["ID"].between(0, MAX_ID)]
    others = pairs.groupby("ID")["other"].agg(lambda ids: tuple(sorted(ids)))
    return MergedIds({int(k): tuple(int(i) for i in v) for k, v in others.items()},
                     dict(zip(pairs["other"].astype(int), pairs["ID"].astype(int), strict=True)))


@lru_cache(maxsize=16)
def _segments(folder: Path) -> pd.DataFrame:
    """A run's segments by customer ID, read once (runs never change once published)."""
    return segments(folder)

