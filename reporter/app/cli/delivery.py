"""`reporter send`, `push`, `release` and `preview`: an archived brief to its teams and CRM
targets. Delivery renders emails with WeasyPrint, so each handler imports it when it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from reporter.app.cli.common import (
    add_config,
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
from reporter.forms import email_problem
from reporter.history.catalogue import all_runs, read_run, sent_since
from reporter.history.record import read_record


def add_send(commands) -> None:
    send = commands.add_parser(
        "send", help="send an archived brief to the recipients who have not had it",
        description="Send an archived run's brief to its teams. The delivery ledger sends each "
                    "recipient one copy per run; --force sends again (and is recorded).")
    add_config(send)
    send.add_argument("--run", default="latest", metavar="RUN_ID",
                      help="run id, e.g. 070000-ab12, or latest (default)")
    send.add_argument("--team", help="only this team (default: every team)")
    send.add_argument("--dry-run", action="store_true", help="write .eml files instead of sending")
    send.add_argument("--force", action="store_true", help="send again to recipients who had it")
    send.add_argument("--test", action="store_true",
                      help="send one copy marked as a test to --to; the ledger is not touched")
    send.add_argument("--to", metavar="ADDRESS", help="the address for --test")
    send.add_argument("--due", action="store_true",
                      help="finish the newest run: its teams that should have it and do not "
                           "(what the scheduler does at start-up and before each run)")
    send.add_argument("--scheduled", action="store_true", help=argparse.SUPPRESS)  # team jobs
    send.set_defaults(command=send_command)


def send_command(args: argparse.Namespace) -> int:
    from reporter.delivery import dispatch, mail  # WeasyPrint

    wrong = email_problem(args.to) if args.to is not None else ""
    if wrong:  # before anything is read: a mail server takes any RCPT and bounces it later
        raise ConfigError(f"--to {wrong}")
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
    again = (*(("--team", args.team) if args.team else ()), *(("--force",) if args.force else ()))
    return report(delivered.outcomes, delivered.pushes, run, config.path, resend_with=again)


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


def add_push(commands) -> None:
    push = commands.add_parser(
        "push", help="push an archived run's personas and flags to the CRM targets again",
        description="Push a delivered run to its crm: targets by hand (a database table is "
                    "upserted, a webhook gets the changed customers). Each push is recorded in "
                    "the delivery ledger.")
    add_config(push)
    push.add_argument("--run", default="latest", metavar="RUN_ID",
                      help="run id, e.g. 070000-ab12, or latest (default)")
    push.add_argument("--target", action="append", metavar="NAME",
                      help="only this target (repeatable; default: every target)")
    push.add_argument("--older", action="store_true",
                      help="push the run even where a newer run of the source was pushed already")
    push.set_defaults(command=push_command)


def push_command(args: argparse.Namespace) -> int:
    from reporter.delivery.dispatch import HeldBrief, OlderRun, newer_there, push_run  # WeasyPrint

    config = checked_config(args)
    if not config.settings.crm:
        raise ConfigError(f"{config.path}: no crm: targets to push to; see docs/operations/crm.md")
    folder = run_folder(config, args.run)
    record = read_record(folder)
    if record.held:
        raise HeldBrief(f"run {record.run_id} is held; release it first with "
                        f"`{console_command(config.path, 'release', record.run_id)}` (that pushes it too)")
    params = delivery_params(config)
    newer = [] if args.older else newer_there(params, record, args.target)
    if newer:
        target, other = newer[0]
        again = console_command(config.path, "push", "--run", other.run_id)
        raise OlderRun(f"crm {target}: run {record.run_id} (customers as of {record.as_of}) is older than "
                       f"run {other.run_id} (as of {other.as_of}), already pushed there; pushing it would "
                       f"put older personas and flags back in the CRM; push the newer one (`{again}`), or "
                       "add --older to push this one anyway")
    pushed = push_run(folder, params, args.target, again=True)
    return report((), pushed, record.run_id, config.path)


def add_release(commands) -> None:
    release = commands.add_parser("release", help="send a brief held by a pre-send check",
                                  description="Send a held brief to every team, once.")
    add_config(release)
    release.add_argument("run_id", metavar="RUN_ID", help="run id as printed, or latest")
    release.add_argument("--older", action="store_true",
                         help="release it even where a brief of newer customers of the source was sent")
    release.set_defaults(command=release_command)


def release_command(args: argparse.Namespace) -> int:
    from reporter.delivery.dispatch import OlderRun, release  # WeasyPrint

    config = checked_config(args)
    folder = run_folder(config, args.run_id)
    run = read_run(folder)
    newer = None if args.older else sent_since(run, all_runs(config.output_dir))
    if newer is not None:
        raise OlderRun(f"run {run.run_id} (customers as of {run.as_of}) is older than run {newer.run_id} "
                       f"(as of {newer.as_of}), which the teams have had since; releasing it would send "
                       "them older figures; add --older to release it anyway")
    return report_delivered(release(delivery_params(config), run.run_id), folder, config)


def add_preview(commands) -> None:
    preview = commands.add_parser(
        "preview", help="write each team's email as it would be sent (HTML and .eml)",
        description="Write <team>.html and <team>.eml of an archived run into a folder, to look "
                    "at before the first scheduled send. Sends nothing.")
    add_config(preview)
    preview.add_argument("--run", default="latest", metavar="RUN_ID",
                         help="run id, or latest (default)")
    preview.add_argument("--out", type=Path, help="folder (default: <output>/preview)")
    preview.set_defaults(command=preview_command)


def preview_command(args: argparse.Namespace) -> int:
    from reporter.delivery.dispatch import email_preview, preview_status  # WeasyPrint

    config = checked_config(args)
    folder = run_folder(config, args.run)
    params = delivery_params(config)
    print(preview_status(read_record(folder), params))
    for path in email_preview(folder, params, args.out or config.output_dir / "preview"):
        print(path)
    return 0
