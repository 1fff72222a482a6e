"""Where job stores written before the stage packages (reporter 0.1.0) point: keep it.

Their jobs name "reporter.schedule:run_brief_job"; the scheduler rewrites them to
`reporter.jobs` the first time it starts, and this module lets it read them until then.
"""

from reporter.jobs import run_brief_job, run_team_job

__all__ = ["run_brief_job", "run_team_job"]
