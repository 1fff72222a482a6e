"""The real command, end to end, as a user or the scheduler runs it."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pandas as pd
import pytest
from pypdf import PdfReader

from tests.conftest import archive_entries, run_cli, run_folders, run_main, write_config


def _one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {result.stderr}"
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.e2e
def test_run_on_generated_data(project):
    result = run_cli("run", "--config", str(project / "config" / "reporter.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "a successful run is quiet on stderr (cron mails stderr)"
    html_line = next(line for line in result.stdout.splitlines() if line.startswith("HTML: "))
    folder = (project / "output")
    runs = run_folders(folder)
    assert len(runs) == 1 and html_line.endswith(str(runs[0] / "brief.html"))
    record = json.loads((runs[0] / "run.json").read_text())
    assert record["data"]["rows_read"] == 600


def test_same_data_same_segments_new_run_id(project):
    config = str(project / "config" / "reporter.yaml")
    assert run_main("run", "--config", config).returncode == 0
    assert run_main("run", "--config", config).returncode == 0
    first, second = run_folders(project / "output")
    assert first.name != second.name
    a = pd.read_csv(first / "segments.csv")
    b = pd.read_csv(second / "segments.csv")
    assert set(a["run_id"]) == {first.name[11:]} and set(b["run_id"]) == {second.name[11:]}
    assert a.drop(columns="run_id").equals(b.drop(columns="run_id"))
    index = (project / "output" / "index.html").read_text()
    assert first.name in index and second.name in index, "both runs are listed"


@pytest.mark.e2e
def test_real_table_end_to_end(real_table, project):
    config = write_config(project / "config" / "reporter.yaml", source={"path": str(real_table)})
    result = run_main("run", "--config", str(config))  # test_run_on_generated_data starts one
    assert result.returncode == 0, result.stderr
    (run,) = run_folders(project / "output")
    record = json.loads((run / "run.json").read_text())
    assert record["data"]["rows_read"] == 2240
    imputed = [n for n in record["data_notes"]["notes"] if "missing incomes" in n["text"]]
    assert imputed and imputed[0]["count"] == 24
    assert 3 <= record["k"] <= 6
    assert len(record["personas"]) >= 2
    pages = PdfReader(io.BytesIO((run / "brief.pdf").read_bytes())).pages
    text = " ".join(" ".join(p.extract_text() for p in pages).split())  # PDF lines wrap anywhere
    for name in record["personas"]:
        assert name in text
    diagnostics = record["k_selection"]["diagnostics"]
    assert [d["k"] for d in diagnostics] == list(range(2, 11))
    assert "Choice of k" in text and "Stability" in text
    assert record["stability"]["mean_ari"] >= record["stability"]["worst_ari"] > 0
    assert [e["algorithm"] for e in record["comparison"]] == ["kmeans", "agglomerative", "gmm"]
    assert "Agglomerative (Ward)" in text and "Gaussian mixture" in text
    assert record["flags"]["Churn Risk"]["customers"] > 100
    assert "Premium" in record["personas"]
    again = run_main("run", "--config", str(config))
    assert again.returncode == 0, again.stderr
    first, second = run_folders(project / "output")
    same = [pd.read_csv(folder / "segments.csv", dtype=str).drop(columns="run_id")
            for folder in (first, second)]
    assert same[0].equals(same[1]), "the same data, the same segments, to the character"


def test_bad_config_exits_2_with_one_line_and_writes_nothing(project):
    config = project / "config" / "reporter.yaml"
    config.write_text(config.read_text().replace("k_max: 10", "k_max: many"))
    line = _one_line_error(run_main("run", "--config", str(config)))
    assert str(config) in line and "k_max" in line
    assert archive_entries(project / "output") == []


def test_bad_persona_rule_exits_2(project):
    personas = project / "config" / "personas.yaml"
    personas.write_text(personas.read_text().replace("recency > 60", "recency > lots"))
    line = _one_line_error(run_main("run", "--config", str(project / "config" / "reporter.yaml")))
    assert "personas.yaml" in line and 'persona "Churn Risk"' in line
    assert archive_entries(project / "output") == []


def test_data_error_exits_2_and_writes_nothing(project, sample_csv, tmp_path):
    broken = tmp_path / "customers-broken.csv"
    pd.read_csv(sample_csv).drop(columns=["Income", "Recency"]).to_csv(broken, index=False)
    line = _one_line_error(run_main("run", "--config", str(project / "config" / "reporter.yaml"),
                                   "--data", str(broken)))
    assert str(broken) in line and "Income" in line and "Recency" in line
    assert archive_entries(project / "output") == []


def test_as_of_before_the_data_is_refused(project):
    line = _one_line_error(run_main("run", "--config", str(project / "config" / "reporter.yaml"),
                                   "--as-of", "2001-01-01"))
    assert "--as-of 2001-01-01" in line


def test_missing_default_config_is_explained(tmp_path):
    line = _one_line_error(run_main("run", cwd=tmp_path))
    assert "config/reporter.yaml" in line and "--config" in line


def test_validate(project):
    good = run_main("validate", "--config", str(project / "config" / "reporter.yaml"))
    assert good.returncode == 0 and "OK" in good.stdout and "Steady Shoppers" in good.stdout
    assert "customer flags: Churn Risk" in good.stdout
    personas = project / "config" / "personas.yaml"
    text = personas.read_text().replace("total_spending <= 0.5x", "total_spend <= 0.5x")
    personas.write_text(text.replace('color: "#8e44ad"', 'color: "purplish"'))
    bad = run_main("validate", "--config", str(project / "config" / "reporter.yaml"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert lines[0] == "reporter: 2 problems found:"
    assert 'unknown colour "purplish"' in lines[1]
    assert 'unknown metric "total_spend"; did you mean "total_spending"?' in lines[2]
    assert all(str(personas) in line for line in lines[1:])
    assert not (project / "output").exists()


def test_validate_reports_a_password_variable_that_is_not_set(project):
    config = project / "config" / "reporter.yaml"
    config.write_text(config.read_text() + "smtp:\n  host: mail.example.com\n  from_address: "
                      "briefs@example.com\n  password_env: REPORTER_TEST_UNSET_PASSWORD\n")
    result = run_main("validate", "--config", str(config))
    assert result.returncode == 2
    assert "REPORTER_TEST_UNSET_PASSWORD, which is not set" in result.stderr


def test_validate_names_an_unset_variable_by_its_target_and_line(project, monkeypatch):
    """A CRM target was named by its 0-based index ("crm.0.secret_env") and the line came
    without the comma every other problem has."""
    monkeypatch.delenv("REPORTER_TEST_HOOK_SECRET", raising=False)
    config = project / "config" / "reporter.yaml"
    config.write_text(config.read_text().replace("crm: []\n", "crm:\n- name: shop\n  webhook: "
                                                 "https://shop.example.com/hook\n  secret_env: "
                                                 "REPORTER_TEST_HOOK_SECRET\n"))
    result = run_main("validate", "--config", str(config))
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "secret_env:" in text)
    assert result.returncode == 2
    assert (f'{config}: line {line}, crm "shop", secret_env: names the environment variable '
            "REPORTER_TEST_HOOK_SECRET, which is not set in this environment; export it") in result.stderr


def test_validate_names_an_unset_api_token_variable(project, monkeypatch):
    """`reporter serve` refused to start on it; `validate` said OK."""
    monkeypatch.delenv("REPORTER_TEST_API_TOKEN", raising=False)
    config = project / "config" / "reporter.yaml"
    config.write_text(config.read_text().replace(
        "  tokens: []\n", "  tokens:\n  - env: REPORTER_TEST_API_TOKEN\n    scopes: [read]\n"))
    result = run_main("validate", "--config", str(config))
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1)
                if "env: REPORTER_TEST_API_TOKEN" in text)
    assert result.returncode == 2
    assert (f"{config}: line {line}, api.tokens item 1, env: names the environment variable "
            "REPORTER_TEST_API_TOKEN, which is not set in this environment; export it") in result.stderr


@pytest.mark.parametrize("command", [["run", "--data"], ["validate", "--data"], ["assign", "--data"]])
def test_a_missing_data_file_given_by_data_is_said_of_data(project, tmp_path, command):
    """--data was given, so the fix is about its path, not source.path (assign had no message
    at all: a traceback)."""
    missing = tmp_path / "nope.csv"
    config = project / "config" / "reporter.yaml"
    line = _one_line_error(run_main(*command, str(missing), "--config", str(config)))
    assert line == f"reporter: error: {missing}: data file not found; check the path given to --data"


def test_send_test_refuses_a_to_that_is_not_an_address(project):
    config = project / "config" / "reporter.yaml"
    config.write_text(config.read_text() + "smtp:\n  host: 127.0.0.1\n  port: 9\n  security: none\n"
                      "  from_address: briefs@example.com\n")
    line = _one_line_error(run_main("send", "--config", str(config), "--test", "--to", "not-an-address"))
    assert line == ("reporter: error: --to 'not-an-address' is not an email address: it has no @; "
                    "write it as name@example.com")


def test_replay_names_the_rules_path_it_was_given(archived, tmp_path):
    missing = tmp_path / "nope.yaml"
    line = _one_line_error(run_main("personas", "replay", "--config", str(archived.config),
                                    "--rules", str(missing)))
    assert f"{missing}: file not found; check the path given to --rules" in line
    assert "personas_file" not in line


def test_personas_preview_explains_without_archiving(project):
    result = run_main("personas", "preview", "--config", str(project / "config" / "reporter.yaml"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Segment 0:" in out and "threshold" in out
    assert "MATCH" in out or "fallback Steady Shoppers" in out
    assert "Customer flag Churn Risk:" in out
    assert not (project / "output").exists()


def test_config_schema_is_current(tmp_path):
    from tests.conftest import REPO_ROOT

    assert run_main("config", "schema", "--out", str(tmp_path)).returncode == 0
    for name in ("reporter.schema.json", "personas.schema.json"):
        committed = (REPO_ROOT / "config" / name).read_text()
        assert (tmp_path / name).read_text() == committed, f"run `reporter config schema` ({name})"


def test_sample_command_is_deterministic(tmp_path):
    for name in ("a.csv", "b.csv"):
        written = run_main("sample", "--rows", "120", "--seed", "5", "--out", str(tmp_path / name))
        assert written.returncode == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert len((tmp_path / "a.csv").read_text().splitlines()) == 121


@pytest.mark.parametrize("command", [[], ["run"], ["sample"], ["validate"], ["personas", "preview"],
                                     ["config", "schema"]])
def test_help(command):
    result = run_main(*command, "--help")
    assert result.returncode == 0 and "usage: reporter" in result.stdout


@pytest.mark.parametrize("command", [("send",), ("push",), ("release", "latest"), ("preview",),
                                     ("rerender", "latest"), ("personas", "replay"),
                                     ("archive", "list")])
def test_every_command_checks_the_rules_as_run_does(project, command):
    """Issue 32: send, push and replay loaded reporter.yaml without the rule check, so a broken
    rule surfaced only at the next run; every command now reads the configuration one way."""
    personas = project / "config" / "personas.yaml"
    personas.write_text(personas.read_text().replace("recency > 60", "recency > lots"))
    line = _one_line_error(run_main(*command, "--config", str(project / "config" / "reporter.yaml")))
    assert "personas.yaml" in line and 'persona "Churn Risk"' in line


def test_reporter_help_lists_each_command_with_the_summary_its_module_declares():
    """`reporter --help` names every command without importing them; each summary is the one
    the command's own module gives its parser, so the two cannot drift apart."""
    import argparse

    from reporter.app.cli.entry import COMMANDS, _parser

    def summaries(parser):
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return {action.dest: action.help for action in sub._choices_actions}

    assert summaries(_parser("all")) == summaries(_parser("")) == {n: s for n, (_, _, s) in COMMANDS.items()}


def test_reporter_help_imports_no_stage():
    """Start-up stays light: the top-level help and a command's parser for another command do
    not import pandas or the charts (a second or more on this machine)."""
    code = ("import sys; from reporter.app.cli.entry import _parser; _parser('').format_help(); "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'sklearn', 'reporter.brief.view') "
            "if m in sys.modules))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", found.stdout
