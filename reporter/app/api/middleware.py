"""One JSON access line per request, an error line (with the traceback) for every 500, and
the body-size limit a declared Content-Length is held to. Customers' data never reaches the
log: a line names the route template, never the path or the body."""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import Match

from reporter.app.logs import exception_fields

log = logging.getLogger("reporter.api")


def add_access_log(app: FastAPI, max_body_kb: int) -> None:
    @app.middleware("http")
    async def access_log(request: Request, call_next):
        """Every request gets one access line; a failure also gets one error line (with the
        traceback) and a 500 the client can quote, never a bare "Internal Server Error"."""
        start = time.perf_counter()
        size = _declared_size(request)
        if size > max_body_kb * 1024:
            response = JSONResponse({"detail": f"the body is {math.ceil(size / 1024):,} kB; the limit "
                                               f"is {max_body_kb:,} kB (api.max_body_kb)"}, 413)
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

