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
from reporter.app.cli import commands
from reporter.delivery.hints import DEFAULT_CONFIG
from reporter.errors import ReporterError

log = logging.getLogger("reporter")
# The commands in the order `reporter --help` lists them, each declared in commands.py without
# importing its handler's module: `reporter --help`, `reporter run --help` or a usage error do
# not wait for the charts and the models (seconds).
COMMANDS = (commands.add_run, commands.add_assign, commands.add_send, commands.add_push,
            commands.add_serve, commands.add_app, commands.add_release, commands.add_rerender,
            commands.add_preview, commands.add_schedule, commands.add_sample, commands.add_init,
            commands.add_validate, commands.add_archive, commands.add_personas,
            commands.add_config_helpers)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        _set_up_logging(args, server=_chosen(argv) == "serve")
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


def _parser() -> argparse.ArgumentParser:
    """Every command with its arguments; what runs a command is imported when it runs."""
    parser = argparse.ArgumentParser(
        prog="reporter",
        description="SmartCart Briefs: turn the newest customer table into a weekly brief.",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the version and the archive formats it reads and writes, and exit")
    subcommands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(subcommands)
    return parser


class _Version(argparse.Action):
    """`reporter --version`: the package and its archive formats."""

    def __call__(self, parser, namespace, values, option_string=None):
        from reporter.app.about import version_text  # reads the archive formats: the models' modules

        print(version_text())
        parser.exit()
