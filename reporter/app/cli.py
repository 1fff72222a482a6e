"""Commands only: parse arguments, call the pipeline, map errors to exit codes.

The exit codes are reporter.exits.Exit (the README's table): 0 done; 2 bad input or config,
with a one-line cause and no traceback; 3 an email failed or is uncertain; 4 held by a
pre-send check; 5 delivered but a CRM push failed; 1 an unexpected failure (a bug), with the
traceback on stderr. Every email, CRM push and pruned run is one line on stdout.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from reporter.app import logs
from reporter.errors import ConfigError, DataUnchanged, ReporterError
from reporter.exits import Exit

DEFAULT_CONFIG = Path("config/reporter.yaml")
LATEST = Path("<latest>")  # `validate --data` without a file: the file source.path finds
log = logging.getLogger("reporter")


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
    server = args.command is _serve
    logs.setup(settings, command_default="json" if server else "text", one_stream=server)


def _print_problems(error: ReporterError) -> None:
    """One problem: one line. Several (a config with many mistakes): one per line, so each
    names its own file and line and none hides in a 400-character sentence."""
    if len(error.problems) == 1:
        print(f"reporter: error: {error.one_line()}", file=sys.stderr)
        return
    count = len(error.problems)
    print(f"reporter: {count} problems found:", file=sys.stderr)
    for problem in error.problems:
        print(f"  {' '.join(str(problem).split())}", file=sys.stderr)


def _checked_config(args: argparse.Namespace):
    """Both files and the persona rules checked in one pass, before any data is read."""
    from reporter.config import load_config
    from reporter.personas.rulebook import rulebook_problems

    return load_config(_config_path(args), check_rules=rulebook_problems)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reporter",
        description="SmartCart Briefs: turn the newest customer table into a weekly brief.",
    )
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the version and the archive formats it reads and writes, and exit")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="make one brief now and archive it",
                              description="Make one brief from the newest customer file.")
    _add_config(run)
    run.add_argument("--data", type=Path, help="use this customer file instead of source.path")
    run.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD",
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
    run.set_defaults(command=_run)

    assign = commands.add_parser(
        "assign", help="give new customers a segment, persona and flags with an archived model",
        description="Score customers who were not in the fitted data (sign-ups, a CRM batch) "
                    "with the model saved by an archived run; writes ID, segment, persona, flags.")
    _add_config(assign)
    assign.add_argument("--data", type=Path, required=True, help="the customers to score (CSV)")
    assign.add_argument("--run", default="latest", metavar="RUN_ID",
                        help="the archived run whose model to use (default: latest)")
    assign.add_argument("--out", type=Path, help="write the CSV here (default: standard output)")
    assign.set_defaults(command=_assign)

    send = commands.add_parser(
        "send", help="send an archived brief to the recipients who have not had it",
        description="Send an archived run's brief to its teams. The delivery ledger sends each "
                    "recipient one copy per run; --force sends again (and is recorded).")
    _add_config(send)
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
    send.set_defaults(command=_send)

    push = commands.add_parser(
        "push", help="push an archived run's personas and flags to the CRM targets again",
        description="Push a delivered run to its crm: targets by hand (a database table is "
                    "upserted, a webhook gets the changed customers). Each push is recorded in "
                    "the delivery ledger.")
    _add_config(push)
    push.add_argument("--run", default="latest", metavar="RUN_ID",
                      help="run id, e.g. 070000-ab12, or latest (default)")
    push.add_argument("--target", action="append", metavar="NAME",
                      help="only this target (repeatable; default: every target)")
    push.set_defaults(command=_push)

    serve = commands.add_parser(
        "serve", help="answer who a customer is over HTTP, with the brief's model",
        description="Serve the API (FastAPI on uvicorn): assign customers with the model of the "
                    "source's newest delivered run, read runs, briefs and customers. Binds "
                    "127.0.0.1:8000 unless api: in reporter.yaml or --host/--port say otherwise; "
                    "any other host needs api.tokens. Docs at /docs.")
    _add_config(serve)
    serve.add_argument("--host", help="address to bind (default api.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default api.port, 8000; 0: any free port)")
    serve.set_defaults(command=_serve)

    app = commands.add_parser(
        "app", help="explore personas, look customers up and try rule changes in a browser",
        description="Start the app for marketing (Streamlit) over the configured source's archive: "
                    "this week, personas, customer lookup, the rule workshop and the archive. "
                    "Read-only unless --allow-edit; binds 127.0.0.1 unless --host says otherwise.")
    _add_config(app)
    app.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    app.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    app.add_argument("--allow-edit", action="store_true",
                     help="allow saving personas.yaml and releasing held briefs from the app")
    app.set_defaults(command=_app)

    release = commands.add_parser("release", help="send a brief held by a pre-send check",
                                  description="Send a held brief to every team, once.")
    _add_config(release)
    release.add_argument("run_id", metavar="RUN_ID", help="run id as printed, or latest")
    release.set_defaults(command=_release)

    rerender = commands.add_parser(
        "rerender", help="draw an archived brief again with the current templates",
        description="Rebuild a run's HTML and PDF from its brief.json with the current templates "
                    "(after a template change), into a folder beside the archive. The archived "
                    "brief, the one that was sent, is left as it is.")
    _add_config(rerender)
    rerender.add_argument("run_id", metavar="RUN_ID", help="run id as printed, or latest")
    rerender.add_argument("--out", type=Path, help="folder (default: <output>/rerender/<run folder>)")
    rerender.set_defaults(command=_rerender)

    preview = commands.add_parser(
        "preview", help="write each team's email as it would be sent (HTML and .eml)",
        description="Write <team>.html and <team>.eml of an archived run into a folder, to look "
                    "at before the first scheduled send. Sends nothing.")
    _add_config(preview)
    preview.add_argument("--run", default="latest", metavar="RUN_ID",
                         help="run id, or latest (default)")
    preview.add_argument("--out", type=Path, help="folder (default: <output>/preview)")
    preview.set_defaults(command=_email_preview)

    schedule = commands.add_parser(
        "schedule", help="run briefs on the cron schedule from reporter.yaml (foreground)",
        description="Run `reporter run` on the schedule in reporter.yaml until stopped "
                    "(SIGTERM or Ctrl-C). One scheduler per archive.")
    _add_config(schedule)
    schedule.add_argument("--list", action="store_true", help="print the jobs and their next run times")
    schedule.set_defaults(command=_schedule)

    sample = commands.add_parser("sample", help="write a synthetic customer table",
                                 description="Write a synthetic table in the SmartCart schema.")
    sample.add_argument("--rows", type=_positive, default=2240, help="customers (default 2240)")
    sample.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    sample.add_argument("--out", type=Path, required=True, help="CSV file to write")
    sample.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD",
                        help="newest join date in the table (default 2014-06-29)")
    sample.add_argument("--age", type=Path, metavar="CSV",
                        help="instead of new customers: this table's customers --days later")
    sample.add_argument("--days", type=_positive, default=7, help="with --age: days to move on")
    sample.set_defaults(command=_sample)

    init = commands.add_parser(
        "init", help="write a commented starter reporter.yaml and personas.yaml",
        description="Write a starter reporter.yaml and personas.yaml (with their JSON schemas for "
                    "editors) that validate as they are; then edit source.path and the teams.")
    init.add_argument("folder", nargs="?", type=Path, default=Path("config"),
                      help="where to write them (default config/)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.set_defaults(command=_init)

    validate = commands.add_parser("validate", help="check the config and persona files",
                                   description="Check reporter.yaml and personas.yaml.")
    _add_config(validate)
    validate.add_argument("--data", nargs="?", type=Path, const=LATEST, default=None, metavar="FILE",
                          help="also try the rules on this week's data (or FILE) with the saved "
                               "model: warn about personas or flags that match nobody or "
                               "everybody, or that moved far since the last brief")
    validate.set_defaults(command=_validate)

    archive_commands = _group(commands, "archive", "browse and prune the archive of briefs")
    listing = archive_commands.add_parser("list", help="every run, newest first")
    _add_config(listing)
    listing.add_argument("--source", help="only the runs of this source (as listed)")
    listing.set_defaults(command=_archive_list)
    show = archive_commands.add_parser("show", help="one run's summary")
    _add_config(show)
    show.add_argument("run_id", metavar="RUN_ID", help="run id as printed, or latest")
    show.set_defaults(command=_archive_show)
    prune = archive_commands.add_parser(
        "prune", help="delete the oldest runs beyond the newest N, then rebuild the index")
    _add_config(prune)
    prune.add_argument("--keep", type=_positive, required=True, metavar="N")
    prune.add_argument("--dry-run", action="store_true",
                       help="print what would be deleted and delete nothing")
    prune.set_defaults(command=_archive_prune)

    personas_commands = _group(commands, "personas", "work with the persona rules")
    preview = personas_commands.add_parser(
        "preview", help="show which segments each persona matches, and why, without archiving",
        description="Segment the latest data and show, per segment, every persona rule with "
                    "its threshold beside the segment's value. Writes nothing.")
    _add_config(preview)
    preview.add_argument("--data", type=Path, help="use this customer file instead of source.path")
    preview.set_defaults(command=_personas_preview)
    replay = personas_commands.add_parser(
        "replay", help="apply a rules file to an archived run's customers and show who would move",
        description="Apply a personas file to the customers of an archived run (their segments "
                    "from its model, no refit, no brief) and print who would be named differently; "
                    "every customer is written to a CSV with persona and flags before and after.")
    _add_config(replay)
    replay.add_argument("--rules", type=Path, help="the personas file to try (default: the one in use)")
    replay.add_argument("--run", default="latest", metavar="RUN_ID", help="default: the newest run")
    replay.add_argument("--out", type=Path, help="CSV to write (default: <output>/replay/<run>.csv)")
    replay.add_argument("--data", type=Path, help="the file the run read, for a run made with --data "
                        "(default: the configured source; checked against the run's sha256)")
    replay.set_defaults(command=_personas_replay)

    config_commands = _group(commands, "config", "configuration helpers")
    schema = config_commands.add_parser(
        "schema", help="write JSON Schemas of reporter.yaml and personas.yaml for editors",
        description="Write reporter.schema.json and personas.schema.json, generated from the "
                    "models the files are validated with.")
    schema.add_argument("--out", type=Path, default=Path("config"),
                        help="folder to write them to (default config/)")
    schema.set_defaults(command=_schema)
    return parser


class _Version(argparse.Action):
    """`reporter --version`: the package and its archive formats (imported only when asked)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from reporter.app.about import version_text

        print(version_text())
        parser.exit()


