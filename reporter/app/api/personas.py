"""Routes tagged personas: the rules the served model names customers by, with their sizes."""

from __future__ import annotations

from fastapi import FastAPI

from reporter.app.api.swap import Archive, served_by


def add_persona_routes(app: FastAPI, archive: Archive, scope) -> None:
    @app.get("/v1/personas", tags=["personas"], dependencies=[scope("read")])
    def personas() -> dict:
        """The rules the served model names customers by, and each persona's size in its run."""
        served = served_by(archive)
        sizes = served.run.record.personas
        rules = served.model.rules
        return {"run_id": served.run.run_id, "fallback": rules.get("fallback"), "personas": [
            {**spec, "customers": sizes[spec["name"]].customers if spec["name"] in sizes else None,
             "share": sizes[spec["name"]].share if spec["name"] in sizes else None}
            for spec in rules.get("personas", [])]}

