"""Progress a person can follow: on a terminal each stage shows when it starts and how long it
took, with a bar while a stage loops (over k values, refits or export chunks); with output
redirected (the scheduler, a log file) only stages that took a while get one plain line each.

Code deep in a stage reports its loop with `advance(done, total)`; it does nothing unless a
run is showing progress, so library code and tests need no extra arguments.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TextIO

BAR_WIDTH = 24
SLOW_STAGE_SECONDS = 2.0  # without a terminal, quicker stages are not worth a log line


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
        elif self.verbose:
            self.stream.write(f"stage {stage} started\n")
            self.stream.flush()

    def advanced(self, done: int, total: int) -> None:
        if self.interactive and total > 0:
            filled = round(BAR_WIDTH * done / total)
            self.stream.write(f"\r  {self.stage:<12} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                              f"{done}/{total}")
            self.stream.flush()

    def finished(self, stage: str, seconds: float) -> None:
        if self.interactive:
            self.stream.write(f"\r  {stage:<12} {seconds:6.1f} s{' ' * (BAR_WIDTH + 4)}\n")
        elif self.verbose or seconds >= SLOW_STAGE_SECONDS:
            self.stream.write(f"stage {stage} took {seconds:.1f} s\n")
        self.stream.flush()


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