def _group(commands, name: str, summary: str):
    """A command with subcommands of its own (`reporter archive list`)."""
    parser = commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")
    return parser.add_subparsers(title="commands", required=True, metavar="COMMAND")


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, metavar="PATH",
                        help=f"reporter.yaml to use (default {DEFAULT_CONFIG})")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-27") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _config_path(args: argparse.Namespace) -> Path:
    if args.config is not None:
        return args.config
    if not DEFAULT_CONFIG.is_file():
        raise ConfigError(
            f"{DEFAULT_CONFIG}: not found in {Path.cwd()}; run from the project folder or "
            "pass --config PATH"
        )
    return DEFAULT_CONFIG


def _run(args: argparse.Namespace) -> int:
    config = _checked_config(args)  # before the pipeline's imports: a typo is said at once
    from reporter.app.pipeline import run
    from reporter.progress import Progress, showing

    try:
        with showing(Progress.for_stdout(verbose=args.verbose)):
            result = run(config, data=args.data, as_of=args.as_of, dry_run=args.dry_run,
                         refit=args.refit, allow_unchanged=args.allow_unchanged)
    except DataUnchanged as skipped:  # checks.unchanged_data: skip; not a failure
        print(skipped.one_line())
        return skipped.exit_code
    except ReporterError as error:
        _tell_owners_failed(config, error.one_line())
        raise
    except Exception as error:
        _tell_owners_failed(config, f"{type(error).__name__}: {error} (a bug; the traceback is in "
                                    "the scheduler's log)")
        raise
    from reporter.delivery.hints import console_command

    personas = ", ".join(f"{p.name} {p.share:.0%}" for p in result.brief.personas)
    print(f"Brief {result.run_id}: {result.brief.customers:,} customers, k={result.brief.model.k}, "
          f"personas: {personas}")
    print(f"Model: {result.brief.model.decision}")
    if result.checks.held:
        print("Held, not sent to any team: " + "; ".join(r.problem for r in result.checks.holding)
              + f". Send it with `{console_command(config.path, 'release', result.run_id)}`.")
    print(f"HTML: {result.html}")
    print(f"PDF:  {result.pdf}")
    code = _report(result.deliveries, result.pushes, result.run_id, config.path, result.checks.held)
    for line in result.pruned.lines():  # history.retention_runs
        print(line)
    return code


