"""The model in use and its hot swap: the newest delivered run's model, kept in memory and
replaced whole, with one assignment, when a newer run is published (requests in flight finish
with the model they started with). A model is validated before it is swapped in."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from fastapi import HTTPException

from reporter.app.params import configured_source_key
from reporter.app.settings import Config
from reporter.history.catalogue import RunSummary, find_baseline, runs_of
from reporter.model.arrays import ArrayModel, prepare
from reporter.model.artefact import SavedModel, read_model

log = logging.getLogger("reporter.api")
RUN_ID = re.compile(r"^\d{6}-[0-9a-f]{4}$")
RECHECK_SECONDS = 5.0  # the archive is looked at again at least this often, whatever its mtime


@dataclass(frozen=True)
class Served:
    """The model in use and the run it comes from: replaced whole, never changed."""

    model: SavedModel
    run: RunSummary
    ready: ArrayModel  # the model made ready for the array path, once per swap


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
        changed = mtime != self._seen[0]
        if changed or time.monotonic() - self._seen[1] > RECHECK_SECONDS:
            # a new run is loaded before this answer; the periodic look (a delivery recorded
            # inside a run folder) is taken off the request, which answers with the model it has
            inline = changed or self.served is None
            if self._lock.acquire(blocking=self.served is None):
                if inline:
                    self._reload_and_release(mtime)
                else:
                    threading.Thread(target=self._reload_and_release, args=(mtime,), daemon=True,
                                     name="archive-recheck").start()
        return self.served

    def _reload_and_release(self, mtime: int) -> None:
        try:
            self._reload(mtime)
        finally:
            self._lock.release()

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
        self.served = Served(loaded.model, baseline, prepare(loaded.model))  # one assignment: the swap
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


def served_by(archive: Archive) -> Served:
    served = archive.current()
    if served is None:
        raise HTTPException(503, f"no model is loaded: {archive.problem}")
    return served

