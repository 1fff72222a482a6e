"""The app for marketing: every page through Streamlit's AppTest, its figures against the run
records, the rule workshop's checks, replay and save (with and without --allow-edit); then the
running app in a real headless Chromium at 1280 and 390 px."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from reporter.app.pipeline import run
from reporter.app.settings import load_config
from tests.conftest import QUICK, REPO_ROOT, write_config
from tests.test_browser import CHROMIUM, LAUNCH_ARGS

SCRIPT = str(REPO_ROOT / "reporter" / "app" / "dashboard.py")


@pytest.fixture(scope="module")
def archive(tmp_path_factory, sample_csv):
    """Two delivered runs of the sample (the second a week on) and one held run."""
    from reporter.data import sample

    root = tmp_path_factory.mktemp("app")
    (root / "config").mkdir()
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", root / "config" / "personas.yaml")
    (root / "data").mkdir()  # the source: both weeks' exports (the workshop replays its files only)
    shutil.copy(sample_csv, root / "data" / "week1.csv")
    config = write_config(root / "config" / "reporter.yaml",
                          source={"path": str(root / "data" / "week*.csv"), "name": "smartcart"},
                          **QUICK, teams=[])
    first = run(load_config(config))
    sample.write(sample.age(pd.read_csv(sample_csv), 7, seed=3), root / "data" / "week2.csv")
    second = run(load_config(config))  # the newest export the glob finds
    assert not first.checks.held and not second.checks.held, second.checks.holding
    return root, config, first, second


def app(config: Path, monkeypatch, allow_edit: bool = False, page: str = "This week") -> AppTest:
    monkeypatch.setenv("REPORTER_APP_CONFIG", str(config))
    monkeypatch.setenv("REPORTER_APP_ALLOW_EDIT", "1" if allow_edit else "0")
    tested = AppTest.from_file(SCRIPT, default_timeout=120).run()
    if page != "This week":
        tested.sidebar.radio[0].set_value(page).run()
    assert not tested.exception, tested.exception
    return tested


def labelled(widgets, label: str):
    return next(widget for widget in widgets if widget.label == label)


def test_this_week_shows_the_delivered_brief_s_figures(archive, monkeypatch):
    _, config, _, second = archive
    page = app(config, monkeypatch)
    metrics = {m.label: m.value for m in page.metric}
    record = second.brief
    assert metrics["Customers"] == f"{record.customers:,}"
    assert metrics["Personas"] == str(len(record.personas)) and metrics["Run"] == second.run_id
    table = page.dataframe[-1].value
    assert list(table["Persona"]) == [p.name for p in record.personas]
    assert list(table["Customers"]) == [f"{p.size:,}" for p in record.personas]
    assert metrics["New customers"] == f"{second.brief.changes.new_customers:,}"
    assert [b.label for b in page.get("download_button")] == ["Download brief.pdf", "Download brief.html"]


def test_this_week_shows_what_the_earlier_lists_did(archive, monkeypatch):
    """Issue 35: the second brief measured the first one's lists; This week shows its
    sentences and figures as run.json keeps them, and who this week's lists hold back."""
    from reporter.history.record import read_record

    _, config, first, second = archive  # before the archive test adds a newer, held run
    record = read_record(second.folder)
    assert {e.run_id for e in record.measured} == {first.run_id} and record.measured
    page = app(config, monkeypatch)
    assert "What earlier lists did" in [h.value for h in page.subheader]
    shown = "\n".join(m.value for m in page.markdown)
    assert all(effect.sentence in shown for effect in record.measured)
    (table,) = page.table
    rows = table.value
    assert len(rows) == sum(len(e.comparisons) for e in record.measured)
    bought = record.measured[0].comparisons[0]
    assert rows.iloc[0]["Contacted"] == f"{bought.contacted_value:.0%} ({bought.contacted:,})"
    captions = " ".join(c.value for c in page.caption)
    assert all(f"{g.name} {g.control:,} of {g.listed:,}" in captions for g in record.control.lists)