def _assign(args: argparse.Namespace) -> int:
    from reporter.app.archived import assign_new
    from reporter.archive import write_bytes_atomic
    from reporter.config import load_config
    from reporter.personas.exports import write_csv

    config = load_config(_config_path(args))
    scored = assign_new(config, args.data, args.run)
    if args.out is None:
        sys.stdout.flush()
        write_csv(scored.frame, sys.stdout.buffer, stamp=scored.stamp)
    else:
        buffer = io.BytesIO()
        write_csv(scored.frame, buffer, stamp=scored.stamp)
        write_bytes_atomic(args.out, buffer.getvalue())
        print(f"{len(scored.frame):,} customers scored with the model of run {scored.run}: {args.out}")
    return 0


def _tell_owners_failed(config, problem: str) -> None:
    """Best effort: the owners hear of a failed run; a mail problem must not hide the failure."""
    from reporter.delivery.hints import mailed_command
    from reporter.delivery.mail import notify_owners

    try:
        notify_owners(config.settings, None, "", "a run failed; no brief this time",
                      f"reporter run failed:\n\n{problem}\n\nConfig: {config.path}\n"
                      f"Once it is fixed, run it again with: {mailed_command(config.path, 'run')}\n")
    except Exception:
        log.warning("reporter: the owners could not be told of the failure", exc_info=True)


