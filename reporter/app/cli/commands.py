"""Every command's arguments, declared without importing what runs it.

Each command names its handler (a function of the command group's module: runs, delivery,
servers, archive, personas, setup) and that module, with pandas, the models, the charts or
WeasyPrint behind it, is imported only when the command runs: `reporter --help`, `reporter run
--help` and a mistyped option answer in a tenth of a second."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from reporter.delivery.hints import DEFAULT_CONFIG

if TYPE_CHECKING:
    from reporter.data.sample import LifetimeTruth

LATEST = Path("<latest>")  # `validate --data` without a file: the file source.path finds


@dataclass(frozen=True)
class Handler:
    """A command's function, by the name of its module in reporter.app.cli: imported when the
    command runs, not when the arguments are declared."""

    module: str
    function: str

    def __call__(self, args: argparse.Namespace) -> int:
        module = importlib.import_module(f"reporter.app.cli.{self.module}")
        return getattr(module, self.function)(args)


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
    run.set_defaults(command=Handler("runs", "run_command"))


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
    assign.set_defaults(command=Handler("runs", "assign_command"))


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
    send.set_defaults(command=Handler("delivery", "send_command"))


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
    push.set_defaults(command=Handler("delivery", "push_command"))


def add_release(commands) -> None:
    release = commands.add_parser("release", help="send a brief held by a pre-send check",
                                  description="Send a held brief to every team, once.")
    add_config(release)
    release.add_argument("run_id", metavar="RUN_ID", help="run id as printed, or latest")
    release.set_defaults(command=Handler("delivery", "release_command"))


def add_preview(commands) -> None:
    preview = commands.add_parser(
        "preview", help="write each team's email as it would be sent (HTML and .eml)",
        description="Write <team>.html and <team>.eml of an archived run into a folder, to look "
                    "at before the first scheduled send. Sends nothing.")
    add_config(preview)
    preview.add_argument("--run", default="latest", metavar="RUN_ID",
                         help="run id, or latest (default)")
    preview.add_argument("--out", type=Path, help="folder (default: <output>/preview)")
    preview.set_defaults(command=Handler("delivery", "preview_command"))


def add_serve(commands) -> None:
    serve = commands.add_parser(
        "serve", help="answer who a customer is over HTTP, with the brief's model",
        description="Serve the API (FastAPI on uvicorn): assign customers with the model of the "
                    "source's newest delivered run, read runs, briefs and customers. Binds "
                    "127.0.0.1:8000 unless api: in reporter.yaml or --host/--port say otherwise; "
                    "any other host needs api.tokens. Docs at /docs.")
    add_config(serve)
    serve.add_argument("--host", help="address to bind (default api.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default api.port, 8000; 0: any free port)")
    serve.set_defaults(command=Handler("servers", "serve_command"))


def add_app(commands) -> None:
    app = commands.add_parser(
        "app", help="explore personas, look customers up and try rule changes in a browser",
        description="Start the app for marketing (Streamlit) over the configured source's archive: "
                    "this week, personas, customer lookup, the rule workshop and the archive. "
                    "Read-only unless --allow-edit; binds 127.0.0.1 unless --host says otherwise.")
    add_config(app)
    app.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    app.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    app.add_argument("--allow-edit", action="store_true",
                     help="allow saving personas.yaml and releasing held briefs from the app")
    app.set_defaults(command=Handler("servers", "app_command"))


def add_schedule(commands) -> None:
    schedule = commands.add_parser(
        "schedule", help="run briefs on the cron schedule from reporter.yaml (foreground)",
        description="Run `reporter run` on the schedule in reporter.yaml until stopped "
                    "(SIGTERM or Ctrl-C). One scheduler per archive.")
    add_config(schedule)
    schedule.add_argument("--list", action="store_true", help="print the jobs and their next run times")
    schedule.set_defaults(command=Handler("servers", "schedule_command"))


def add_rerender(commands) -> None:
    rerender = commands.add_parser(
        "rerender", help="draw an archived brief again with the current templates",
        description="Rebuild a run's HTML and PDF from its brief.json with the current templates "
                    "(after a template change), into a folder beside the archive. The archived "
                    "brief, the one that was sent, is left as it is.")
    add_config(rerender)
    rerender.add_argument("run_id", metavar="RUN_ID", help="run id as printed, or latest")
    rerender.add_argument("--out", type=Path, help="folder (default: <output>/rerender/<run folder>)")
    rerender.set_defaults(command=Handler("archive", "rerender_command"))


def add_archive(commands) -> None:
    archive_commands = group(commands, "archive", "browse and prune the archive of briefs")
    listing = archive_commands.add_parser("list", help="every run, newest first")
    add_config(listing)
    listing.add_argument("--source", help="only the runs of this source (as listed)")
    listing.set_defaults(command=Handler("archive", "list_command"))
    show = archive_commands.add_parser("show", help="one run's summary")
    add_config(show)
    show.add_argument("run_id", metavar="RUN_ID", help="run id as printed, or latest")
    show.set_defaults(command=Handler("archive", "show_command"))
    prune = archive_commands.add_parser(
        "prune", help="delete the oldest runs beyond the newest N, then rebuild the index")
    add_config(prune)
    prune.add_argument("--keep", type=positive, required=True, metavar="N")
    prune.add_argument("--dry-run", action="store_true",
                       help="print what would be deleted and delete nothing")
    prune.set_defaults(command=Handler("archive", "prune_command"))


def add_personas(commands) -> None:
    personas_commands = group(commands, "personas", "work with the persona rules")
    preview = personas_commands.add_parser(
        "preview", help="show which segments each persona matches, and why, without archiving",
        description="Segment the latest data and show, per segment, every persona rule with "
                    "its threshold beside the segment's value. Writes nothing.")
    add_config(preview)
    preview.add_argument("--data", type=Path, help="use this customer file instead of source.path")
    preview.set_defaults(command=Handler("personas", "preview_command"))
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
    replay.set_defaults(command=Handler("personas", "replay_command"))


def add_sample(commands) -> None:
    parser = commands.add_parser("sample", help="write a synthetic customer table",
                                 description="Write a synthetic table in the SmartCart schema.")
    parser.add_argument("--rows", type=positive, default=2240, help="customers (default 2240)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    parser.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD",
                        help="newest join date in the table (default 2014-06-29)")
    parser.add_argument("--age", type=Path, metavar="CSV",
                        help="instead of new customers: this table's customers --days later")
    parser.add_argument("--days", type=positive, default=7, help="with --age: days to move on")
    parser.add_argument("--lifetime", type=lifetime_truth, metavar="r,alpha,a,b,p,q,v",
                        help="draw purchases, recency and spend from BG/NBD (alpha in weeks) and "
                             "Gamma-Gamma with these known parameters, e.g. 0.8,8,0.8,2.5,6,4,15")
    parser.add_argument("--contacted", type=Path, metavar="RUN_FOLDER",
                        help="with --age: the run folder whose call lists were contacted")
    parser.add_argument("--effect", type=effect_size, default=0.0, metavar="POINTS",
                        help="with --contacted: how much more likely (0.10 = 10 points) a "
                             "contacted customer is to buy again (default 0)")
    parser.set_defaults(command=Handler("setup", "sample_command"))


def lifetime_truth(text: str) -> LifetimeTruth:
    from reporter.data.sample import LifetimeTruth  # NumPy and pandas: only when --lifetime is given

    try:
        return LifetimeTruth.parse(text)
    except ValueError as exc:  # argparse prints it after the option's name, exit 2
        raise argparse.ArgumentTypeError(str(exc).replace("could not convert string to float",
                                                          "not a number")) from None


def effect_size(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -1 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a change of probability from -1 to 1, "
                                         "such as 0.10")
    return value


def add_init(commands) -> None:
    init = commands.add_parser(
        "init", help="write a commented starter reporter.yaml and personas.yaml",
        description="Write a starter reporter.yaml and personas.yaml (with their JSON schemas for "
                    "editors) that validate as they are; then edit source.path and the teams.")
    init.add_argument("folder", nargs="?", type=Path, default=Path("config"),
                      help="where to write them (default config/)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.set_defaults(command=Handler("setup", "init_command"))


def add_validate(commands) -> None:
    validate = commands.add_parser("validate", help="check the config and persona files",
                                   description="Check reporter.yaml and personas.yaml.")
    add_config(validate)
    validate.add_argument("--data", nargs="?", type=Path, const=LATEST, default=None, metavar="FILE",
                          help="also try the rules on this week's data (or FILE) with the saved "
                               "model: warn about personas or flags that match nobody or "
                               "everybody, or that moved far since the last brief")
    validate.set_defaults(command=Handler("setup", "validate_command"))


def add_config_helpers(commands) -> None:
    config_commands = group(commands, "config", "configuration helpers")
    schema = config_commands.add_parser(
        "schema", help="write JSON Schemas of reporter.yaml and personas.yaml for editors",
        description="Write reporter.schema.json and personas.schema.json, generated from the "
                    "models the files are validated with.")
    schema.add_argument("--out", type=Path, default=Path("config"),
                        help="folder to write them to (default config/)")
    schema.set_defaults(command=Handler("setup", "schema_command"))
    reference = config_commands.add_parser(
        "reference", help="write the configuration reference (Markdown) from the settings models",
        description="Write docs/reference/configuration.md: every key of reporter.yaml with its "
                    "default, what it allows and what it does, from the settings models.")
    reference.add_argument("--out", type=Path, default=Path("docs/reference/configuration.md"),
                           help="file to write (default docs/reference/configuration.md)")
    reference.set_defaults(command=Handler("setup", "reference_command"))
