"""`reporter run` (make a brief now) and `reporter assign` (score new customers).

The pipeline and the archived model pull in scikit-learn, matplotlib and WeasyPrint, so each
handler imports them when it runs: a typo in reporter.yaml is said before those seconds pass."""

from __future__ import annotations

import argparse
import io
import sys

from reporter.app.cli.common import checked_config, report
from reporter.app.params import delivery_params
from reporter.archive import write_bytes_atomic
from reporter.delivery.hints import console_command
from reporter.errors import DataUnchanged, ReporterError
from reporter.personas.exports import write_csv
from reporter.progress import Progress, showing


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
