"""The Spark session of `engine: spark`: started once per run from `spark.master` and
`spark.conf`, after checking what it needs (PySpark, a Java runtime of version 17 or newer) so
a missing piece is one line that says what to install, never a JVM stack trace.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

from reporter.errors import EnvironmentProblem

MIN_JAVA = 17
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")  # Spark's log: errors only
DEFAULTS = {  # spark.conf in reporter.yaml may override any of these
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.caseSensitive": "true",  # the export's Education beside the cleaned education
    "spark.sql.session.timeZone": "UTC",  # join dates are days, never shifted by a time zone
}


def check_spark() -> None:
    """PySpark importable and Java 17+ on PATH (or JAVA_HOME), else one line saying how."""
    if importlib.util.find_spec("pyspark") is None:
        raise EnvironmentProblem("engine: spark needs PySpark: pip install 'smartcart-reporter[spark]' "
                                 "(or set engine: local)")
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


def spark_session(master: str, conf: Mapping[str, str]):
    """A session on `master` (local[*], a cluster URL, or whatever spark-submit set). On a
    local master the workers run this Python, which has reporter's packages; a cluster's
    workers need them installed (README, Running on Spark)."""
    check_spark()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("smartcart-reporter").master(master)
    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    quiet = {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}"}
    for key, value in {**DEFAULTS, **quiet, **conf}.items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
