"""Real `reporter` processes stopped at a named fault point (reporter/delivery/faults.py) and
killed there: the process writes its pid to a marker file and waits, so the SIGKILL lands
between two steps however fast the machine is (a handshake, never a head start)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reporter.delivery.faults import FAULT_ENV, MARKER_ENV
from tests.support.project import REPO_ROOT

WAIT_SECONDS = 180  # only a bound on a hung process: every wait ends on a signal


def start(*args: str, fault: str = "", marker: Path | None = None) -> subprocess.Popen:
    """A real `reporter` process; with `fault`, it stops at that point and writes `marker`."""
    env = dict(os.environ)
    env.pop(FAULT_ENV, None)
    if fault:
        env.update({FAULT_ENV: fault, MARKER_ENV: str(marker)})
    return subprocess.Popen([sys.executable, "-m", "reporter", *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stopped(marker: Path) -> bool:
    """Whether the process wrote its pid to `marker`: it is waiting at the fault point."""
    return marker.exists() and bool(marker.read_text())


def wait_until(condition, process: subprocess.Popen) -> None:
    """Until the condition holds (the handshake); a process that ends first fails the test."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the process ended (exit {process.returncode}) before the fault point:"
                        f"\n{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the process never reached the fault point")
        time.sleep(0.02)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL, then reap it: a zombie would still look alive to the ledger."""
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
