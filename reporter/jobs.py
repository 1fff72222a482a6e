"""Jobs: the functions the scheduler's job store names. They never move.

APScheduler stores each job as a text reference ("reporter.jobs:run_brief_job") in its SQLite
file, and a scheduler restarted years later must still find them, whatever the package layout
has become. Each job runs a command in a child process, so a crash or a leak in one run cannot
take the scheduler down.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import datetime

log = logging.getLogger("reporter.schedule")


def run_brief_job(config_path: str) -> int:
    """The weekly job: exactly `reporter run --config PATH`, in a child process."""
    log.info("%s starting scheduled run", _stamp())
    finished = subprocess.run([sys.executable, "-m", "reporter", "run", "--config", config_path],
                              check=False)
    log.info("%s scheduled run finished with exit code %s", _stamp(), finished.returncode)
    return finished.returncode


def run_team_job(config_path: str, team: str) -> int:
    """A team's send time: `reporter send --team NAME` for the newest brief, in a child process."""
    log.info("%s sending the latest brief to %s", _stamp(), team)
    finished = subprocess.run([sys.executable, "-m", "reporter", "send", "--config", config_path,
                               "--team", team, "--scheduled"], check=False)
    return finished.returncode


def _stamp() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
