"""User-facing errors.

Anything a user can fix (a bad data file, a bad config) is raised as a `ReporterError` whose
message names the file, the line or column, and what to do. The CLI prints it on one line and
exits 2; every other exception is a bug (exit 1). Validation collects every problem first, so
`problems` lists them one by one for `reporter validate`, and the message joins them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

MAX_PROBLEMS_IN_MESSAGE = 5
HINT = "fix and check with `reporter validate`"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in something a user gave: where (file, line, place), what (text) and
    what to do (fix). Collected, then formatted by the CLI, the API and the app; never parsed
    back out of a message."""

    text: str
    file: str = ""
    line: int = 0  # 1-based; 0: the file as a whole
    place: str = ""  # the key or column: 'schedule', 'persona "Premium", rules'
    fix: str = ""

    def here(self) -> str:
        """The problem within its file: 'line N, place: what is wrong; what to do'."""
        line = f"line {self.line}, " if self.line else ""
        place = f"{self.place}: " if self.place else ""
        return f"{line}{place}{self.text}" + (f"; {self.fix}" if self.fix else "")

    def __str__(self) -> str:
        return f"{self.file}: {self.here()}" if self.file else self.here()


def _problem(problem: Problem | str) -> Problem:
    return problem if isinstance(problem, Problem) else Problem(problem)


class Problems(list):
    """The one collector: every problem of one or more files, reported together in the order
    of each file's lines, whichever check found them."""

    def in_file(self, path: Path | str, found: Iterable[Problem]) -> None:
        self.extend(replace(p, file=str(path)) for p in sorted(found, key=lambda p: p.line))

    def raise_if_any(self, hint: str = HINT) -> None:
        if self:
            self.sort(key=_file_and_line)
            raise ConfigError(f"{first_few([str(p) for p in self])}; {hint}", list(self))


def _file_and_line(problem: Problem) -> tuple:
    """A file's located problems in line order, then those of the file as a whole."""
    return (problem.file, 0, problem.line, "") if problem.line else (problem.file, 1, 0, problem.here())


class ReporterError(Exception):
    """A problem the user can act on; the message is shown as is, on one line."""

    exit_code = 2

    def __init__(self, message: str, problems: Sequence[Problem | str] = ()):
        super().__init__(message)
        self.found = tuple(p if isinstance(p, Problem) else Problem(p) for p in problems) \
            or (Problem(message),)

    @property
    def problems(self) -> tuple[str, ...]:
        """Each problem as a user reads it: 'file: line N, place: what is wrong; what to do'."""
        return tuple(str(problem) for problem in self.found)

    def one_line(self) -> str:
        return " ".join(str(self).split())

    @classmethod
    def collected(cls, path: Path, problems: Sequence[Problem | str], hint: str) -> ReporterError:
        """One error for many problems in one file: all listed, the message capped."""
        located = [replace(_problem(p), file=str(path)) for p in problems]
        return cls(f"{path}: {first_few([p.here() for p in located])}; {hint}", located)


def first_few(problems: Sequence[str]) -> str:
    """The first problems of a list, for a one-line message: '...; (+3 more)'."""
    shown = "; ".join(problems[:MAX_PROBLEMS_IN_MESSAGE])
    more = len(problems) - MAX_PROBLEMS_IN_MESSAGE
    return f"{shown}; (+{more} more)" if more > 0 else shown


class DataError(ReporterError):
    """The customer table cannot be used as it is."""


class ConfigError(ReporterError):
    """reporter.yaml or personas.yaml is invalid."""


class ArchiveError(ReporterError):
    """The run folder could not be written (disk full, permissions); nothing was published."""


class EnvironmentProblem(ReporterError):
    """A system library or tool the brief needs is missing from this machine."""


class DataUnchanged(ReporterError):
    """`checks.unchanged_data: skip`: the data is the baseline's, so the run stopped before
    anything was archived. Not a failure: its own exit code, for a wrapper to tell apart."""

    exit_code = 6  # Exit.SKIPPED in reporter/exits.py: 3 to 5 are delivery outcomes