def _report(outcomes, pushes, run_id: str, config_path: Path | None, held: bool = False) -> int:
    """One line per email and per CRM push, the errors with the command that fixes each, and
    the exit code they add up to."""
    from reporter.app.outcomes import delivery_lines, exit_code, failure_lines, push_line

    for outcome in outcomes:
        print("\n".join(delivery_lines(outcome)))
    for pushed in pushes:
        print(push_line(pushed, run_id, config_path))
    for line in failure_lines(outcomes, run_id, config_path):
        print(line, file=sys.stderr)
    return exit_code(outcomes, pushes, held)


def _report_delivered(delivered, folder: Path | None, config) -> int:
    return _report(delivered.outcomes, delivered.pushes, _run_id(folder), config.path)


def _send(args: argparse.Namespace) -> int:
    from reporter.config import load_config
    from reporter.delivery.dispatch import (
        dispatch_run,
        finish_due,
        finish_pushes,
        latest_deliverable,
        scheduled_send,
    )
    from reporter.delivery.mail import send_test
    from reporter.history.record import read_record

    config = load_config(_config_path(args))
    names = [team.name for team in config.settings.teams]
    if args.team is not None and args.team not in names:
        raise ConfigError(f"{config.path}: no team named {args.team!r} under teams: "
                          f"({', '.join(names) or 'none configured'})")
    if args.scheduled:
        return _report_delivered(scheduled_send(config, args.team),
                                 latest_deliverable(config.output_dir), config)
    if args.due:
        return _send_due(config, finish_due, finish_pushes)
    folder = _run_folder(config, args.run)
    run_id = read_record(folder).run_id
    if args.test:
        if not args.to:
            raise ConfigError("--test needs --to ADDRESS: the one address the test copy goes to")
        team = next(t for t in config.settings.teams if args.team in (None, t.name))
        return _report([send_test(folder, run_id, config.settings, team, args.to)], (), run_id,
                       config.path)
    delivered = dispatch_run(folder, config, team=args.team, dry_run=args.dry_run, force=args.force)
    return _report(delivered.outcomes, delivered.pushes, run_id, config.path)


