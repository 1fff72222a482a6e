"""User-facing errors.

Anything a user can fix (a bad data file, a bad config) is raised as a `ReporterError` whose
message names the file, the line or column, and what to do. The CLI prints it on one line and
exits 2; every other exception is a bug (exit 1). Validation collects every problem first, so
`problems` lists them one by one for `reporter validate`, and the message joins them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

MAX_PROBLEMS_IN_MESSAGE = 5


class ReporterError(Exception):
    """A problem the user can act on; the message is shown as is, on one line."""

    exit_code = 2

    def __init__(self, message: str, problems: Sequence[str] = ()):
        super().__init__(message)
        self.problems = tuple(problems) or (message,)

    def one_line(self) -> str:
        return " ".join(str(self).split())

    @classmethod
    def collected(cls, path: Path, problems: Sequence[str], hint: str) -> ReporterError:
        """One error for many problems in one file: all listed, the message capped."""
        located = [f"{path}: {p}" for p in problems]
        return cls(f"{path}: {first_few(problems)}; {hint}", located)


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
