"""One logging setup for every command: real `reporter` processes write stamped lines to the
file and the level reporter.yaml or REPORTER_LOG_* set, JSON when asked, and the one-line
error of a bad input stays one plain line on stderr."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from reporter.app.settings import load_config
from reporter.brief.view import BRIEF_FILE
from reporter.history.record import FORMAT_VERSION as RUN_FORMAT
from reporter.model.artefact import FORMAT_VERSION as MODEL_FORMAT
from tests.conftest import REPO_ROOT, run_main

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) (DEBUG|INFO|WARNING|ERROR) (.*)$")


def reporter(*args: str, cwd: Path = REPO_ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh interpreter, with these REPORTER_LOG_* (or other) variables."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REPORTER_LOG_")}
    return subprocess.run([sys.executable, "-m", "reporter", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300, env={**environment, **env})


def stamped(line: str) -> re.Match:
    found = STAMP.match(line)
    assert found, f"not a stamped log line: {line!r}"
    assert datetime.fromisoformat(found[1]).utcoffset() is not None
    return found


@pytest.fixture
def restored_logging():
    """For tests that call the setup in this process: the test runner's logging comes back."""
    from reporter.app import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in logs.OURS}
    yield
    for handler in logs._installed:
        root.removeHandler(handler)
        handler.close()
    logs._installed.clear()
    logs._files.clear()
    logging.captureWarnings(False)
    root.handlers[:], level, levels = saved
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


def test_a_run_writes_stamped_lines_to_the_log_file_and_json_on_request(project, tmp_path):
    """The runs' lines had no time (the scheduler's had), and there was no log file: now the
    file named by REPORTER_LOG_FILE gets every line, each with ISO 8601 time and offset; with
    REPORTER_LOG_FORMAT=json every line of it is one JSON object."""
    config = str(project / "config" / "reporter.yaml")
    text_log = tmp_path / "logs" / "text.log"
    done = reporter("run", "--config", config, "--dry-run", "--verbose", REPORTER_LOG_FILE=str(text_log))
    assert done.returncode == 0, done.stderr
    lines = text_log.read_text(encoding="utf-8").splitlines()
    messages = [stamped(line)[3] for line in lines]
    assert "stage load started" in messages and any(m.startswith("stage pdf took ") for m in messages)
    console = [line for line in done.stdout.splitlines() if " stage " in line]
    assert console and all(stamped(line) for line in console)  # the console's lines too

    json_log = tmp_path / "logs" / "json.log"
    done = reporter("run", "--config", config, "--dry-run", REPORTER_LOG_FILE=str(json_log),
                    REPORTER_LOG_FORMAT="json", REPORTER_LOG_LEVEL="debug")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in json_log.read_text(encoding="utf-8").splitlines()]
    assert records and all(isinstance(r, dict) and datetime.fromisoformat(r["time"]).utcoffset()
                           is not None for r in records)
    started = [r for r in records if r.get("message") == "stage load started"]
    assert started and started[0]["level"] == "debug"  # without -v only debug shows each start


def test_the_level_setting_filters_what_is_written(tmp_path, restored_logging):
    from reporter.app import logs

    log_file = tmp_path / "briefs.log"
    logs.setup(logs.LogSettings(level="warning", file=log_file))
    progress = logging.getLogger("reporter.progress")
    progress.info("stage load took 0.1 s")
    progress.warning("a warning")
    assert [stamped(line)[3] for line in log_file.read_text().splitlines()] == ["a warning"]
    logs.setup(logs.LogSettings(level="debug", file=log_file))
    progress.debug("stage clean took 0.0 s")
    logging.getLogger("matplotlib").info("a library's chatter")  # libraries speak from WARNING up
    assert [stamped(line)[3] for line in log_file.read_text().splitlines()] == [
        "a warning", "stage clean took 0.0 s"]


def test_the_scheduler_s_lines_carry_one_stamp(project, tmp_path, restored_logging):
    """They were stamped by hand; through the setup each carries exactly one stamp."""
    from reporter.app import logs, schedule

    log_file = tmp_path / "scheduler.log"
    logs.setup(logs.LogSettings(file=log_file))
    schedule._finish_due(load_config(project / "config" / "reporter.yaml"))
    (line,) = log_file.read_text().splitlines()
    assert stamped(line)[3] == "catch-up at start-up: nothing was due"


