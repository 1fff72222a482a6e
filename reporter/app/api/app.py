"""The FastAPI app for one config: the routes of every tag, the access log, the docs served
from the package's own files (they render without internet), and DataError as a 422."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from reporter import __version__
from reporter.app.api.auth import scopes, tokens_of
from reporter.app.api.customers import add_customer_routes
from reporter.app.api.health import add_health_routes
from reporter.app.api.middleware import add_access_log
from reporter.app.api.personas import add_persona_routes
from reporter.app.api.runs import add_run_routes
from reporter.app.api.swap import Archive
from reporter.app.params import clean_params, control_params
from reporter.app.settings import Config
from reporter.errors import DataError

STATIC = Path(__file__).resolve().parent.parent / "static"  # shipped in the package: /docs needs no internet
SWAGGER = "/static/swagger-ui"  # swagger-ui-dist, vendored (static/swagger-ui/README.md)


def create_app(config: Config) -> FastAPI:
    """The app for one config; tokens are read from their environment variables now."""
    settings = config.settings.api
    scope = scopes(tokens_of(config))
    archive = Archive(config)
    app = FastAPI(title="SmartCart Briefs", version=__version__, docs_url=None, redoc_url=None,
                  description="Who a customer is, right now: the persona, flags and RFM scores the "
                              "weekly brief gives, from the source's newest delivered run.")
    app.state.archive = archive
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_access_log(app, settings.max_body_kb)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        """Swagger UI from the package's own files: it renders on a machine without internet."""
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(openapi_url=root + app.openapi_url, title=f"{app.title} API",
                                   swagger_js_url=f"{root}{SWAGGER}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{SWAGGER}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{SWAGGER}/favicon-32x32.png")

    add_health_routes(app, archive)
    add_customer_routes(app, archive, scope, settings.max_batch, settings.max_body_kb,
                        clean_params(config.settings), config.settings.source.date_format,
                        control_params(config.settings))
    add_run_routes(app, archive, scope)
    add_persona_routes(app, archive, scope)

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> JSONResponse:
        return JSONResponse({"detail": [{"problem": p.here()} for p in exc.found]}, 422)

    return app
