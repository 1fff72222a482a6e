"""`reporter personas preview|replay`: try the persona rules on real customers without
making a brief. Segmenting imports scikit-learn, so the handlers import it when they run."""

from __future__ import annotations

import argparse
import io

from reporter.app.cli.common import checked_config, run_folder
from reporter.archive import write_bytes_atomic
from reporter.brief.rule_edits import rule_edit_lines
from reporter.brief.rule_report import preview_text
from reporter.history.catalogue import read_run
from reporter.personas.exports import write_csv


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
