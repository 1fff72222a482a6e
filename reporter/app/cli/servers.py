"""The long-running commands: `reporter serve` (the API), `reporter app` (Streamlit) and
`reporter schedule`. FastAPI and APScheduler are imported by their own command only."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from reporter.app.cli.common import add_config, checked_config
from reporter.app.net import loopback
from reporter.errors import ConfigError

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard.py"


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
    serve.set_defaults(command=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    from reporter.app.api import serve  # FastAPI and uvicorn

    return serve(checked_config(args), args.host, args.port)


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
    app.set_defaults(command=app_command)


def app_command(args: argparse.Namespace) -> int:
    """Check the config, then become the Streamlit server (signals reach it directly)."""
    config = checked_config(args)
    if args.allow_edit and not loopback(args.host):
        raise ConfigError(f"reporter app --allow-edit binds a loopback address only (the app has no "
                          f"login, and {args.host} is not loopback): drop --allow-edit, or bind "
                          "127.0.0.1 and edit through an SSH tunnel")
    if not loopback(args.host):
        print(f"warning: the app has no login: anyone who reaches {args.host}:{args.port} sees "
              "customers' data; put it behind a proxy that authenticates", file=sys.stderr)
    env = {**os.environ, "REPORTER_APP_CONFIG": str(config.path),
           "REPORTER_APP_ALLOW_EDIT": "1" if args.allow_edit else "0"}
    command = [sys.executable, "-m", "streamlit", "run", str(DASHBOARD), "--server.address", args.host,
               "--server.port", str(args.port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--client.toolbarMode", "minimal"]
    sys.stdout.flush()
    os.execve(sys.executable, command, env)
    return 0  # not reached: the process is Streamlit's now


def add_schedule(commands) -> None:
    schedule = commands.add_parser(
        "schedule", help="run briefs on the cron schedule from reporter.yaml (foreground)",
        description="Run `reporter run` on the schedule in reporter.yaml until stopped "
                    "(SIGTERM or Ctrl-C). One scheduler per archive.")
    add_config(schedule)
    schedule.add_argument("--list", action="store_true", help="print the jobs and their next run times")
    schedule.set_defaults(command=schedule_command)


def schedule_command(args: argparse.Namespace) -> int:
    from reporter.app.schedule import list_jobs, serve  # APScheduler

    config = checked_config(args)
    if args.list:
        print(list_jobs(config), end="")
        return 0
    return serve(config)
