"""Getting started and checking: `reporter sample`, `init`, `validate` and `config schema|reference`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reporter.app.cli.common import LATEST, add_config, checked_config, group, iso_date, positive
from reporter.app.params import location
from reporter.app.reference import write_reference
from reporter.app.settings import check_secrets, owner_warnings, write_schemas
from reporter.app.starter import write_starter
from reporter.data import sample
from reporter.errors import ConfigError, ReporterError
from reporter.history.measure import contacted_ids
from reporter.personas.rulebook import compile_rulebook


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
    parser.add_argument("--days", type=positive, default=7,
                        help="with --age: days to move on (default 7, a week)")
    parser.add_argument("--lifetime", type=lifetime_truth, metavar="r,alpha,a,b,p,q,v",
                        help="draw purchases, recency and spend from BG/NBD (alpha in weeks) and "
                             "Gamma-Gamma with these known parameters, e.g. 0.8,8,0.8,2.5,6,4,15")
    parser.add_argument("--contacted", type=Path, metavar="RUN_FOLDER",
                        help="with --age: the run folder whose call lists were contacted")
    parser.add_argument("--effect", type=effect_size, default=0.0, metavar="POINTS",
                        help="with --contacted: how much more likely (0.10 = 10 points) a "
                             "contacted customer is to buy again (default 0)")
    parser.set_defaults(command=sample_command)


def lifetime_truth(text: str) -> sample.LifetimeTruth:
    try:
        return sample.LifetimeTruth.parse(text)
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


def sample_command(args: argparse.Namespace) -> int:
    if (args.contacted is not None or args.effect) and args.age is None:
        raise ConfigError("--contacted and --effect age a table: give it with --age CSV")
    if args.effect and args.contacted is None:
        raise ConfigError("--effect needs --contacted RUN_FOLDER: the brief whose lists were contacted")
    if args.age is not None:
        contacted = contacted_ids(args.contacted) if args.contacted is not None else None
        table = sample.age(sample.read_to_age(args.age), args.days, args.seed, contacted=contacted,
                           effect=args.effect)
    else:
        kwargs = {"as_of": args.as_of} if args.as_of else {}
        table = sample.generate(args.rows, args.seed, **kwargs)
        if args.lifetime is not None:
            table = sample.with_lifetime(table, args.lifetime, args.seed + 1)
    path = sample.write(table, args.out)
    moved = f", {args.days} day(s) after {args.age}" if args.age is not None else ""
    print(f"Wrote {len(table):,} customers to {path}{moved}")
    return 0


def add_init(commands) -> None:
    init = commands.add_parser(
        "init", help="write a commented starter reporter.yaml and personas.yaml",
        description="Write a starter reporter.yaml and personas.yaml (with their JSON schemas for "
                    "editors) that validate as they are; then edit source.path and the teams.")
    init.add_argument("folder", nargs="?", type=Path, default=Path("config"),
                      help="where to write them (default config/)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.set_defaults(command=init_command)


def init_command(args: argparse.Namespace) -> int:
    written = write_starter(args.folder, force=args.force)
    for path in written:
        print(f"Wrote {path}")
    config = args.folder / "reporter.yaml"
    print(f"Next: put the customer export where source.path in {config} points (or edit it), "
          f"then run `reporter validate --config {config}` and `reporter run --config {config}`.")
    return 0


def add_validate(commands) -> None:
    validate = commands.add_parser("validate", help="check the config and persona files",
                                   description="Check reporter.yaml and personas.yaml.")
    add_config(validate)
    validate.add_argument("--data", nargs="?", type=Path, const=LATEST, default=None, metavar="FILE",
                          help="also try the rules on this week's data (or FILE) with the saved "
                               "model: warn about personas or flags that match nobody or "
                               "everybody, or that moved far since the last brief")
    validate.set_defaults(command=validate_command)


def validate_command(args: argparse.Namespace) -> int:
    try:
        config = checked_config(args)
        rulebook = compile_rulebook(config.personas, config.personas_path)
        check_secrets(config)
    except ConfigError as error:
        count = len(error.problems)
        print(f"reporter: {count} problem{'s' if count > 1 else ''} found:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return error.exit_code
    warnings = [f"{config.personas_path}: {w}" for w in rulebook.warnings] + owner_warnings(config)
    summary = ""
    if args.data is not None:
        from reporter.app.pipeline import rule_warnings  # scikit-learn, only with --data

        summary, found = rule_warnings(config, None if args.data == LATEST else args.data)
        warnings += found
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    names = ", ".join(p.name for p in rulebook.personas)
    print(f"{config.path}: OK")
    print(f"{config.personas_path}: OK, {len(rulebook.personas)} segment personas ({names}), "
          f"fallback {rulebook.fallback.name}")
    if rulebook.flags:
        print(f"customer flags: {', '.join(p.name for p in rulebook.flags)}")
    if summary:  # a file given names itself: the source.path line below is the configured one
        print(f"data: {summary}" if args.data == LATEST else f"data: {args.data}: {summary}")
    source = config.settings.source
    if source.spark_table is not None:
        print(f"source: spark table {source.spark_table} (engine: spark)")
    elif source.url is None:
        print(f"source.path: {location(config, source.path)}")
    else:
        print(f"source: {source.url} {'table ' + source.table if source.table else 'query'}")
    for target in config.settings.crm:
        print(f"crm {target.name}: {target.webhook or _table_target(target.url, target.table, config.path)}")
    return 0


def _table_target(url: str, table: str, config_file: Path) -> str:
    """Where a table target writes, a relative SQLite or DuckDB file resolved as the push
    resolves it (from the config's folder), so the file is found where it will be."""
    from reporter.database import parse_address

    try:
        return f"table {table} ({parse_address(url, config_file.parent).where})"
    except ReporterError:
        return f"{url} table {table}"


def add_config_helpers(commands) -> None:
    config_commands = group(commands, "config", "configuration helpers")
    schema = config_commands.add_parser(
        "schema", help="write JSON Schemas of reporter.yaml and personas.yaml for editors",
        description="Write reporter.schema.json and personas.schema.json, generated from the "
                    "models the files are validated with.")
    schema.add_argument("--out", type=Path, default=Path("config"),
                        help="folder to write them to (default config/)")
    schema.set_defaults(command=schema_command)
    reference = config_commands.add_parser(
        "reference", help="write the configuration reference (Markdown) from the settings models",
        description="Write docs/reference/configuration.md: every key of reporter.yaml with its "
                    "default, what it allows and what it does, from the settings models.")
    reference.add_argument("--out", type=Path, default=Path("docs/reference/configuration.md"),
                           help="file to write (default docs/reference/configuration.md)")
    reference.set_defaults(command=reference_command)


def schema_command(args: argparse.Namespace) -> int:
    for path in write_schemas(args.out):
        print(f"Wrote {path}")
    return 0


def reference_command(args: argparse.Namespace) -> int:
    print(f"Wrote {write_reference(args.out)}")
    return 0