def test_personas_compare_and_list_customers(archive, monkeypatch):
    _, config, _, second = archive
    page = app(config, monkeypatch, page="Personas")
    customers = pd.read_csv(second.folder / "customers.csv")
    persona = page.selectbox[0].value
    titles = [h.value for h in page.subheader]  # the brief's own chart titles, word for word
    assert second.brief.channel_mix.title in titles and second.brief.campaigns.title in titles
    side = page.dataframe[0].value
    assert side.loc["Income (median)", persona] == customers.loc[customers["persona"] == persona,
                                                                   "income"].median()
    assert side.loc["Income (median)", "all customers"] == customers["income"].median()
    listed = page.dataframe[1].value
    assert len(listed) == min(500, (customers["persona"] == persona).sum())
    assert f"{(customers['persona'] == persona).sum():,} customers" in [c.value for c in page.caption]
    labelled(page.selectbox, "In persona").set_value("any").run()
    labelled(page.selectbox, "With flag").set_value("churn_risk").run()
    flagged = customers[customers["flag_churn_risk"] == 1]
    assert f"{len(flagged):,} customers" in [c.value for c in page.caption]
    assert set(page.dataframe[1].value["Customer ID"]) <= set(flagged["ID"])
    assert not [c for c in page.dataframe[1].value.columns if "_" in c], "plain column names"
    assert {"Churn Risk", "Tenure (days)"} <= set(page.dataframe[1].value.columns)


def test_customer_lookup_shows_every_run_and_the_persona_average(archive, monkeypatch):
    _, config, first, second = archive
    customers = pd.read_csv(second.folder / "customers.csv")
    known = int(customers["ID"].iloc[0])
    page = app(config, monkeypatch, page="Customer lookup")
    page.text_input[0].input(str(known)).run()
    history = page.dataframe[0].value
    order = list(history["run_id"])  # newest first (the archive test may add a released run)
    assert order[0] == second.run_id and first.run_id in order
    row = customers.iloc[0]
    assert history["persona"].iloc[0] == row["persona"]
    against = page.dataframe[1].value
    assert against.loc["Income", "this customer"] == row["income"]
    page.text_input[0].input("abc").run()
    assert "whole number" in page.error[0].value
    page.text_input[0].input("999999999").run()
    assert "in no run" in page.warning[0].value


def test_customer_lookup_shows_the_customer_s_predictions_in_plain_words(archive, monkeypatch,
                                                                         tmp_path):
    """Issue 34: p_response was in customers.csv but not in the lookup. A prediction added to
    PREDICTIONS is shown too (here a dummy column added to the newest run's customers.csv)."""
    from reporter.predict import columns

    _, config, _, second = archive
    copy = tmp_path / "copy"
    shutil.copytree(config.parent.parent, copy)
    folder = load_config(copy / "config" / "reporter.yaml").output_dir / second.folder.name
    customers = pd.read_csv(folder / "customers.csv")
    customers.assign(p_dummy=customers["ID"] * 0.5).to_csv(folder / "customers.csv", index=False)
    monkeypatch.setattr(columns, "PREDICTIONS",
                        (*columns.PREDICTIONS, columns.Prediction("p_dummy", "Dummy orders", "count")))
    row = customers.iloc[3]
    page = app(copy / "config" / "reporter.yaml", monkeypatch, page="Customer lookup")
    page.text_input[0].input(str(int(row["ID"]))).run()
    assert not page.exception and "What we expect of them" in [h.value for h in page.subheader]
    predicted = page.dataframe[2].value
    mates = customers.loc[customers["persona"] == row["persona"], "p_response"]
    assert predicted.loc["Chance to answer next campaign"].tolist() == \
        [f"{row['p_response']:.0%}", f"{mates.mean():.0%}", f"{customers['p_response'].mean():.0%}"]
    assert predicted.loc["Dummy orders", "this customer"] == f"{row['ID'] * 0.5:.1f}"


def test_the_rule_workshop_checks_replays_and_saves_only_when_allowed(archive, monkeypatch):
    root, config, _, second = archive
    original = (root / "config" / "personas.yaml").read_text()
    page = app(config, monkeypatch, page="Rule workshop")
    page.text_area[0].input(original.replace("recency > 60", "recncy > 60")).run()
    assert re.search(r'line \d+, persona "Churn Risk": unknown metric "recncy"; did you mean "recency"',
                     page.error[0].value)
    edited = original.replace("total_spending >= 1.5x population", "total_spending >= 1.2x population")
    page.text_area[0].input(edited).run()
    moved = page.success[0].value
    sizes = page.dataframe[-1].value
    assert sizes["before"].sum() == sizes["after"].sum() == second.brief.customers
    assert re.match(r"Valid\. [\d,]+ customers would change persona\.", moved)
    assert "Read-only" in page.info[0].value and not page.button
    page.text_area[0].input(original.replace("name: Low Engagement", "name: Light Buyers")).run()
    assert re.fullmatch(r"Valid\. 0 customers would change persona; [\d,]+ would keep theirs under a "
                        r"new name\.", page.success[0].value), "a rename moves nobody (issue 31)"
    assert any(re.fullmatch(r"Low Engagement is now called Light Buyers: a new name only, the same "
                            r"customers \([\d,]+ now\)\.", m.value) for m in page.markdown)

    editor = app(config, monkeypatch, allow_edit=True, page="Rule workshop")
    editor.text_area[0].input(edited).run()
    editor.button[0].click().run()
    assert (root / "config" / "personas.yaml").read_text() == edited
    assert (root / "config" / "personas.yaml.previous").read_text() == original
    assert "+        - total_spending >= 1.2x population" in editor.code[0].value
    (root / "config" / "personas.yaml").write_text(original)


