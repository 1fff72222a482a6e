"""Getting started and checking: `reporter sample`, `init`, `validate` and `config schema|reference`."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from reporter.app.cli.commands import LATEST
from reporter.app.cli.common import checked_config
from reporter.app.params import location
from reporter.app.reference import write_reference
from reporter.app.settings import check_secrets, owner_warnings, write_schemas
from reporter.app.starter import write_starter
from reporter.data import sample
from reporter.errors import ConfigError
from reporter.history.measure import contacted_ids
from reporter.personas.rulebook import compile_rulebook


def sample_command(args: argparse.Namespace) -> int:
    if (args.contacted is not None or args.effect) and args.age is None:
        raise ConfigError("--contacted and --effect age a table: give it with --age CSV")
    if args.effect and args.contacted is None:
        raise ConfigError("--effect needs --contacted RUN_FOLDER: the brief whose lists were contacted")
    if args.age is not None:
        contacted = contacted_ids(args.contacted) if args.contacted is not None else None
        table = sample.age(pd.read_csv(args.age), args.days, args.seed, contacted=contacted,
                           effect=args.effect)
    else:
        kwargs = {"as_of": args.as_of} if args.as_of else {}
        table = sample.generate(args.rows, args.seed, **kwargs)
        if args.lifetime is not None:
            table = sample.with_lifetime(table, args.lifetime, args.seed + 1)
    path = sample.write(table, args.out)
    print(f"Wrote {len(table):,} customers to {path}")
    return 0


def init_command(args: argparse.Namespace) -> int:
    written = write_starter(args.folder, force=args.force)
    for path in written:
        print(f"Wrote {path}")
    config = args.folder / "reporter.yaml"
    print(f"Next: put the customer export where source.path in {config} points (or edit it), "
          f"then run `reporter validate --config {config}` and `reporter run --config {config}`.")
    return 0


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
    if summary:
        print(f"data: {summary}")
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


def schema_command(args: argparse.Namespace) -> int:
    for path in write_schemas(args.out):
        print(f"Wrote {path}")
    return 0


def reference_command(args: argparse.Namespace) -> int:
    print(f"Wrote {write_reference(args.out)}")
    return 0
