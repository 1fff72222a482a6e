"""Progress a person can follow: on a terminal each stage shows a bar while it loops (over k
values, refits or export chunks); every finished stage is a log line ("stage pdf took 3.1 s"),
stamped like every other line by the one logging setup (reporter/app/logs.py). The line is
INFO on a terminal, with `reporter run -v`, or for a stage of 2 s or more; DEBUG otherwise
(`logging.level: debug` shows every stage).

Code deep in a stage reports its loop with `advance(done, total)`; it does nothing unless a
run is showing progress, so library code and tests need no extra arguments.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TextIO

BAR_WIDTH = 24
SLOW_STAGE_SECONDS = 2.0  # without a terminal or -v, quicker stages are logged at DEBUG only
log = logging.getLogger("reporter.progress")


@dataclass
class Progress:
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    interactive: bool = False
    verbose: bool = False  # a plain line as every stage starts and ends (`reporter run -v`)
    stage: str = ""

    @classmethod
    def for_stdout(cls, verbose: bool = False) -> Progress:
        return cls(sys.stdout, interactive=sys.stdout.isatty() and not verbose, verbose=verbose)

    def started(self, stage: str) -> None:
        self.stage = stage
        if self.interactive:
            self.stream.write(f"\r  {stage:<12} ...")
            self.stream.flush()
        log.log(logging.INFO if self.verbose else logging.DEBUG, "stage %s started", stage)

    def advanced(self, done: int, total: int) -> None:
        if self.interactive and total > 0:
            filled = round(BAR_WIDTH * done / total)
            self.stream.write(f"\r  {self.stage:<12} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                              f"{done}/{total}")
            self.stream.flush()

    def finished(self, stage: str, seconds: float) -> None:
        if self.interactive:  # the bar makes way for the stamped line
            self.stream.write(f"\r{' ' * (BAR_WIDTH + 30)}\r")
            self.stream.flush()
        shown = self.interactive or self.verbose or seconds >= SLOW_STAGE_SECONDS
        log.log(logging.INFO if shown else logging.DEBUG, "stage %s took %.1f s", stage, seconds)


_current: ContextVar[Progress | None] = ContextVar("progress", default=None)


@contextmanager
def showing(progress: Progress | None) -> Iterator[None]:
    """Make `progress` the one `advance` and the stage timer report to, for this run."""
    token = _current.set(progress)
    try:
        yield
    finally:
        _current.reset(token)


def advance(done: int, total: int) -> None:
    progress = _current.get()
    if progress is not None:
        progress.advanced(done, total)


@contextmanager
def stage(name: str, seconds: dict[str, float]) -> Iterator[None]:
    """Time one stage into `seconds` and show it."""
    progress = _current.get()
    if progress is not None:
        progress.started(name)
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        seconds[name] = round(seconds.get(name, 0.0) + elapsed, 4)
        if progress is not None:
            progress.finished(name, elapsed)
