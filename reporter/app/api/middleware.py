"""One JSON access line per request, an error line (with the traceback) for every 500, and
the body-size limit a declared Content-Length is held to. Customers' data never reaches the
log: a line names the route template, never the path or the body.

A plain ASGI middleware: Starlette's `@app.middleware("http")` runs every request through a
task group and memory streams of its own, which cost more than scoring one customer."""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import datetime

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import URL
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reporter.app.logs import exception_fields

log = logging.getLogger("reporter.api")


def add_access_log(app: FastAPI, max_body_kb: int) -> None:
    app.add_middleware(AccessLog, max_body_kb=max_body_kb)


class AccessLog:
    """Every request gets one access line; a failure also gets one error line (with the
    traceback) and a 500 the client can quote, never a bare "Internal Server Error"."""

    def __init__(self, app: ASGIApp, max_body_kb: int):
        self.app = app
        self.max_body_kb = max_body_kb

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status, started, logged = 500, False, False

        def access_line() -> None:
            nonlocal logged
            logged = True
            if log.isEnabledFor(logging.INFO):
                log.info(json.dumps({"time": _now(), "method": scope["method"], "route": _route(scope),
                                     "status": status, "ms": round((time.perf_counter() - start) * 1000, 2)}))

        async def noted(message: Message) -> None:
            """Passes the answer on; the access line is written before its last part leaves,
            so a client that has its answer finds the line written."""
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            elif message["type"] == "http.response.body" and not message.get("more_body") and not logged:
                access_line()
            await send(message)

        size = _declared_size(scope)
        try:
            if size > self.max_body_kb * 1024:
                refused = JSONResponse({"detail": f"the body is {math.ceil(size / 1024):,} kB; the limit is "
                                                  f"{self.max_body_kb:,} kB (api.max_body_kb)"}, 413)
                await refused(scope, receive, noted)
                return
            try:
                await self.app(scope, receive, noted)
            except Exception as exc:
                log.error(json.dumps(_failure(scope, exc)))
                if started:  # the answer is half sent: nothing better than closing it
                    raise
                await JSONResponse({"detail": f"internal error ({type(exc).__name__}); the server's "
                                              "log has the details"}, 500)(scope, receive, noted)
        finally:
            if not logged:
                access_line()


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _route(scope: Scope) -> str:
    """The route template (never the path: it may hold a customer ID): the API's routes name
    themselves; /openapi.json and the static files are matched here; anything else is
    "unknown" (a 404)."""
    found = getattr(scope.get("route"), "path", None)
    if found:
        return found
    plain = {**scope, "root_path": "", "path": URL(scope=scope).path}
    for route in scope["app"].router.routes:
        if route.matches(plain)[0] is not Match.NONE:
            return f"{route.path}/{{path}}" if getattr(route, "routes", None) is not None else route.path
    return "unknown"


def _declared_size(scope: Scope) -> int:
    declared = next((value for name, value in scope["headers"] if name == b"content-length"), b"")
    try:
        return int(declared or 0)
    except ValueError:
        return 0  # the body is counted as it is read


def _failure(scope: Scope, exc: BaseException) -> dict:
    """The error line of a 500: the route it failed on, the exception's type and traceback."""
    return {"time": _now(), "level": "error", "event": "unhandled exception", "method": scope["method"],
            "route": _route(scope), **exception_fields(exc)}
