"""`reporter serve`: bind (loopback only without tokens), say so in the log, serve until
SIGTERM or Ctrl-C."""

from __future__ import annotations

import json
import logging
import signal
import socket
import sys

import uvicorn

from reporter.app.api.app import create_app
from reporter.app.net import loopback
from reporter.app.settings import Config
from reporter.errors import ConfigError

log = logging.getLogger("reporter.api")


def check_bind(config: Config, host: str) -> None:
    """Without tokens the API answers anyone who can reach it: loopback only."""
    if not config.settings.api.tokens and not loopback(host):
        raise ConfigError(f"{config.path}: reporter serve binds {host} only with api.tokens set (bearer "
                          "tokens from environment variables); without them it binds 127.0.0.1")


def serve(config: Config, host: str | None = None, port: int | None = None) -> int:
    """Bind, say so in the log (the line a supervisor or a test waits for), then serve until
    SIGTERM or Ctrl-C, letting requests in flight finish."""
    settings = config.settings.api
    host = host or settings.host
    port = settings.port if port is None else port
    check_bind(config, host)
    app = create_app(config)  # tokens are read here: a variable that is not set stops the start
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); another program "
                          "may use the port: pass --port or set api.port") from None
    listener.listen(2048)  # the CLI set up logging: JSON lines on stderr unless told otherwise
    log.info(json.dumps({"event": "listening", "host": host, "port": listener.getsockname()[1],
                         "source": app.state.archive.source}))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, server_header=False,
                                           timeout_graceful_shutdown=30))
    # uvicorn stops gracefully, then raises the signal again once its own handler is gone:
    # this one makes that a clean exit (0), as a supervisor expects of a requested stop
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.run(sockets=[listener])
    return 0

