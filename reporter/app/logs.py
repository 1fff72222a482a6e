"""One logging setup for every command: the scheduler's lines, a run's stage and outcome lines
and the API's access lines all leave through it, each stamped with ISO 8601 time and offset.

On the console, lines up to INFO go to stdout beside what the command prints ("Brief ...:",
the paths), warnings and errors to stderr; `reporter serve` writes all of them to stderr. With a
file set, every line is appended to it too. `text` or `json` (one object per line, the API's
default). Settings come from `logging:` in reporter.yaml, and the environment variables
REPORTER_LOG_LEVEL, REPORTER_LOG_FILE and REPORTER_LOG_FORMAT override them, so they also work
for a command that reads no config. A user's one-line error (exit 2) stays a plain line on
stderr, for a person to read; `file_only` puts it in the log file as well.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from reporter.errors import ConfigError

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FORMATS = ("auto", "text", "json")  # auto: json for `reporter serve`, text for the rest
ENV = {"level": "REPORTER_LOG_LEVEL", "file": "REPORTER_LOG_FILE", "format": "REPORTER_LOG_FORMAT"}
OURS = ("reporter", "uvicorn")  # at the chosen level; other libraries speak from WARNING up
QUIET = ("weasyprint", "fontTools")  # SVG attributes and font subsetting: noise, errors only
outcomes = logging.getLogger("reporter.outcome")
_installed: list[logging.Handler] = []  # this setup's handlers, replaced by the next setup
_files: list[logging.Handler] = []  # the log file's, among them


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"
    file: Path | None = None
    format: str = "auto"


def say(text: str) -> None:
    """One outcome line of a command ("Email to Marketing: sent"): stamped, on stdout and in
    the log file."""
    outcomes.info(text)


def file_only(text: str, level: int = logging.ERROR) -> None:
    """A line the console already has in plain words (the exit-2 message), for the log file
    alone (nothing at all before the setup, never a second line on stderr)."""
    record = logging.getLogger("reporter").makeRecord("reporter", level, __file__, 0, text, None, None)
    for handler in _files:
        handler.handle(record)


def from_environment(configured: LogSettings, environ: Mapping[str, str] = os.environ) -> LogSettings:
    """The configured settings with the environment's REPORTER_LOG_* on top (an empty one is unset)."""
    chosen = configured
    level = environ.get(ENV["level"], "").strip().lower()
    if level:
        chosen = replace(chosen, level=_one_of(level, LEVELS, ENV["level"]))
    form = environ.get(ENV["format"], "").strip().lower()
    if form:
        chosen = replace(chosen, format=_one_of(form, FORMATS, ENV["format"]))
    file = environ.get(ENV["file"], "").strip()
    if file:
        chosen = replace(chosen, file=Path(file).expanduser())
    return chosen


def _one_of(value: str, allowed, variable: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{variable}={value!r} is not one of {', '.join(allowed)}; set one of them "
                          "or unset the variable")
    return value


def configured(config_path: Path | None) -> LogSettings:
    """`logging:` of reporter.yaml, read on its own before the command reads the whole file.
    A file that cannot be read or checked gives the defaults: the command's own reading then
    reports every problem in it, this section's too."""
    from pydantic import ValidationError

    from reporter.app.settings import LoggingConfig
    from reporter.yamlsource import read_yaml_mapping

    if config_path is None or not config_path.is_file():
        return LogSettings()
    try:
        document, _ = read_yaml_mapping(config_path)
        section = LoggingConfig.model_validate(document.get("logging") or {})
    except (ConfigError, ValidationError, OSError, AttributeError):
        return LogSettings()
    file = None
    if section.file:
        file = Path(section.file).expanduser()
        file = file if file.is_absolute() else config_path.resolve().parent / file
    return LogSettings(level=section.level, file=file, format=section.format)


def setup(settings: LogSettings, command_default: str = "text", one_stream: bool = False) -> None:
    """Install this setup in place of the one before (called once, at the start of a command).
    The console gets INFO and below on stdout, beside the command's printed lines, and
    warnings and errors on stderr; `one_stream` (a server) puts everything on stderr."""
    form = command_default if settings.format == "auto" else settings.format
    formatter = JsonLines() if form == "json" else TextLines()
    files = [_file_handler(settings.file)] if settings.file is not None else []
    handlers = [*_console(one_stream), *files]
    for handler in handlers:
        handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in _installed:  # handlers of others (a test runner's) stay
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    _installed[:], _files[:] = handlers, files
    level = LEVELS[settings.level]
    root.setLevel(max(level, logging.WARNING))
    for name in OURS:
        logging.getLogger(name).setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.captureWarnings(False)  # a setup before this one (in the same process) let go
    logging.captureWarnings(True)


def _console(one_stream: bool) -> list[logging.Handler]:
    if one_stream:
        return [logging.StreamHandler(sys.stderr)]
    lines = logging.StreamHandler(sys.stdout)
    lines.addFilter(lambda record: record.levelno < logging.WARNING)
    problems = logging.StreamHandler(sys.stderr)
    problems.setLevel(logging.WARNING)
    return [lines, problems]


def _file_handler(path: Path) -> logging.Handler:
    """Appended to, by every process that logs there; reopened when logrotate moves it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"log file {path}: cannot be opened for appending ({exc.strerror or exc}); "
                          f"fix logging.file in reporter.yaml or {ENV['file']}, or the folder's "
                          "permissions") from None


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def exception_fields(exc: BaseException) -> dict:
    """The exception's type and the traceback's frames, not its message (which may quote a
    customer's values: a KeyError names the ID it missed)."""
    kind = type(exc).__name__
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return {"exception": kind, "traceback": f"Traceback (most recent call last):\n{frames}{kind}"}


class TextLines(logging.Formatter):
    """`2026-12-07T07:00:03.120+01:00 INFO message`, a traceback below when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{now()} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonLines(logging.Formatter):
    """One JSON object per line: lines already written as JSON (the API's access lines) as they
    are, with the time added when they lack it; anything else wrapped."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if message.startswith("{") and not record.exc_info:
            return message if message.startswith('{"time"') else _stamped(message, record)
        line = {"time": now(), "level": record.levelname.lower(), "logger": record.name,
                "message": message.strip()}
        if record.exc_info and record.exc_info[1] is not None:  # e.g. uvicorn's own failures
            line |= exception_fields(record.exc_info[1])
        return json.dumps(line)


def _stamped(message: str, record: logging.LogRecord) -> str:
    try:
        document = json.loads(message)
    except ValueError:
        document = None
    stamp = {"time": now(), "level": record.levelname.lower()}
    if not isinstance(document, dict):
        return json.dumps({**stamp, "logger": record.name, "message": message})
    return json.dumps({**stamp, **document})
