"""The long-running commands: `reporter serve` (the API), `reporter app` (Streamlit) and
`reporter schedule`. FastAPI and APScheduler are imported by their own command only."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from reporter.app.cli.common import checked_config
from reporter.app.net import loopback
from reporter.errors import ConfigError

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard.py"


def serve_command(args: argparse.Namespace) -> int:
    from reporter.app.api import serve  # FastAPI and uvicorn

    return serve(checked_config(args), args.host, args.port)


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


def schedule_command(args: argparse.Namespace) -> int:
    from reporter.app.schedule import list_jobs, serve  # APScheduler

    config = checked_config(args)
    if args.list:
        print(list_jobs(config), end="")
        return 0
    return serve(config)
