"""`main`: parse the arguments, run the command, map its errors to exit codes.

The exit codes are reporter.exits.Exit (docs/operations/exit-codes.md): 0 done; 2 bad input or config,
with a one-line cause and no traceback; 3 an email failed or is uncertain; 4 held by a
pre-send check; 5 delivered but a CRM push failed; 1 an unexpected failure (a bug), with the
traceback on stderr. Every email, CRM push and pruned run is one line on stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from reporter.app import logs
from reporter.app.about import version_text
from reporter.app.cli import archive, delivery, personas, runs, servers, setup
from reporter.app.cli.common import DEFAULT_CONFIG
from reporter.errors import ReporterError

log = logging.getLogger("reporter")
# The commands in the order `reporter --help` lists them; each module declares its own.
COMMANDS = (runs.add_run, runs.add_assign, delivery.add_send, delivery.add_push, servers.add_serve,
            servers.add_app, delivery.add_release, archive.add_rerender, delivery.add_preview,
            servers.add_schedule, setup.add_sample, setup.add_init, setup.add_validate,
            archive.add_archive, personas.add_personas, setup.add_config_helpers)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _set_up_logging(args)
        return args.command(args)
    except ReporterError as error:
        _print_problems(error)
        logs.file_only(f"reporter: error: {error.one_line()}")
        return error.exit_code
    except KeyboardInterrupt:
        print("reporter: interrupted; nothing was archived", file=sys.stderr)
        logs.file_only("reporter: interrupted; nothing was archived")
        return 130
    except Exception:
        log.exception("reporter: unexpected failure (a bug; please report it with this trace)")
        return 1


def _set_up_logging(args: argparse.Namespace) -> None:
    """One setup for every command (reporter/app/logs.py): reporter.yaml's `logging:`, then
    the REPORTER_LOG_* variables; `serve` writes JSON lines unless told otherwise."""
    config = getattr(args, "config", None)
    if config is None and hasattr(args, "config") and DEFAULT_CONFIG.is_file():
        config = DEFAULT_CONFIG
    settings = logs.from_environment(logs.configured(config))
    server = args.command is servers.serve_command
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reporter",
        description="SmartCart Briefs: turn the newest customer table into a weekly brief.",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the version and the archive formats it reads and writes, and exit")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    return parser


class _Version(argparse.Action):
    """`reporter --version`: the package and its archive formats."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()