def test_the_archive_lists_runs_and_releases_a_held_brief_only_when_allowed(archive, monkeypatch,
                                                                           sample_csv):
    _, config, first, second = archive
    stale = Path(shutil.copy(sample_csv, config.parent / "stale.csv"))
    month_ago = time.time() - 30 * 86400
    os.utime(stale, (month_ago, month_ago))
    held = run(load_config(config), data=stale)  # a month-old export: the freshness check holds it
    assert held.checks.held
    page = app(config, monkeypatch, page="Archive")
    runs = page.dataframe[0].value
    assert set(runs["run"]) == {first.run_id, second.run_id, held.run_id}
    assert runs.set_index("run").at[held.run_id, "status"] == "held"
    notes = [w.value for w in page.warning if held.run_id in w.value]  # its data is older than
    # the second week's, which was sent: releasing it would send older figures, and it says so
    behind = f"Run {second.run_id}, of newer customers (as of {second.brief.as_of:%Y-%m-%d}), was sent"
    assert len(notes) == 1 and behind in notes[0], notes
    assert any("Read-only" in i.value for i in page.info) and not page.button
    editor = app(config, monkeypatch, allow_edit=True, page="Archive")
    assert editor.button[0].disabled
    editor.checkbox[0].check().run()
    editor.button[0].click().run()
    assert f"Released run {held.run_id}" in editor.success[0].value
    assert load_config(config) and "released" in (held.folder / "run.json").read_text()


@pytest.fixture(scope="module")
def app_port(archive):
    """`reporter app` as a user starts it, over the module's archive, for both widths' tests
    (one Streamlit server, not one per test): its port, once Streamlit says it listens."""
    _, config, *_ = archive
    from tests.smtp_server import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "reporter", "app", "--config", str(config),
                                "--port", str(port)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()
    lines: list[str] = []

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if "You can now view your Streamlit app" in line or f":{port}" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(timeout=120), "".join(lines)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for both widths' tests, as tests/test_browser.py has: each test
    opens its own page, which is a new browser context (no cookies, storage or cache shared),
    so a test sees the app as a fresh browser would, without paying a browser start-up."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Chromium is not installed")
@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_loads_in_chromium_without_errors(app_port, chromium, tmp_path, width):
    port = app_port
    page = chromium.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    for name in ("This week", "Personas", "Customer lookup", "Rule workshop", "Archive"):
        page.goto(f"http://127.0.0.1:{port}/?page={name.replace(' ', '+')}",
                  wait_until="networkidle")
        page.get_by_role("heading", name=re.compile(name.split()[0])).first.wait_for(timeout=60_000)
        page.wait_for_load_state("networkidle")
        assert page.get_by_test_id("stException").count() == 0, name
        page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
    page.close()
    assert not errors, errors


def test_the_workshop_refuses_a_40000_character_rule_before_parsing_it(archive, monkeypatch):
    """A 40,000-character rule cost 7.8 s per keystroke: the rule parser never sees it now."""
    from reporter.app import explore

    root, config, *_ = archive
    parsed: list[str] = []
    real = explore.read_rulebook
    monkeypatch.setattr(explore, "read_rulebook", lambda path: parsed.append(path.read_text()) or real(path))
    page = app(config, monkeypatch, page="Rule workshop")
    parsed.clear()  # the page's first view checks the saved file, which is fine
    original = (root / "config" / "personas.yaml").read_text()
    long_rule = "income >= 1" + " " * 40_000
    page.text_area[0].input(original.replace("recency > 60", long_rule, 1)).run()
    assert not page.exception
    (message,) = [e.value for e in page.error]
    assert re.fullmatch(r"personas\.yaml: line \d+ is 40,0\d\d characters long; the workshop checks lines "
                        r"of up to 2,000: split or shorten it .*", message), message
    assert parsed == [] and not page.success
    page.text_area[0].input(original + "#" * 100_001).run()
    assert "the workshop checks up to 100,000" in page.error[0].value and parsed == []


