"""Routes tagged runs: the source's archived runs, one run's record, and its brief and list."""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from reporter.app.api.swap import Archive
from reporter.history.catalogue import runs_of
from reporter.plain import to_plain

RUN_FILES = ("brief.html", "brief.pdf", "customers.csv")


def add_run_routes(app: FastAPI, archive: Archive, scope) -> None:
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

