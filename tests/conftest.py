"""Shared fixtures: generated tables, a config in a temporary folder, the real seed table."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reporter.data import sample
from tests.support import balance, memo
from tests.support.archive import Published, publish
from tests.support.once import shared_folder
from tests.support.project import QUICK, REPO_ROOT, new_project, write_config

__all__ = ["QUICK", "REPO_ROOT", "new_project", "write_config"]  # where other tests import them

REAL_TABLE_NAME = "smartcart_customers.csv"


def _real_table_candidates() -> list[Path]:
    candidates = []
    if os.environ.get("REPORTER_SHARED_DATA"):
        candidates.append(Path(os.environ["REPORTER_SHARED_DATA"]) / REAL_TABLE_NAME)
    candidates.append(REPO_ROOT.parent / "shared" / "data" / REAL_TABLE_NAME)
    return candidates


if not os.environ.get("REPORTER_TESTS_NO_MEMO"):  # set it to draw every chart and fit every model
    memo.install()  # each distinct chart and fit made once per worker (tests/support/memo.py)

FIXTURE_MARKS = {"postgres": "postgres", "spark": "spark"}  # see the markers in pyproject.toml


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--write-durations", metavar="PATH", type=Path, default=None,
                     help="merge each test's seconds (wall; on an idle machine) into PATH "
                          "(tests/durations.json is what `make test` orders its work by: "
                          "tests/support/balance.py)")


def pytest_configure(config: pytest.Config) -> None:
    """The work queue in the order tests/support/balance.py gives it (costliest unit first),
    not xdist's tests-per-unit order."""
    if getattr(config.option, "dist", "no") == "loadgroup":
        config.option.loadscopereorder = False
    if config.getoption("write_durations"):
        config.pluginmanager.register(balance.DurationWriter(config.getoption("write_durations")))


def pytest_itemcollected(item: pytest.Item) -> None:
    """A test that uses PostgreSQL or Spark is marked so by its fixture (`make test-fast`
    skips it), so a new test needs no decorator for it; and grouped, so that under `make test`
    (`--dist loadgroup`) one worker starts the JVM, or the cluster, instead of each worker.
    Done as each test is collected: xdist turns the groups into test IDs in its
    pytest_collection_modifyitems, which ran before this conftest's, so groups set there were
    never seen."""
    resources = [mark for fixture, mark in FIXTURE_MARKS.items()
                 if fixture in getattr(item, "fixturenames", ())]
    for mark in resources:
        item.add_marker(mark)
        item.add_marker(pytest.mark.xdist_group(mark))
    if not resources and _uses_a_module_fixture(item):
        item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """xdist's loadgroup sends a test to its group's worker by a "@group" suffix on the test
    ID, which xdist 3.8 writes to `item._nodeid`; pytest 9 reads the ID from `item._id`, so no
    group was ever formed (each worker started its own JVM and PostgreSQL cluster). Written
    here where pytest reads it, as xdist would, unless xdist already did."""
    if not getattr(config.option, "loadgroup", False):  # set in xdist workers only
        return
    from _pytest.nodeid import NodeId

    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(groups)
        if groups and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            item._id = NodeId.parse(item.nodeid + suffix)
    items[:] = balance.longest_first(items, balance.known_costs())  # the same in every worker


def _uses_a_module_fixture(item: pytest.Item) -> bool:
    """Whether the test needs a module-scoped fixture (a module's runs, made once): then its
    module's tests go to one worker as a group, so the fixture is built once, not once per
    worker (`--dist loadgroup` otherwise hands out ungrouped tests one by one)."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(defs and defs[-1].scope == "module" for defs in definitions.values())


@pytest.fixture(scope="session")
def real_table() -> Path:
    """The real seed table in ../shared/data/ (never copied into the repository)."""
    for candidate in _real_table_candidates():
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(c) for c in _real_table_candidates())
    pytest.skip(f"real seed table not found (looked in {searched})")


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server of this test session (one per xdist worker), removed after."""
    from tests import postgres_server

    if postgres_server.binaries() is None:
        pytest.skip("PostgreSQL is not installed (initdb, pg_ctl); .ci/run installs Debian's "
                    "postgresql package")
    cluster = postgres_server.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def spark():
    """One real local Spark for the Spark tests of this worker: two cores, two shuffle
    partitions, no UI, a JVM tuned for short work. PySpark and Java come with `make test` (the
    [spark] extra, .ci/run)."""
    from reporter.spark.session import spark_session

    session = spark_session("local[2]", SPARK_TEST_CONF)
    yield session
    session.stop()


