"""Jobs: the functions the scheduler's job store names. They never move.

APScheduler stores each job as a text reference ("reporter.jobs:run_brief_job") in its SQLite
file, and a scheduler restarted years later must still find them, whatever the package layout
has become. Each job runs a command in a child process, so a crash or a leak in one run cannot
take the scheduler down.

The child is forked from a warm process: a multiprocessing forkserver, started once by the
scheduler, single-threaded, that has already imported the pipeline. Each week's run then
starts in milliseconds instead of paying Python's start-up and imports again, and is still
a process of its own (its memory returns to the system when it ends). Forking the scheduler
itself would not be safe: it runs threads, and a fork copies their locks mid-use.
"""

from __future__ import annotations

import logging
import multiprocessing
import runpy
import sys
from functools import cache

from reporter.exits import describe

log = logging.getLogger("reporter.schedule")
WARM_MODULES = ["reporter.app.warm"]  # the pipeline, the charts and WeasyPrint


def run_brief_job(config_path: str) -> int:
    """The weekly job: `reporter send --due` (the last run finished for whoever should have it
    and does not), then exactly `reporter run --config PATH`, each in a child process."""
    due = run_command(["send", "--config", config_path, "--due"])
    if due != 0:
        log.warning("finishing the last run before this one exited with code %s",
                    describe(due))
    log.info("starting scheduled run")
    code = run_command(["run", "--config", config_path])
    log.info("scheduled run finished with exit code %s", describe(code))
    return code


def run_team_job(config_path: str, team: str) -> int:
    """A team's send time: `reporter send --team NAME` for the newest brief, in a child process."""
    log.info("sending the latest brief to %s", team)
    code = run_command(["send", "--config", config_path, "--team", team, "--scheduled"])
    if code != 0:
        log.warning("sending to %s exited with code %s", team, describe(code))
    return code


def run_command(args: list[str]) -> int:
    """`reporter ARGS` in a child forked from the warm process; its exit code."""
    child = _warm().Process(target=_main, args=(args,), name="reporter " + " ".join(args[:1]))
    child.start()
    child.join()
    return child.exitcode if child.exitcode is not None else 1


@cache
def _warm():
    """The forkserver context, preloading what every run imports (started on first use)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WARM_MODULES)
    return context


def _main(args: list[str]) -> None:
    """`python -m reporter ARGS`, in this (already warm) child: the command line, as before."""
    sys.argv = ["reporter", *args]
    runpy.run_module("reporter", run_name="__main__", alter_sys=True)

