"""`reporter serve`: who a customer is, right now, with the answer the weekly brief gives.

A FastAPI app over the archive of one customer source. Scoring uses the engine-neutral model of
the source's newest delivered run (the one the next brief scores with), kept in memory. When a
newer run is published, the next request loads its model and swaps it in with one assignment:
requests in flight finish with the model they started with, and none fails in between.

Bearer tokens come from environment variables, each with scopes (read, assign); without any
token the server may bind loopback only (the command refuses anything else). A client gets
errors it can act on: 422 naming the customer's position in the batch, the field and what was
expected (whole numbers in the ranges reporter/data/schema.py declares for the files); 400 for
a body that is not JSON or nests deeper than MAX_DEPTH; 401 without a known token, 403 without
the scope; 413 past the size limits; 503 while no model is loaded. A model is validated before
it is swapped in; a broken one is refused and /health/ready says which and why.

The log is one JSON object per line on stderr: access lines, an error line with the exception
type and traceback for every 500 (with its access line), and Python warnings. Customers' data
never reaches it: an access line names the route template, never the path or the body, and an
error line carries the traceback's frames, not the exception's message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pyarrow import csv as pacsv
from starlette.routing import Match

from reporter import __version__
from reporter.app.explore import customer_history, segments
from reporter.app.logs import exception_fields
from reporter.app.net import loopback
from reporter.app.params import clean_params, configured_source_key
from reporter.app.settings import Config
from reporter.data.load import Origin, RowNames, typed_customers
from reporter.data.schema import COLUMNS, DATE_COLUMN, MAX_COUNT, MAX_ID, TEXT_COLUMNS, WHOLE_RANGES
from reporter.errors import ConfigError, DataError
from reporter.history.catalogue import RunSummary, find_baseline, runs_of
from reporter.model.artefact import FORMAT_VERSION, SavedModel, read_model
from reporter.model.score_new import score_with
from reporter.plain import to_plain
from reporter.secrets import env_secret
from reporter.versions import package_versions

log = logging.getLogger("reporter.api")
STATIC = Path(__file__).resolve().parent / "static"  # shipped in the package: /docs needs no internet
SWAGGER = "/static/swagger-ui"  # swagger-ui-dist, vendored (static/swagger-ui/README.md)
RUN_ID = re.compile(r"^\d{6}-[0-9a-f]{4}$")
RUN_FILES = ("brief.html", "brief.pdf", "customers.csv")
RECHECK_SECONDS = 5.0  # the archive is looked at again at least this often, whatever its mtime
IN_BATCH = RowNames("customer", 0)  # messages count customers as the JSON array does, from 0
MAX_DEPTH = 32  # a request nests 3 deep ({"customers": [{...}]}); deeper is refused unparsed
RANGES = {**WHOLE_RANGES, "Income": (0, MAX_COUNT)}  # as the file checks read them
EXPECTED = {
    **{c: f"a whole number from {low:,} to {high:,}" for c, (low, high) in WHOLE_RANGES.items()},
    "Income": f"a number from 0 to {MAX_COUNT:,}, or null when unknown",
    **{c: "text" for c in TEXT_COLUMNS},
    DATE_COLUMN: "a date, YYYY-MM-DD",
}


@dataclass(frozen=True)
class Served:
    """The model in use and the run it comes from: replaced whole, never changed."""

    model: SavedModel
    run: RunSummary


@dataclass(frozen=True)
class Rejected:
    """A delivered run whose model failed validation: never served, and said so."""

    run: RunSummary
    reason: str


class Archive:
    """The source's runs and the model of its newest delivered one, reloaded when it changes."""

    def __init__(self, config: Config):
        self.config = config
        self.output_dir = config.output_dir
        self.source = configured_source_key(config)
        self.served: Served | None = None
        self.rejected: Rejected | None = None
        self.problem = "no brief of this source has been delivered yet"
        self._seen: tuple[int, float] = (-1, 0.0)  # archive folder mtime, monotonic time checked
        self._lock = threading.Lock()

    def current(self) -> Served | None:
        """The model to answer with; a newer delivered run is loaded first (by one request,
        while the others go on with the model they have)."""
        try:
            mtime = self.output_dir.stat().st_mtime_ns
        except OSError:
            mtime = -1
        due = mtime != self._seen[0] or time.monotonic() - self._seen[1] > RECHECK_SECONDS
        if due and self._lock.acquire(blocking=self.served is None):
            try:
                self._reload(mtime)
            finally:
                self._lock.release()
        return self.served

    def _reload(self, mtime: int) -> None:
        self._seen = (mtime, time.monotonic())
        baseline = find_baseline(self.output_dir, self.source, datetime.max.date())
        if baseline is None or (self.served and self.served.run.folder == baseline.folder):
            return
        if self.rejected and self.rejected.run.folder == baseline.folder:
            return  # judged already: a published run does not change
        loaded = read_model(baseline.folder)  # validated as it is read
        if loaded.model is None:
            self._reject(baseline, loaded.problem or "the newest delivered run has no model")
            return
        self.served = Served(loaded.model, baseline)  # one assignment: the swap
        self.rejected = None
        log.info(json.dumps({"event": "model loaded", "run_id": baseline.run_id}))

    def _reject(self, run: RunSummary, reason: str) -> None:
        """Keep the model in use (if any) and say why the newer one is not."""
        self.rejected = Rejected(run, reason)
        self.problem = f"the model of run {run.run_id} was refused: {reason}"
        log.warning(json.dumps({"event": "model refused", "run_id": run.run_id, "reason": reason,
                                "kept": self.served.run.run_id if self.served else None}))

    def run(self, run_id: str) -> RunSummary:
        if not RUN_ID.fullmatch(run_id):
            raise HTTPException(422, "run_id looks like 070000-ab12 (HHMMSS-xxxx)")
        for run in runs_of(self.output_dir, self.source):
            if run.run_id == run_id:
                return run
        raise HTTPException(404, f"no run {run_id} of this source")