# The JIT's first tier only and the serial collector: the tests' queries are small, so the
# JVM's optimising compiler and parallel GC threads cost CPU that never pays back (Spark's
# quiet log configuration is added to these by spark_session). The same settings for a
# `reporter run` child process of a test (its project's spark.conf) and the benchmark's --quick.
# And Spark's expressions evaluated as they are, not compiled to Java first: on the tests'
# tables (hundreds to a few thousand rows) compiling every query's code cost more than its
# rows (the archive test's two Spark runs: 89 -> 53 s and 45 -> 30 s, under load). The same
# expressions give the same values either way (Spark's own tests run both), so every
# comparison with the local engine promises what it did.
SPARK_TEST_JAVA = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
SPARK_INTERPRETED = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}
SPARK_COMPILED = {"spark.sql.codegen.wholeStage": "true", "spark.sql.codegen.factoryMode": "FALLBACK"}
SPARK_TEST_CONF = {"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false",
                   "spark.driver.memory": "1g", "spark.driver.extraJavaOptions": SPARK_TEST_JAVA,
                   **SPARK_INTERPRETED}


@pytest.fixture
def compiled_spark_conf(spark):
    """A project's spark.conf with Spark's generated code back on, for a test of tens of
    thousands of customers, where compiling pays back (the sample test: ~61 -> ~48 s); the
    session's interpreted settings are put back after it."""
    yield {**SPARK_TEST_CONF, **SPARK_COMPILED}
    for key, value in SPARK_INTERPRETED.items():
        spark.conf.set(key, value)


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600-customer generated table, written once per test session."""
    path = tmp_path_factory.mktemp("sample") / "customers-sample.csv"
    return sample.write(sample.generate(600, seed=7), path)


@pytest.fixture
def project(tmp_path: Path, sample_csv: Path) -> Path:
    """A copy of the default config in a temp folder, pointed at the sample and a temp archive,
    with the quick settings (tests/support/project.py)."""
    new_project(tmp_path, sample_csv)
    return tmp_path


@pytest.fixture(scope="session")
def archived_once(tmp_path_factory: pytest.TempPathFactory, sample_csv: Path) -> Published:
    """The sample's run, published once per test session with nothing sent
    (tests/support/archive.py), by the first worker that needs it (tests/support/once.py)."""
    root, made = shared_folder(tmp_path_factory, "archived",
                               lambda folder: {"run_id": publish(folder, sample_csv).run_id,
                                               "data": str(sample_csv)})
    # the maker's sample: the run records its folder as the source, so a later week of this
    # project must read the same file (another worker's copy is another source)
    return Published(root, made["run_id"], Path(made["data"]))


@pytest.fixture
def archived(archived_once: Published, tmp_path: Path) -> Published:
    """A copy of that project for one test to send, push or damage (a copy takes milliseconds,
    a run seconds)."""
    return archived_once.copy_to(tmp_path / "archived")


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on 127.0.0.1 for this worker's session: (controller, handler)."""
    from tests.smtp_server import RecordingHandler, start_server

    handler = RecordingHandler()
    controller = start_server(handler)
    yield controller, handler
    controller.stop()


@pytest.fixture
def server(smtp_server):
    """The session's SMTP server with nothing received and no fault set: (controller, handler)."""
    controller, handler = smtp_server
    handler.reset()
    yield controller, handler
    handler.reset()


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command in a fresh interpreter, as a user or the scheduler would."""
    return subprocess.run(
        [sys.executable, "-m", "reporter", *args],
        cwd=cwd or REPO_ROOT, capture_output=True, text=True, timeout=300,
    )


def run_main(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The same command in this process (no interpreter start-up, ~2.5 s less per call): for
    tests about messages and exit codes. Tests about the command as a user starts it use
    `run_cli`."""
    from reporter.app.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd or Path.cwd()), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # --help and argparse errors
            code = exit_.code if isinstance(exit_.code, int) else 2
    return subprocess.CompletedProcess(["reporter", *args], code, out.getvalue(), err.getvalue())


def archive_entries(output: Path) -> list[Path]:
    """Everything in the archive folder, hidden partial folders included."""
    return sorted(output.iterdir()) if output.exists() else []


def run_folders(output: Path) -> list[Path]:
    """Published run folders only (not index.html, the scheduler's files or partial folders)."""
    return [p for p in archive_entries(output) if p.is_dir() and p.name[:2] == "20"]
