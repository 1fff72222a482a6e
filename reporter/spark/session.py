"""The Spark session of `engine: spark`: started once per run from `spark.master` and
`spark.conf`, after checking what it needs (PySpark, a Java runtime of version 17 or newer) so
a missing piece is one line that says what to install, never a JVM stack trace.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

from reporter.errors import EnvironmentProblem

MIN_JAVA = 17
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")  # Spark's log: errors only
JVM_LOG = Path(tempfile.gettempdir()) / f"reporter-spark-{os.getuid()}.log"  # the JVM's own output
DEFAULTS = {  # spark.conf in reporter.yaml may override any of these
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.caseSensitive": "true",  # the export's Education beside the cleaned education
    "spark.sql.session.timeZone": "UTC",  # join dates are days, never shifted by a time zone
}


def check_pyspark() -> None:
    """PySpark importable, else one line saying what to install. Imported, not only looked
    for: an install missing a piece (py4j) fails here too, and every module of reporter.spark
    imports PySpark, so this runs before any of them is imported."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        missing = f" ({exc.name} is missing)" if exc.name and exc.name != "pyspark" else ""
        raise EnvironmentProblem(f"engine: spark needs PySpark{missing}: pip install "
                                 "'smartcart-reporter[spark]' (or set engine: local)") from None


def check_spark() -> None:
    """PySpark importable and Java 17+ on PATH (or JAVA_HOME), else one line saying how."""
    check_pyspark()
    version = java_version()
    if version is None:
        raise EnvironmentProblem(f"engine: spark needs a Java runtime {MIN_JAVA} or newer: on Debian "
                                 "apt-get install openjdk-17-jre-headless (or set JAVA_HOME)")
    if version < MIN_JAVA:
        raise EnvironmentProblem(f"engine: spark needs Java {MIN_JAVA} or newer; found Java {version}: "
                                 "install openjdk-17-jre-headless and point JAVA_HOME at it")


def java_version() -> int | None:
    """The major version of the `java` that Spark would start, or None without one."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        return None
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', shown)
    if not found:
        return None
    major = int(found[1])
    return int(found[2]) if major == 1 and found[2] else major  # "1.8.0" is Java 8


def spark_session(master: str | None, conf: Mapping[str, str]):
    """A session on `master` (local[*], a cluster URL); without one, the master spark-submit
    was given, or local[*] when reporter was not started by spark-submit. On a local master
    the workers run this Python, which has reporter's packages; a cluster's workers need them
    installed (docs/operations/spark.md)."""
    check_spark()
    from pyspark.sql import SparkSession

    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started this Python
    master = master or (None if submitted else "local[*]")
    builder = SparkSession.builder.appName("smartcart-reporter")
    if master:
        builder = builder.master(master)
    if master and master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    for key, value in {**DEFAULTS, **conf, **_quiet_java(conf)}.items():
        builder = builder.config(key, str(value))
    if SparkSession.getActiveSession() is not None:
        return builder.getOrCreate()
    return _started_quietly(builder)


def _quiet_java(conf: Mapping[str, str]) -> dict[str, str]:
    """The driver's Java options with Spark's log at errors only: a spark.conf that gives its
    own options (JIT or GC flags) keeps that, unless it names a log4j configuration itself."""
    options = str(conf.get("spark.driver.extraJavaOptions", ""))
    if "log4j2.configurationFile" not in options:
        options = f"-Dlog4j2.configurationFile=file:{LOG_CONFIG} {options}".strip()
    return {"spark.driver.extraJavaOptions": options}


def _started_quietly(builder):
    """The JVM writes its own notices (modules, log levels) to the terminal it inherits: give
    it the log file instead, so a user sees reporter's words only. Errors still reach reporter
    as exceptions, and are said in one line."""
    saved = os.dup(2)
    try:
        with JVM_LOG.open("ab") as log:
            os.dup2(log.fileno(), 2)
            session = builder.getOrCreate()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    session.sparkContext.setLogLevel("ERROR")
    return session


def materialised(frame):
    """The frame computed once and its lineage cut, so every later query plans against its
    rows instead of the whole chain of expressions that made them (on the real table this took
    a scored week's Spark stages from 66 s to 39 s). Reliable checkpoints when
    spark.checkpoint.dir is set (a cluster, where executors come and go); on the executors'
    own storage otherwise."""
    if frame.sparkSession.sparkContext.getCheckpointDir():
        return frame.checkpoint()
    return frame.localCheckpoint()
