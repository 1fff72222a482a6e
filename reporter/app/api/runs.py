"""Routes tagged runs: the source's archived runs, one run's record, and its brief and list."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from reporter.app.api.swap import Archive
from reporter.history.catalogue import runs_of
from reporter.plain import to_plain

RUN_FILES = ("brief.html", "brief.pdf", "customers.csv")


def run_routes(archive: Archive, scope) -> APIRouter:
    router = APIRouter(tags=["runs"], dependencies=[scope("read")])

    @router.get("/v1/runs")
    def runs() -> dict:
        return {"source": archive.source, "runs": [
            {"run_id": r.run_id, "started_at": r.started_at, "as_of": r.as_of, "customers": r.customers,
             "status": r.record.status, "delivery": r.delivery}
            for r in runs_of(archive.output_dir, archive.source)]}

    @router.get("/v1/runs/{run_id}")
    def run_record(run_id: str) -> dict:
        """The run record: what was read, with which settings, what came out."""
        return to_plain(archive.run(run_id).record)

    @router.get("/v1/runs/{run_id}/{name}")
    def run_file(run_id: str, name: Literal["brief.html", "brief.pdf", "customers.csv"]) -> FileResponse:
        path = archive.run(run_id).folder / name
        if not path.is_file():
            raise HTTPException(404, f"run {run_id} has no {name}")
        return FileResponse(path, filename=name)

    return router
