"""What every command shares: the --config option, loading and checking the configuration
(the one way every command does it), naming a run, and printing delivery outcomes."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from reporter.app.outcomes import delivery_lines, exit_code, failure_lines, push_line
from reporter.app.settings import Config, load_config
from reporter.delivery.hints import DEFAULT_CONFIG, console_command
from reporter.errors import ConfigError
from reporter.history.catalogue import resolve_run
from reporter.history.record import read_record
from reporter.personas.rulebook import rulebook_problems

LATEST = Path("<latest>")  # `validate --data` without a file: the file source.path finds


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, metavar="PATH",
                        help=f"reporter.yaml to use (default {DEFAULT_CONFIG})")


def group(commands, name: str, summary: str):
    """A command with subcommands of its own (`reporter archive list`)."""
    parser = commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")
    return parser.add_subparsers(title="commands", required=True, metavar="COMMAND")


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-27") from None


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def config_path(args: argparse.Namespace) -> Path:
    if args.config is not None:
        return args.config
    if not DEFAULT_CONFIG.is_file():
        raise ConfigError(
            f"{DEFAULT_CONFIG}: not found in {Path.cwd()}; run from the project folder or "
            "pass --config PATH"
        )
    return DEFAULT_CONFIG


def checked_config(args: argparse.Namespace) -> Config:
    """Both files and the persona rules checked in one pass, before any data is read: every
    command that reads reporter.yaml reads it this way."""
    return load_config(config_path(args), check_rules=rulebook_problems)


def run_folder(config: Config, run: str) -> Path:
    """A run folder by `latest`, a data date or a run id, for every command that names a run."""
    return resolve_run(config.output_dir, run, console_command(config.path, "run"))


def run_id(folder: Path | None) -> str:
    return read_record(folder).run_id if folder is not None else ""


def report(outcomes, pushes, run: str, config_file: Path | None, held: bool = False,
           resend_with: tuple[str, ...] = ()) -> int:
    """One line per email and per CRM push, the errors with the command that fixes each, and
    the exit code they add up to."""
    for outcome in outcomes:
        print("\n".join(delivery_lines(outcome)))
    for pushed in pushes:
        print(push_line(pushed, run, config_file))
    for line in failure_lines(outcomes, run, config_file, resend_with):
        print(line, file=sys.stderr)
    return exit_code(outcomes, pushes, held)


def report_delivered(delivered, folder: Path | None, config: Config) -> int:
    return report(delivered.outcomes, delivered.pushes, run_id(folder), config.path)
