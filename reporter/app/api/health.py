"""Routes tagged health: alive, ready (a valid model loaded), and what is served."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from reporter import __version__
from reporter.app.api.swap import Archive, served_by
from reporter.model.artefact import FORMAT_VERSION
from reporter.versions import package_versions


def add_health_routes(app: FastAPI, archive: Archive) -> None:
    @app.get("/health/live", tags=["health"])
    async def live() -> dict:
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
        served = served_by(archive)
        model = served.model
        return {"model_format": FORMAT_VERSION, "run_id": served.run.run_id, "as_of": served.run.as_of,
                "fitted_in_run": model.fitted_in_run, "algorithm": model.scorer.algorithm,
                "segments": model.k, "features": list(model.scorer.columns), "source": archive.source,
                "versions": {**package_versions(), "reporter": __version__}}