def test_reporter_yaml_sets_the_log_file_and_the_exit_2_line_stays_one_plain_line(project):
    """`logging:` in reporter.yaml (its file relative to reporter.yaml); a user's error is one
    unstamped line on stderr, as before, and a stamped line in the log file."""
    path = project / "config" / "reporter.yaml"
    document = yaml.safe_load(path.read_text())
    document["logging"] = {"level": "info", "file": "../logs/briefs.log", "format": "text"}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    done = reporter("archive", "show", "000000-0000", "--config", str(path), cwd=project)
    assert done.returncode == 2
    (message,) = done.stderr.splitlines()
    assert message.startswith("reporter: error: ") and "no brief in the archive yet" in message
    (line,) = (project / "logs" / "briefs.log").read_text().splitlines()
    assert stamped(line).groups()[1:] == ("ERROR", message)


@pytest.mark.parametrize(("variable", "value", "wanted"), [
    ("REPORTER_LOG_LEVEL", "loud", "REPORTER_LOG_LEVEL='loud' is not one of debug, info, warning, error"),
    ("REPORTER_LOG_FORMAT", "xml", "REPORTER_LOG_FORMAT='xml' is not one of auto, text, json"),
])
def test_a_bad_logging_variable_is_one_line_and_exit_2(tmp_path, variable, value, wanted):
    done = reporter("config", "schema", "--out", str(tmp_path / "schemas"), **{variable: value})
    assert done.returncode == 2 and done.stdout == "" and not (tmp_path / "schemas").exists()
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"reporter: error: {wanted}")


def test_a_log_file_that_cannot_be_opened_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = reporter("config", "schema", "--out", str(tmp_path / "schemas"),
                    REPORTER_LOG_FILE=str(blocker / "briefs.log"))
    assert done.returncode == 2 and not (tmp_path / "schemas").exists()
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"reporter: error: log file {blocker / 'briefs.log'}: cannot be opened")


def test_json_lines_stamp_messages_already_written_as_json(restored_logging, tmp_path):
    """The API's 'listening' and 'model loaded' lines had no time; access lines keep theirs."""
    from reporter.app import logs

    log_file = tmp_path / "api.log"
    logs.setup(logs.LogSettings(format="json", file=log_file))
    api = logging.getLogger("reporter.api")
    api.info(json.dumps({"event": "listening", "port": 8000}))
    api.info(json.dumps({"time": "2026-12-07T07:00:00.000+01:00", "route": "/health/live"}))
    listening, access = (json.loads(line) for line in log_file.read_text().splitlines())
    assert listening["event"] == "listening" and listening["level"] == "info"
    assert datetime.fromisoformat(listening["time"]).utcoffset() is not None
    assert access == {"time": "2026-12-07T07:00:00.000+01:00", "route": "/health/live"}


def test_version_names_the_package_and_the_archive_formats():
    """--version printed 0.1.0 while the README called 0.1 the old archive format: now the
    package version of pyproject.toml and each archive file's format, written and read. What
    `--version` prints, so in this process (run_main): the same parser and the same text."""
    done = run_main("--version")
    assert done.returncode == 0, done.stderr
    package = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    lines = done.stdout.splitlines()
    assert lines[0] == f"reporter {package}"
    assert any(line.split()[:4] == ["run.json", "writes", "format", f"{RUN_FORMAT};"] for line in lines)
    assert any(line.split()[:4] == ["model.json", "writes", "format", f"{MODEL_FORMAT};"] for line in lines)
    assert any(line.split()[:4] == [BRIEF_FILE, "writes", "format", "1;"] for line in lines)


def test_the_changelog_lists_this_release_with_its_archive_formats():
    package = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    section = changelog.split(f"## [{package}]", 1)[1].split("\n## [", 1)[0]
    assert f"run.json format {RUN_FORMAT}" in section and f"model.json format {MODEL_FORMAT}" in section