def _send_due(config, finish_due, finish_pushes) -> int:
    """`send --due`: the newest run to the teams still due, then the CRM pushes left undone
    (each run's lines name that run)."""
    from reporter.archive import published_runs
    from reporter.delivery.dispatch import latest_deliverable
    from reporter.exits import outcome_code

    outcomes = finish_due(config)
    if not outcomes:
        print("Nothing is due: the newest run has reached every team that should have it by now.")
    runs = published_runs(config.output_dir)
    mailed = _report(outcomes, (), _run_id(runs[-1] if runs else None), config.path)
    pushes = finish_pushes(config)  # after the email; also a push cut off by a crash
    pushed = _report((), pushes, _run_id(latest_deliverable(config.output_dir)), config.path)
    return outcome_code(mailed == Exit.DELIVERY_FAILED, False, pushed == Exit.PUSH_FAILED)


def _run_id(folder: Path | None) -> str:
    from reporter.history.record import read_record

    return read_record(folder).run_id if folder is not None else ""


def _push(args: argparse.Namespace) -> int:
    from reporter.config import load_config
    from reporter.delivery.dispatch import HeldBrief, push_run
    from reporter.history.record import read_record

    config = load_config(_config_path(args))
    if not config.settings.crm:
        raise ConfigError(f"{config.path}: no crm: targets to push to; see README, Pushing to your CRM")
    folder = _run_folder(config, args.run)
    from reporter.delivery.hints import console_command

    record = read_record(folder)
    if record.held:
        raise HeldBrief(f"run {record.run_id} is held; release it first with "
                        f"`{console_command(config.path, 'release', record.run_id)}` (that pushes it too)")
    return _report((), push_run(folder, config, args.target, again=True), record.run_id, config.path)


