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

The package: `swap` (the model in use and its hot swap), `requests` (bodies and their checks,
from reporter/data/schema.py), `auth` (tokens and scopes), `middleware` (the access and error
log), one module of routes per tag (`health`, `customers`, `runs`, `personas`), `app` (the
FastAPI app) and `server` (binding and serving).
"""

from reporter.app.api.app import create_app
from reporter.app.api.server import check_bind, serve
from reporter.app.api.swap import Archive, Served

__all__ = ["Archive", "Served", "check_bind", "create_app", "serve"]
