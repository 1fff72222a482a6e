"""`main`: parse the arguments, run the command, map its errors to exit codes.

The exit codes are reporter.exits.Exit (docs/operations/exit-codes.md): 0 done; 2 bad input or config,
with a one-line cause and no traceback; 3 an email failed or is uncertain; 4 held by a
pre-send check; 5 delivered but a CRM push failed; 1 an unexpected failure (a bug), with the
traceback on stderr; 141, quietly, when the reader of stdout left (`| head -1`). Every email,
CRM push and pruned run is one line on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import select
import sys
from collections.abc import Sequence

from reporter.app import logs
from reporter.delivery.hints import DEFAULT_CONFIG
from reporter.errors import ReporterError
from reporter.exits import INTERRUPTED, PIPE_CLOSED

log = logging.getLogger("reporter")
# The commands in the order `reporter --help` lists them: name -> (module of reporter.app.cli
# that declares its arguments beside its handler, the function that adds them, the one-line
# summary `reporter --help` shows). Only the chosen command's module is imported, so `reporter
# --help` or `reporter send` do not wait for the charts and the models (seconds); a test keeps
# each summary equal to the one its module declares.
COMMANDS = {
    "run": ("runs", "add_run", "make one brief now and archive it"),
    "assign": ("runs", "add_assign",
               "give new customers a segment, persona and flags with an archived model"),
    "send": ("delivery", "add_send", "send an archived brief to the recipients who have not had it"),
    "push": ("delivery", "add_push", "push an archived run's personas and flags to the CRM targets again"),
    "serve": ("servers", "add_serve", "answer who a customer is over HTTP, with the brief's model"),
    "app": ("servers", "add_app", "explore personas, look customers up and try rule changes in a browser"),
    "release": ("delivery", "add_release", "send a brief held by a pre-send check"),
    "rerender": ("archive", "add_rerender", "draw an archived brief again with the current templates"),
    "preview": ("delivery", "add_preview", "write each team's email as it would be sent (HTML and .eml)"),
    "schedule": ("servers", "add_schedule",
                 "run briefs on the cron schedule from reporter.yaml (foreground)"),
    "sample": ("setup", "add_sample", "write a synthetic customer table"),
    "init": ("setup", "add_init", "write a commented starter reporter.yaml and personas.yaml"),
    "validate": ("setup", "add_validate", "check the config and persona files"),
    "archive": ("archive", "add_archive", "browse and prune the archive of briefs"),
    "personas": ("personas", "add_personas", "work with the persona rules"),
    "config": ("setup", "add_config_helpers", "configuration helpers"),
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # another pipe (a socket of a mail server, say): the bug handler's, below
        return _pipe_closed()


def _main(argv: list[str]) -> int:
    chosen = _chosen(argv)
    args = _parser(chosen).parse_args(argv)  # --version prints here
    try:
        _set_up_logging(args, server=chosen == "serve")
        return args.command(args)
    except BrokenPipeError:
        if _stdout_closed():
            raise
        log.exception("reporter: unexpected failure (a bug; please report it with this trace)")
        return 1
    except ReporterError as error:
        _print_problems(error)
        logs.file_only(f"reporter: error: {error.one_line()}")
        return error.exit_code
    except KeyboardInterrupt:
        print("reporter: interrupted; nothing was archived", file=sys.stderr)
        logs.file_only("reporter: interrupted; nothing was archived")
        return INTERRUPTED
    except Exception:
        log.exception("reporter: unexpected failure (a bug; please report it with this trace)")
        return 1


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (`reporter archive show latest | head -1`):
    such a pipe polls as an error. Not stdout (a test's capture, a file): False."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _pipe_closed() -> int:
    """Stop quietly, as git and the coreutils do when `| head` has read enough: they are
    killed by SIGPIPE, which a shell reports as 141 (128 + 13), so a script with `set -o
    pipefail` sees the same code for reporter as for them, and never 1 (a bug). Not killed by
    the signal itself: `serve` and the mail code need a closed socket as an error, not death.
    stdout is pointed at /dev/null so Python's flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    logs.file_only(f"reporter: stopped: the reader of its output closed the pipe (exit {PIPE_CLOSED})",
                   logging.INFO)
    return PIPE_CLOSED


def _chosen(argv: list[str]) -> str:
    """The command named on the command line ("" for none, as in `reporter --help`)."""
    return next((word for word in argv if not word.startswith("-")), "")


def _set_up_logging(args: argparse.Namespace, server: bool) -> None:
    """One setup for every command (reporter/app/logs.py): reporter.yaml's `logging:`, then
    the REPORTER_LOG_* variables; `serve` writes JSON lines unless told otherwise."""
    config = getattr(args, "config", None)
    if config is None and hasattr(args, "config") and DEFAULT_CONFIG.is_file():
        config = DEFAULT_CONFIG
    settings = logs.from_environment(logs.configured(config))
    logs.setup(settings, command_default="json" if server else "text", one_stream=server)


def _print_problems(error: ReporterError) -> None:
    """One problem: one line. Several (a config with many mistakes): one per line, so each
    names its own file and line and none hides in a 400-character sentence."""
    if len(error.found) == 1:
        print(f"reporter: error: {error.one_line()}", file=sys.stderr)
        return
    print(f"reporter: {len(error.found)} problems found:", file=sys.stderr)
    for problem in error.found:
        print(f"  {' '.join(str(problem).split())}", file=sys.stderr)


def _parser(chosen: str = "") -> argparse.ArgumentParser:
    """Every command's name and summary; the chosen command's arguments in full (all of
    them when `chosen` is "all", as the documentation test reads them)."""
    parser = argparse.ArgumentParser(
        prog="reporter",
        description="SmartCart Briefs: turn the newest customer table into a weekly brief.",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the version and the archive formats it reads and writes, and exit")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for name, (module, adder, summary) in COMMANDS.items():
        if chosen in (name, "all"):
            getattr(importlib.import_module(f"reporter.app.cli.{module}"), adder)(commands)
        else:
            commands.add_parser(name, help=summary)
    return parser


class _Version(argparse.Action):
    """`reporter --version`: the package and its archive formats."""

    def __call__(self, parser, namespace, values, option_string=None):
        from reporter.app.about import version_text  # reads the archive formats: the models' modules

        print(version_text())
        parser.exit()