def _app(args: argparse.Namespace) -> int:
    """Check the config, then become the Streamlit server (signals reach it directly)."""
    from reporter.app.net import loopback

    config = _checked_config(args)
    if args.allow_edit and not loopback(args.host):
        raise ConfigError(f"reporter app --allow-edit binds a loopback address only (the app has no "
                          f"login, and {args.host} is not loopback): drop --allow-edit, or bind "
                          "127.0.0.1 and edit through an SSH tunnel")
    if not loopback(args.host):
        print(f"warning: the app has no login: anyone who reaches {args.host}:{args.port} sees "
              "customers' data; put it behind a proxy that authenticates", file=sys.stderr)
    script = Path(__file__).with_name("dashboard.py")
    env = {**os.environ, "REPORTER_APP_CONFIG": str(config.path),
           "REPORTER_APP_ALLOW_EDIT": "1" if args.allow_edit else "0"}
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.address", args.host,
               "--server.port", str(args.port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--client.toolbarMode", "minimal"]
    sys.stdout.flush()
    os.execve(sys.executable, command, env)
    return 0  # not reached: the process is Streamlit's now


def _serve(args: argparse.Namespace) -> int:
    from reporter.app.api import serve

    return serve(_checked_config(args), args.host, args.port)


def _run_folder(config, run: str) -> Path:
    """A run folder by `latest`, a data date or a run id, for every command that names a run."""
    from reporter.delivery.hints import console_command
    from reporter.history.catalogue import resolve_run

    return resolve_run(config.output_dir, run, console_command(config.path, "run"))


def _release(args: argparse.Namespace) -> int:
    from reporter.config import load_config
    from reporter.delivery.dispatch import release
    from reporter.history.record import read_record

    config = load_config(_config_path(args))
    folder = _run_folder(config, args.run_id)
    return _report_delivered(release(config, read_record(folder).run_id), folder, config)


def _rerender(args: argparse.Namespace) -> int:
    from reporter.app.archived import rerender
    from reporter.config import load_config

    config = load_config(_config_path(args))
    folder = _run_folder(config, args.run_id)
    done = rerender(folder, args.out or config.output_dir / "rerender" / folder.name)
    print(f"HTML: {done.html}" + (" (identical to the archived brief)" if done.unchanged
                                  else " (differs from the archived brief)"))
    print(f"PDF:  {done.pdf}")
    return 0


def _email_preview(args: argparse.Namespace) -> int:
    from reporter.config import load_config
    from reporter.delivery.dispatch import email_preview, preview_status

    config = load_config(_config_path(args))
    folder = _run_folder(config, args.run)
    print(preview_status(folder, config))
    for path in email_preview(folder, config, args.out or config.output_dir / "preview"):
        print(path)
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from reporter.app.schedule import list_jobs, serve

    config = _checked_config(args)
    if args.list:
        print(list_jobs(config), end="")
        return 0
    return serve(config)


def _sample(args: argparse.Namespace) -> int:
    from reporter.data import sample

    if args.age is not None:
        import pandas as pd

        table = sample.age(pd.read_csv(args.age), args.days, args.seed)
    else:
        kwargs = {"as_of": args.as_of} if args.as_of else {}
        table = sample.generate(args.rows, args.seed, **kwargs)
    path = sample.write(table, args.out)
    print(f"Wrote {len(table):,} customers to {path}")
    return 0


def _init(args: argparse.Namespace) -> int:
    from reporter.app.starter import write_starter

    written = write_starter(args.folder, force=args.force)
    for path in written:
        print(f"Wrote {path}")
    config = args.folder / "reporter.yaml"
    print(f"Next: put the customer export where source.path in {config} points (or edit it), "
          f"then run `reporter validate --config {config}` and `reporter run --config {config}`.")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from reporter.personas.rulebook import compile_rulebook

    try:
        config = _checked_config(args)
        rulebook = compile_rulebook(config.personas, config.personas_path)
        _check_secrets(config)
    except ConfigError as error:
        count = len(error.problems)
        print(f"reporter: {count} problem{'s' if count > 1 else ''} found:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return error.exit_code
    warnings = [f"{config.personas_path}: {w}" for w in rulebook.warnings] + _owner_warnings(config)
    if args.data is not None:
        from reporter.app.pipeline import rule_warnings

        warnings += rule_warnings(config, None if args.data == LATEST else args.data)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    names = ", ".join(p.name for p in rulebook.personas)
    print(f"{config.path}: OK")
    print(f"{config.personas_path}: OK, {len(rulebook.personas)} segment personas ({names}), "
          f"fallback {rulebook.fallback.name}")
    if rulebook.flags:
        print(f"customer flags: {', '.join(p.name for p in rulebook.flags)}")
    from reporter.app.params import location

    source = config.settings.source
    if source.spark_table is not None:
        print(f"source: spark table {source.spark_table} (engine: spark)")
    elif source.url is None:
        print(f"source.path: {location(config, source.path)}")
    else:
        print(f"source: {source.url} {'table ' + source.table if source.table else 'query'}")
    for target in config.settings.crm:
        print(f"crm {target.name}: {target.webhook or f'{target.url} table {target.table}'}")
    return 0


def _owner_warnings(config) -> list[str]:
    """Without owners nobody hears of a held brief, a failed email or a failed CRM push."""
    if config.settings.owners:
        return []
    return [f"{config.path}: owners: is empty, so nobody is told when a brief is held, an email "
            "fails or a CRM push fails (only the exit code and these lines say so); add the "
            "addresses of the people who look after the briefs"]


def _check_secrets(config) -> None:
    from reporter.yamlsource import line_of

    settings, text = config.settings, config.path.read_text(encoding="utf-8")
    named = [(("smtp", "password_env"), settings.smtp.password_env if settings.smtp else None),
             (("source", "password_env"), settings.source.password_env)]
    for index, target in enumerate(settings.crm):
        named += [(("crm", index, "password_env"), target.password_env),
                  (("crm", index, "secret_env"), target.secret_env)]
    problems = [f"{config.path}: line {line_of(text, place)} {'.'.join(map(str, place))} names "
                f"{variable}, which is not set in this environment; export it (or set it in the "
                "service's EnvironmentFile) before `reporter run`"
                for place, variable in named if variable and variable not in os.environ]
    if problems:
        raise ConfigError(problems[0], problems)


def _personas_preview(args: argparse.Namespace) -> int:
    from reporter.app.pipeline import analyse
    from reporter.brief.rule_report import preview_text

    config = _checked_config(args)
    print(preview_text(analyse(config, data=args.data)), end="")
    return 0


def _personas_replay(args: argparse.Namespace) -> int:
    from reporter.app.archived import replay_rules
    from reporter.archive import write_bytes_atomic
    from reporter.config import load_config
    from reporter.history.catalogue import read_run
    from reporter.personas.exports import write_csv

    config = load_config(_config_path(args))
    run = read_run(_run_folder(config, args.run))
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
    for before, after, count in change.moves:
        print(f"  {before} -> {after}: {count:,}")
    for name, before, after in change.flags:
        print(f"  flag {name}: {before:,} -> {after:,} customers")
    print(f"Every customer, before and after: {out}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from reporter.config import write_schemas

    for path in write_schemas(args.out):
        print(f"Wrote {path}")
    return 0


def _archive_list(args: argparse.Namespace) -> int:
    from reporter.config import load_config
    from reporter.history.catalogue import all_runs

    runs = [r for r in all_runs(load_config(_config_path(args)).output_dir)
            if args.source in (None, r.source)]
    if not runs:
        print("No runs in the archive yet." if args.source is None else f"No runs of source {args.source}.")
    for run in runs:
        shares = ", ".join(f"{name} {share:.0%}" for name, share in run.persona_shares.items())
        print(f"{run.run_id}  {run.started_at[:16]}  {run.source}: {run.data_file} (as of {run.as_of})  "
              f"{run.customers:,} customers  {shares}  [{run.delivery}]")
    return 0


def _archive_show(args: argparse.Namespace) -> int:
    from reporter.config import load_config
    from reporter.delivery.ledger import LEDGER_FILE, Ledger
    from reporter.history.catalogue import read_run

    config = load_config(_config_path(args))
    run = read_run(_run_folder(config, args.run_id))
    record = run.record
    print(f"Run {run.run_id} ({run.folder})")
    print(f"Data: {record.data.path} ({run.customers:,} customers, as of {run.as_of})")
    print(f"Segments: k={record.k}, silhouette {record.silhouette}")
    for sentence in record.headlines:
        print(f"  - {sentence}")
    for name, persona in record.personas.items():
        print(f"  {name}: {persona.customers:,} customers ({persona.share:.0%})")
    change = record.week_over_week
    if change:
        print(f"Since run {change.previous_run_id}: {change.slipped} slipped, "
              f"{change.new_customers} new, {change.gone_customers} gone")
    if record.model:
        print(f"Model: {record.model.sentence}")
    print(f"Status: {record.status}" + "".join(f"\n  held: {reason}" for reason in record.held_because))
    print(f"Delivery: {run.delivery}")
    rows = Ledger(config.output_dir).rows(run.run_id) if (config.output_dir / LEDGER_FILE).is_file() else []
    if rows:
        print("Delivery ledger:")
        for row in rows:
            detail = f" ({row.detail})" if row.detail else ""
            message = f" {row.message_id}" if row.message_id else ""
            print(f"  {row.at}  {row.kind:<6} {row.status:<7} {row.team}: {row.recipient}{detail}{message}")
    print("Files: " + ", ".join(run.files()))
    return 0


def _archive_prune(args: argparse.Namespace) -> int:
    from reporter.brief.index import rebuild_index
    from reporter.config import load_config
    from reporter.history.catalogue import all_runs
    from reporter.history.retention import carry_out, plan_prune

    config = load_config(_config_path(args))
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