@pytest.mark.server
def test_app_refuses_allow_edit_on_an_address_others_reach(archive):
    """`reporter app --host 0.0.0.0 --allow-edit` only warned, then served an editable app (and
    imported FastAPI to check the address)."""
    config = archive[1]
    try:
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "reporter", "app", "--config",
                                 str(config), "--host", "0.0.0.0", "--allow-edit", "--port", "0"],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("reporter app started instead of refusing")
    assert result.returncode == 2
    imported = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert imported and not any(" fastapi" in line for line in imported)
    (line,) = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert line.startswith("reporter: error: reporter app --allow-edit binds a loopback address only")
    assert "drop --allow-edit, or bind 127.0.0.1" in line


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("::ffff:127.0.0.1", True), ("127.example.com", False), ("127.0.0.1.nip.io.invalid", False),
    ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("", False), ("no-such-host.invalid", False),
])
def test_loopback_parses_addresses_and_resolves_names(host, expected):
    """`loopback` was a string-prefix test: 127.example.com passed."""
    from reporter.app.net import loopback

    assert loopback(host) is expected


def test_every_figure_this_week_shows_is_the_brief_s(archive, monkeypatch):
    """Issue 33: the app showed medians unlabelled (77927 beside the brief's $78,258): This
    week now shows brief.json's figures in the brief's units, labels and order."""
    from reporter.app.explore import newest_run
    from reporter.brief.view import read_brief

    _, config, _, _ = archive
    brief = read_brief(newest_run(load_config(config)).folder)  # the archive test may add one
    page = app(config, monkeypatch)
    table = page.dataframe[-1].value
    period = brief.units.spend_period
    for row, persona in zip(table.to_dict("records"), brief.personas, strict=True):
        assert row["Persona"] == persona.name and row["Customers"] == f"{persona.size:,}"
        assert row["Share"] == f"{persona.share:.0%}"
        assert row["Share of spend"] == f"{persona.spend_share:.0%}"
        assert row["Income (a year)"] == f"${persona.figures['income']:,.0f}"
        assert row[f"Spend ({period})"] == f"${persona.figures['total_spending']:,.0f}"
        assert row[f"Purchases ({period})"] == f"{persona.figures['total_purchases']:,.1f}"
        if "recency" in brief.this_week.flat_columns:
            assert "Days since last purchase" not in row
        else:
            assert row["Days since last purchase"] == f"{persona.figures['recency']:,.0f}"
    shown = "\n".join(m.value for m in page.markdown)
    for action in brief.this_week.actions:
        assert action.text in shown and str(action.count) in action.text
    calls = page.dataframe[0].value
    assert [str(c.customer_id) for c in brief.this_week.call_first] == \
        [str(i).split(" ")[0] for i in calls["Customer ID"]]


def test_this_week_shows_a_held_brief_as_held_and_lookup_finds_any_id(archive, monkeypatch,
                                                                      tmp_path):
    """Issue 33: 'This week' kept showing the delivered brief with no hint that the newer
    one was held."""
    _, config, _, _ = archive
    copy = tmp_path / "copy"
    shutil.copytree(config.parent.parent, copy)
    copied = copy / "config" / "reporter.yaml"
    output = load_config(copied).output_dir
    newest = sorted(p for p in output.iterdir() if (p / "run.json").is_file())[-1]
    record = (newest / "run.json").read_text()
    import json

    document = json.loads(record)
    document["status"], document["held_because"] = "held", ["the data file is a month old"]
    (newest / "run.json").write_text(json.dumps(document))
    page = app(copied, monkeypatch)
    assert page.header[0].value.startswith("This week")
    (error,) = page.error
    assert f"run {document['run_id']}) is held" in error.value
    assert "the data file is a month old" in error.value and "reporter release" in error.value


def test_lookup_finds_a_merged_customer_under_any_of_their_ids(archive, tmp_path):
    from reporter.app import explore
    from reporter.history.catalogue import read_run

    _, _, _, second = archive
    folder = tmp_path / second.folder.name
    shutil.copytree(second.folder, folder)
    customers = pd.read_csv(folder / "customers.csv", dtype={"other_ids": str}, keep_default_na=False)
    main_id = int(customers["ID"].iloc[0])
    other = int(customers["ID"].max()) + 1000  # the same person under a second ID, merged
    customers.loc[0, "other_ids"] = str(other)
    customers.to_csv(folder / "customers.csv", index=False)
    (seen,) = explore.customer_history([read_run(folder)], other)
    assert seen.customer == f"{main_id} (also {other})"
    assert seen.persona == customers.loc[0, "persona"]
    assert explore.customer_history([read_run(folder)], main_id)[0].customer == str(main_id)

