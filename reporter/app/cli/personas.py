"""`reporter personas preview|replay`: try the persona rules on real customers without
making a brief. Segmenting imports scikit-learn, so the handlers import it when they run."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from reporter.app.cli.common import add_config, checked_config, group, run_folder
from reporter.archive import write_bytes_atomic
from reporter.brief.rule_edits import rule_edit_lines
from reporter.brief.rule_report import preview_text
from reporter.history.catalogue import read_run
from reporter.personas.exports import write_csv


def add_personas(commands) -> None:
    personas_commands = group(commands, "personas", "work with the persona rules")
    preview = personas_commands.add_parser(
        "preview", help="show which segments each persona matches, and why, without archiving",
        description="Segment the latest data and show, per segment, every persona rule with "
                    "its threshold beside the segment's value. Writes nothing.")
    add_config(preview)
    preview.add_argument("--data", type=Path, help="use this customer file instead of source.path")
    preview.set_defaults(command=preview_command)
    replay = personas_commands.add_parser(
        "replay", help="apply a rules file to an archived run's customers and show who would move",
        description="Apply a personas file to the customers of an archived run (their segments "
                    "from its model, no refit, no brief) and print who would be named differently; "
                    "every customer is written to a CSV with persona and flags before and after.")
    add_config(replay)
    replay.add_argument("--rules", type=Path, help="the personas file to try (default: the one in use)")
    replay.add_argument("--run", default="latest", metavar="RUN_ID", help="default: the newest run")
    replay.add_argument("--out", type=Path, help="CSV to write (default: <output>/replay/<run>.csv)")
    replay.add_argument("--data", type=Path, help="the file the run read, for a run made with --data "
                        "(default: the configured source; checked against the run's sha256)")
    replay.set_defaults(command=replay_command)


def preview_command(args: argparse.Namespace) -> int:
    from reporter.app.pipeline import analyse  # scikit-learn

    config = checked_config(args)
    print(preview_text(analyse(config, data=args.data), config.settings.brief.currency), end="")
    return 0


def replay_command(args: argparse.Namespace) -> int:
    from reporter.app.archived import replay_rules  # matplotlib, through the brief's view

    config = checked_config(args)
    run = read_run(run_folder(config, args.run))
    replay = replay_rules(config, run, args.rules or config.personas_path, args.data)
    out = args.out or config.output_dir / "replay" / f"{run.folder.name}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_csv(replay.customers, buffer, stamp=(("run_id", run.run_id), ("as_of", run.as_of)))
    write_bytes_atomic(out, buffer.getvalue())
    change = replay.change
    print(f"Rules {args.rules or config.personas_path} on run {run.run_id} "
          f"({run.customers:,} customers as of {run.as_of}):")
    print(f"{change.moved:,} customers would be named differently.")
    for line in rule_edit_lines(change):
        print(f"  {line}")
    for before, after, count in change.moves:
        print(f"  {before} -> {after}: {count:,}")
    for name, before, after in change.flags:
        print(f"  flag {name}: {before:,} -> {after:,} customers")
    print(f"Every customer, before and after: {out}")
    return 0