def create_app(config: Config) -> FastAPI:
    """The app for one config; tokens are read from their environment variables now."""
    settings = config.settings.api
    tokens = _tokens(config)
    archive = Archive(config)
    cleaning = clean_params(config.settings)
    app = FastAPI(title="SmartCart Briefs", version=__version__, docs_url=None, redoc_url=None,
                  description="Who a customer is, right now: the persona, flags and RFM scores the "
                              "weekly brief gives, from the source's newest delivered run.")
    app.state.archive = archive
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    scoring = asyncio.Lock()

    def scope(name: str):
        def check(request: Request) -> None:
            if tokens is None:
                return  # no token configured: loopback only, checked when the server starts
            header = request.headers.get("authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or token not in tokens:
                raise HTTPException(401, "send Authorization: Bearer <token>, a token this server "
                                         "knows", headers={"WWW-Authenticate": "Bearer"})
            if name not in tokens[token]:
                raise HTTPException(403, f"this token may not {name}; its scopes are "
                                         f"{', '.join(sorted(tokens[token]))}")
        return Depends(check)

    @app.middleware("http")
    async def access_log(request: Request, call_next):
        """Every request gets one access line; a failure also gets one error line (with the
        traceback) and a 500 the client can quote, never a bare "Internal Server Error"."""
        start = time.perf_counter()
        size = _declared_size(request)
        if size > settings.max_body_kb * 1024:
            response = JSONResponse({"detail": f"the body is {math.ceil(size / 1024):,} kB; the limit "
                                               f"is {settings.max_body_kb:,} kB (api.max_body_kb)"}, 413)
        else:
            try:
                response = await call_next(request)
            except Exception as exc:
                log.error(json.dumps(_failure(request, exc)))
                response = JSONResponse({"detail": f"internal error ({type(exc).__name__}); the "
                                                   "server's log has the details"}, 500)
        log.info(json.dumps({"time": _now(), "method": request.method, "route": _route(request),
                             "status": response.status_code,
                             "ms": round((time.perf_counter() - start) * 1000, 2)}))
        return response

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        """Swagger UI from the package's own files: it renders on a machine without internet."""
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(openapi_url=root + app.openapi_url, title=f"{app.title} API",
                                   swagger_js_url=f"{root}{SWAGGER}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{SWAGGER}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{SWAGGER}/favicon-32x32.png")

    @app.get("/health/live", tags=["health"])
    def live() -> dict:
        return {"status": "live"}

    @app.get("/health/ready", tags=["health"])
    def ready() -> JSONResponse:
        """Ready while a valid model is loaded; a newer run whose model was refused is named."""
        served = archive.current()
        refused = archive.rejected
        rejected = {"rejected": {"run_id": refused.run.run_id, "reason": refused.reason}} if refused else {}
        if served is None:
            return JSONResponse({"status": "not ready", "detail": archive.problem, **rejected}, 503)
        return JSONResponse({"status": "ready", "run_id": served.run.run_id, **rejected})

    @app.get("/metadata", tags=["health"])
    def metadata() -> dict:
        served = _served(archive)
        model = served.model
        return {"model_format": FORMAT_VERSION, "run_id": served.run.run_id, "as_of": served.run.as_of,
                "fitted_in_run": model.fitted_in_run, "algorithm": model.scorer.algorithm,
                "segments": model.k, "features": list(model.scorer.columns), "source": archive.source,
                "versions": {**package_versions(), "reporter": __version__}}

    @app.post("/v1/assign", tags=["customers"], dependencies=[scope("assign")],
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": _assign_schema(settings.max_batch)}}}})
    async def assign(request: Request) -> dict:
        """One customer (an object with the export's columns) or a batch ({"customers": [...]}):
        each gets segment, persona, flags and RFM scores from the newest delivered run's model."""
        document, single = _customers_of(await _body(request, settings.max_body_kb), settings.max_batch)
        served = _served(archive)
        # CPU work in a worker thread, so health checks and reads are answered meanwhile; one at
        # a time, as threads scoring side by side only contend for the interpreter (measured)
        async with scoring:
            answers = await run_in_threadpool(_score, served, document, cleaning,
                                              config.settings.source.date_format)
        about = {"run_id": served.run.run_id, "as_of": served.run.as_of,
                 "model_fitted_in_run": served.model.fitted_in_run}
        return {**about, **answers[0]} if single else {**about, "customers": answers}

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

    @app.get("/v1/runs", tags=["runs"], dependencies=[scope("read")])
    def runs() -> dict:
        return {"source": archive.source, "runs": [
            {"run_id": r.run_id, "started_at": r.started_at, "as_of": r.as_of, "customers": r.customers,
             "status": r.record.status, "delivery": r.delivery}
            for r in runs_of(archive.output_dir, archive.source)]}

    @app.get("/v1/runs/{run_id}", tags=["runs"], dependencies=[scope("read")])
    def run_record(run_id: str) -> dict:
        """The run record: what was read, with which settings, what came out."""
        return to_plain(archive.run(run_id).record)

    @app.get("/v1/runs/{run_id}/{name}", tags=["runs"], dependencies=[scope("read")])
    def run_file(run_id: str, name: Literal["brief.html", "brief.pdf", "customers.csv"]) -> FileResponse:
        path = archive.run(run_id).folder / name
        if not path.is_file():
            raise HTTPException(404, f"run {run_id} has no {name}")
        return FileResponse(path, filename=name)

    @app.get("/v1/personas", tags=["personas"], dependencies=[scope("read")])
    def personas() -> dict:
        """The rules the served model names customers by, and each persona's size in its run."""
        served = _served(archive)
        sizes = served.run.record.personas
        rules = served.model.rules
        return {"run_id": served.run.run_id, "fallback": rules.get("fallback"), "personas": [
            {**spec, "customers": sizes[spec["name"]].customers if spec["name"] in sizes else None,
             "share": sizes[spec["name"]].share if spec["name"] in sizes else None}
            for spec in rules.get("personas", [])]}

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> JSONResponse:
        return JSONResponse({"detail": [{"problem": p.here()} for p in exc.found]}, 422)

    return app


def _tokens(config: Config) -> dict[str, frozenset[str]] | None:
    """token -> scopes, or None when no token is configured."""
    tokens = config.settings.api.tokens
    if not tokens:
        return None
    found: dict[str, frozenset[str]] = {}
    for index, token in enumerate(tokens):
        value = env_secret(token.env, f"api.tokens[{index}].env")
        if len(value) < 16:
            raise ConfigError(f"api.tokens[{index}]: the token in {token.env} is shorter than 16 "
                              "characters; use a long random one (e.g. `openssl rand -hex 32`)")
        found[value] = found.get(value, frozenset()) | frozenset(token.scopes)
    return found


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _route(request: Request) -> str:
    """The route template (never the path: it may hold a customer ID): the API's routes name
    themselves; /openapi.json and the static files are matched here; anything else is
    "unknown" (a 404)."""
    found = getattr(request.scope.get("route"), "path", None)
    if found:
        return found
    scope = {**request.scope, "root_path": "", "path": request.url.path}
    for route in request.app.router.routes:
        if route.matches(scope)[0] is not Match.NONE:
            return f"{route.path}/{{path}}" if getattr(route, "routes", None) is not None else route.path
    return "unknown"


def _declared_size(request: Request) -> int:
    try:
        return int(request.headers.get("content-length") or 0)
    except ValueError:
        return 0  # the body is counted as it is read


def _failure(request: Request, exc: BaseException) -> dict:
    """The error line of a 500: the route it failed on, the exception's type and traceback."""
    return {"time": _now(), "level": "error", "event": "unhandled exception", "method": request.method,
            "route": _route(request), **exception_fields(exc)}


def _served(archive: Archive) -> Served:
    served = archive.current()
    if served is None:
        raise HTTPException(503, f"no model is loaded: {archive.problem}")
    return served


async def _body(request: Request, limit_kb: int) -> Any:
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


def _customers_of(document: Any, max_batch: int) -> tuple[list[dict], bool]:
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


def _score(served: Served, customers: list[dict], cleaning, date_format: str | None) -> list[dict]:
    """Scored as `reporter assign` scores: load's checks and types, then the run's model."""
    sent = [c for c in EXPECTED if any(c in customer for customer in customers)]
    frame = pd.DataFrame.from_records(customers, columns=sent)  # numbers typed: checked above
    origin = Origin("request", "request", "request", kind="request")
    raw = typed_customers(frame, origin, "", datetime.now(), date_format, [], rows=IN_BATCH)
    scored = score_with(served.model, served.run.folder.name, raw, cleaning).frame
    flags = [c for c in scored.columns if c.startswith("flag_")]
    by_id = scored.drop_duplicates("ID").set_index("ID")
    answers = []
    for customer in customers:
        row = by_id.loc[int(customer["ID"])]
        answers.append({"customer_id": int(customer["ID"]), "segment": int(row["cluster"]),
                        "persona": row["persona"],
                        "flags": [c.removeprefix("flag_") for c in flags if row[c]],
                        "rfm": {name: int(row[name]) for name in ("r_score", "f_score", "m_score")}})
    return answers


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


def _assign_schema(max_batch: int) -> dict:
    customer = {"type": "object", "required": [c for c in COLUMNS if c != "Income"],
                "properties": {c: {"type": "string", "format": "date"} if c == DATE_COLUMN else
                               {"type": "string"} if c in TEXT_COLUMNS else
                               {"type": ["number", "null"], "minimum": 0} if c == "Income" else
                               {"type": "integer", "minimum": 0} for c in EXPECTED},
                "additionalProperties": False}
    return {"oneOf": [customer, {"type": "object", "required": ["customers"], "properties": {
        "customers": {"type": "array", "items": customer, "minItems": 1, "maxItems": max_batch}}}]}


def check_bind(config: Config, host: str) -> None:
    """Without tokens the API answers anyone who can reach it: loopback only."""
    if not config.settings.api.tokens and not loopback(host):
        raise ConfigError(f"{config.path}: reporter serve binds {host} only with api.tokens set (bearer "
                          "tokens from environment variables); without them it binds 127.0.0.1")



def serve(config: Config, host: str | None = None, port: int | None = None) -> int:
    """Bind, say so in the log (the line a supervisor or a test waits for), then serve until
    SIGTERM or Ctrl-C, letting requests in flight finish."""
    import signal
    import socket
    import sys

    import uvicorn

    settings = config.settings.api
    host = host or settings.host
    port = settings.port if port is None else port
    check_bind(config, host)
    app = create_app(config)  # tokens are read here: a variable that is not set stops the start
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); another program "
                          "may use the port: pass --port or set api.port") from None
    listener.listen(2048)  # the CLI set up logging: JSON lines on stderr unless told otherwise
    log.info(json.dumps({"event": "listening", "host": host, "port": listener.getsockname()[1],
                         "source": app.state.archive.source}))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, server_header=False,
                                           timeout_graceful_shutdown=30))
    # uvicorn stops gracefully, then raises the signal again once its own handler is gone:
    # this one makes that a clean exit (0), as a supervisor expects of a requested stop
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.run(sockets=[listener])
    return 0
