"""`reporter rerender` and `reporter archive list|show|prune`: the archived runs. Rendering
and the index import WeasyPrint and matplotlib, so their handlers import them when they run."""

from __future__ import annotations

import argparse
from pathlib import Path

from reporter.app.cli.common import add_config, checked_config, group, positive, run_folder
from reporter.delivery.ledger import LEDGER_FILE, Ledger
from reporter.history.catalogue import all_runs, delivery_words, read_run, summary_lines
from reporter.history.retention import carry_out, plan_prune


def add_rerender(commands) -> None:
    rerender = commands.add_parser(
        "rerender", help="draw an archived brief again with the current templates",
        description="Rebuild a run's HTML and PDF from its brief.json with the current templates "
                    "(after a template change), into a folder beside the archive. The archived "
                    "brief, the one that was sent, is left as it is.")
    add_config(rerender)
    rerender.add_argument("run_id", metavar="RUN_ID", help="run id as printed, or latest")
    rerender.add_argument("--out", type=Path, help="folder (default: <output>/rerender/<run folder>)")
    rerender.set_defaults(command=rerender_command)


def rerender_command(args: argparse.Namespace) -> int:
    from reporter.app.archived import rerender  # WeasyPrint and matplotlib

    config = checked_config(args)
    folder = run_folder(config, args.run_id)
    done = rerender(folder, args.out or config.output_dir / "rerender" / folder.name)
    print(f"HTML: {done.html}" + (" (identical to the archived brief)" if done.unchanged
                                  else " (differs from the archived brief)"))
    print(f"PDF:  {done.pdf}")
    return 0


def add_archive(commands) -> None:
    archive_commands = group(commands, "archive", "browse and prune the archive of briefs")
    listing = archive_commands.add_parser("list", help="every run, newest first")
    add_config(listing)
    listing.add_argument("--source", help="only the runs of this source (as listed)")
    listing.set_defaults(command=list_command)
    show = archive_commands.add_parser("show", help="one run's summary")
    add_config(show)
    show.add_argument("run_id", metavar="RUN_ID", help="run id as printed, or latest")
    show.set_defaults(command=show_command)
    prune = archive_commands.add_parser(
        "prune", help="delete the oldest runs beyond the newest N, then rebuild the index")
    add_config(prune)
    prune.add_argument("--keep", type=positive, required=True, metavar="N")
    prune.add_argument("--dry-run", action="store_true",
                       help="print what would be deleted and delete nothing")
    prune.set_defaults(command=prune_command)


def list_command(args: argparse.Namespace) -> int:
    runs = [r for r in all_runs(checked_config(args).output_dir) if args.source in (None, r.source)]
    if not runs:
        print("No runs in the archive yet." if args.source is None else f"No runs of source {args.source}.")
    for run in runs:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in run.persona_shares.items())
        print(f"{run.run_id}  {run.started_at[:16]}  {run.source}: {run.data_file} (as of {run.as_of})  "
              f"{run.customers:,} customers  {shares}  [{delivery_words(run, runs)}]")
    return 0


def show_command(args: argparse.Namespace) -> int:
    config = checked_config(args)
    run = read_run(run_folder(config, args.run_id))
    has_ledger = (config.output_dir / LEDGER_FILE).is_file()
    rows = Ledger(config.output_dir).rows(run.run_id) if has_ledger else []
    print("\n".join(summary_lines(run, rows)))
    return 0


def prune_command(args: argparse.Namespace) -> int:
    from reporter.brief.index import rebuild_index  # matplotlib, through the brief's view

    config = checked_config(args)
    plan = plan_prune(all_runs(config.output_dir), args.keep,
                      config.settings.history.prune_undelivered, f"--keep {args.keep}")
    if not args.dry_run:
        plan = carry_out(plan)
        rebuild_index(config.output_dir)
    for line in plan.lines("Would prune" if args.dry_run else "Pruned"):
        print(line)
    done = "Dry run, nothing deleted: would remove" if args.dry_run else "Removed"
    print(f"{done} {len(plan.pruned)} run(s); kept the newest {args.keep}"
          + (f" and {len(plan.kept)} older one(s)" if plan.kept else "") + ".")
    return 0
