"""User-facing errors.

Anything a user can fix (a bad data file, a bad config) is raised as a
`ReporterError` whose message names the file, the line or column, and what to do.
The CLI prints it on one line and exits 2; every other exception is a bug (exit 1).
"""

from __future__ import annotations


class ReporterError(Exception):
    """A problem the user can act on; the message is shown as is, on one line."""

    exit_code = 2

    def one_line(self) -> str:
        return " ".join(str(self).split())


class DataError(ReporterError):
    """The customer table cannot be used as it is."""


class ConfigError(ReporterError):
    """reporter.yaml or personas.yaml is invalid."""


class EnvironmentProblem(ReporterError):
    """A system library or tool the brief needs is missing from this machine."""
