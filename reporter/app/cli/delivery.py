"""`reporter send`, `push`, `release` and `preview`: an archived brief to its teams and CRM
targets. Delivery renders emails with WeasyPrint, so each handler imports it when it runs."""

from __future__ import annotations

import argparse

from reporter.app.cli.common import (
    checked_config,
    report,
    report_delivered,
    run_folder,
    run_id,
)
from reporter.app.params import delivery_params, team_params
from reporter.archive import published_runs
from reporter.delivery.hints import console_command
from reporter.errors import ConfigError
from reporter.exits import Exit, outcome_code
from reporter.history.record import read_record


def send_command(args: argparse.Namespace) -> int:
    from reporter.delivery import dispatch, mail  # WeasyPrint

    config = checked_config(args)
    names = [team.name for team in config.settings.teams]
    if args.team is not None and args.team not in names:
        raise ConfigError(f"{config.path}: no team named {args.team!r} under teams: "
                          f"({', '.join(names) or 'none configured'})")
    if args.scheduled:
        return report_delivered(dispatch.scheduled_send(delivery_params(config), args.team),
                                dispatch.latest_deliverable(config.output_dir), config)
    if args.due:
        return _send_due(config)
    folder = run_folder(config, args.run)
    run = read_record(folder).run_id
    if args.test:
        if not args.to:
            raise ConfigError("--test needs --to ADDRESS: the one address the test copy goes to")
        team = next(t for t in config.settings.teams if args.team in (None, t.name))
        sent = mail.send_test(folder, run, delivery_params(config), team_params(team), args.to)
        return report([sent], (), run, config.path)
    delivered = dispatch.dispatch_run(folder, delivery_params(config), team=args.team,
                                      dry_run=args.dry_run, force=args.force)
    return report(delivered.outcomes, delivered.pushes, run, config.path)


def _send_due(config) -> int:
    """`send --due`: the newest run to the teams still due, then the CRM pushes left undone
    (each run's lines name that run)."""
    from reporter.delivery.dispatch import finish_due, finish_pushes, latest_deliverable  # WeasyPrint

    outcomes = finish_due(delivery_params(config))
    if not outcomes:
        print("Nothing is due: the newest run has reached every team that should have it by now.")
    runs = published_runs(config.output_dir)
    mailed = report(outcomes, (), run_id(runs[-1] if runs else None), config.path)
    pushes = finish_pushes(delivery_params(config))  # after the email; also a push cut off by a crash
    pushed = report((), pushes, run_id(latest_deliverable(config.output_dir)), config.path)
    return outcome_code(mailed == Exit.DELIVERY_FAILED, False, pushed == Exit.PUSH_FAILED)


def push_command(args: argparse.Namespace) -> int:
    from reporter.delivery.dispatch import HeldBrief, push_run  # WeasyPrint

    config = checked_config(args)
    if not config.settings.crm:
        raise ConfigError(f"{config.path}: no crm: targets to push to; see docs/operations/crm.md")
    folder = run_folder(config, args.run)
    record = read_record(folder)
    if record.held:
        raise HeldBrief(f"run {record.run_id} is held; release it first with "
                        f"`{console_command(config.path, 'release', record.run_id)}` (that pushes it too)")
    pushed = push_run(folder, delivery_params(config), args.target, again=True)
    return report((), pushed, record.run_id, config.path)


def release_command(args: argparse.Namespace) -> int:
    from reporter.delivery.dispatch import release  # WeasyPrint

    config = checked_config(args)
    folder = run_folder(config, args.run_id)
    return report_delivered(release(delivery_params(config), read_record(folder).run_id), folder, config)


def preview_command(args: argparse.Namespace) -> int:
    from reporter.delivery.dispatch import email_preview, preview_status  # WeasyPrint

    config = checked_config(args)
    folder = run_folder(config, args.run)
    params = delivery_params(config)
    print(preview_status(read_record(folder), params))
    for path in email_preview(folder, params, args.out or config.output_dir / "preview"):
        print(path)
    return 0
