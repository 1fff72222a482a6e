"""`reporter run` (make a brief now) and `reporter assign` (score new customers).

The pipeline and the archived model pull in scikit-learn, matplotlib and WeasyPrint, so each
handler imports them when it runs: a typo in reporter.yaml is said before those seconds pass."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from reporter.app.cli.common import add_config, checked_config, iso_date, report
from reporter.app.params import delivery_params
from reporter.archive import write_bytes_atomic
from reporter.delivery.hints import console_command
from reporter.errors import DataUnchanged, ReporterError
from reporter.personas.exports import write_csv
from reporter.progress import Progress, showing


def add_run(commands) -> None:
    run = commands.add_parser("run", help="make one brief now and archive it",
                              description="Make one brief from the newest customer file.")
    add_config(run)
    run.add_argument("--data", type=Path, help="use this customer file instead of source.path")
    run.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD",
                     help="reference date for age and tenure (default: newest join date)")
    run.add_argument("--dry-run", action="store_true",
                     help="write each team's email as an .eml file in the run folder; send nothing")
    run.add_argument("--refit", action="store_true",
                     help="fit a new model instead of scoring with the saved one")
    run.add_argument("--allow-unchanged", action="store_true",
                     help="brief data the last delivered run already read (after a rules edit); "
                          "checks.unchanged_data would hold or skip it")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="print a line as each stage starts and ends (for logs)")
    run.set_defaults(command=run_command)


def run_command(args: argparse.Namespace) -> int:
    config = checked_config(args)  # before the pipeline's imports: a typo is said at once
    from reporter.app.pipeline import run  # scikit-learn, matplotlib, WeasyPrint
    from reporter.delivery.dispatch import tell_owners_failed  # WeasyPrint (the emails)

    try:
        with showing(Progress.for_stdout(verbose=args.verbose)):
            result = run(config, data=args.data, as_of=args.as_of, dry_run=args.dry_run,
                         refit=args.refit, allow_unchanged=args.allow_unchanged)
    except DataUnchanged as skipped:  # checks.unchanged_data: skip; not a failure
        print(skipped.one_line())
        return skipped.exit_code
    except ReporterError as error:
        tell_owners_failed(delivery_params(config), error.one_line())
        raise
    except BrokenPipeError:  # stdout closed by `| head`: no bug to tell the owners of (main ends it)
        raise
    except Exception as error:
        tell_owners_failed(delivery_params(config), f"{type(error).__name__}: {error} (a bug; the "
                                                    "traceback is in the scheduler's log)")
        raise
    personas = ", ".join(f"{p.name} {p.share:.0%}" for p in result.brief.personas)
    print(f"Brief {result.run_id}: {result.brief.customers:,} customers, k={result.brief.model.k}, "
          f"personas: {personas}")
    print(f"Model: {result.brief.model.decision}")
    if result.checks.held:
        print("Held, not sent to any team: " + "; ".join(r.problem for r in result.checks.holding)
              + f". Send it with `{console_command(config.path, 'release', result.run_id)}`.")
    print(f"HTML: {result.html}")
    print(f"PDF:  {result.pdf}")
    code = report(result.deliveries, result.pushes, result.run_id, config.path, result.checks.held)
    for line in result.pruned.lines():  # history.retention_runs
        print(line)
    return code


def add_assign(commands) -> None:
    assign = commands.add_parser(
        "assign", help="give new customers a segment, persona and flags with an archived model",
        description="Score customers who were not in the fitted data (sign-ups, a CRM batch) "
                    "with the model saved by an archived run; writes ID, segment, persona, flags.")
    add_config(assign)
    assign.add_argument("--data", type=Path, required=True, help="the customers to score (CSV)")
    assign.add_argument("--run", default="latest", metavar="RUN_ID",
                        help="the archived run whose model to use (default: latest)")
    assign.add_argument("--out", type=Path, help="write the CSV here (default: standard output)")
    assign.set_defaults(command=assign_command)


def assign_command(args: argparse.Namespace) -> int:
    from reporter.app.archived import assign_new  # matplotlib, through the brief's view

    config = checked_config(args)
    scored = assign_new(config, args.data, args.run)
    for note in scored.notes:  # a rule judged without a condition must not pass unsaid
        print(f"note: {note}", file=sys.stderr)
    if args.out is None:
        sys.stdout.flush()
        write_csv(scored.frame, sys.stdout.buffer, stamp=scored.stamp)
    else:
        buffer = io.BytesIO()
        write_csv(scored.frame, buffer, stamp=scored.stamp)
        write_bytes_atomic(args.out, buffer.getvalue())
        print(f"{len(scored.frame):,} customers scored with the model of run {scored.run}: {args.out}")
    return 0
