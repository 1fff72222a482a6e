"""The longest work first, so the workers finish together. Under `--dist loadgroup` xdist
hands a worker its next unit (a group, or one test) when it runs low, in the order of its
work queue; by default that order is the number of tests per unit, so a long single test or a
group of a few slow tests could start last and leave one core idle for minutes. Here the
units are ordered by what they cost (tests/durations.json: seconds per test, written by
`pytest --write-durations tests/durations.json` on an idle machine), longest first: the greedy
way to split work over two workers evenly. A test the file does not know yet costs
DEFAULT_SECONDS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

DURATIONS = Path(__file__).resolve().parent.parent / "durations.json"
DEFAULT_SECONDS = 1.0  # a new test: about the median of the suite's tests


def known_costs(path: Path = DURATIONS) -> dict[str, float]:
    """Seconds per test ID (no group suffix); none when the file is missing or unreadable."""
    try:
        costs = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in costs.items()} if isinstance(costs, dict) else {}


def unit_of(nodeid: str) -> str:
    """The unit xdist's loadgroup schedules a test in (its LoadGroupScheduling._split_scope):
    the group after "@", else the test itself."""
    if nodeid.rfind("@") > nodeid.rfind("]"):
        return nodeid.split("@")[-1]
    return nodeid


def plain_id(nodeid: str) -> str:
    """The test ID without the "@group" suffix."""
    return nodeid[: nodeid.rfind("@")] if nodeid.rfind("@") > nodeid.rfind("]") else nodeid


def longest_first(items: list[pytest.Item], costs: dict[str, float]) -> list[pytest.Item]:
    """The items unit by unit, the costliest unit first; within a unit, and between units of
    equal cost, collection order (a module's tests stay together, so its fixtures are made
    once)."""
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        units.setdefault(unit_of(item.nodeid), []).append(item)

    def cost(unit: Iterable[pytest.Item]) -> float:
        return sum(costs.get(plain_id(item.nodeid), DEFAULT_SECONDS) for item in unit)

    ordered = sorted(units.values(), key=cost, reverse=True)  # stable: ties keep their order
    return [item for unit in ordered for item in unit]


class DurationWriter:
    """`--write-durations PATH`: the seconds each test keeps its worker busy (set-up, call and
    tear-down, wall time: a scheduler's run in a forked child or a wait for a server is not CPU
    of this process, but the worker waits for it), merged into PATH at the end (entries of
    tests not run this time are kept; with xdist each worker merges its own under a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem):
        started = time.perf_counter()
        yield
        self.seconds[plain_id(item.nodeid)] = round(time.perf_counter() - started, 1)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        import fcntl

        if not self.seconds:
            return
        with self.path.open("a") as lock:  # the file itself is the lock
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged = {**known_costs(self.path), **self.seconds}
            self.path.write_text(json.dumps(dict(sorted(merged.items())), indent=0) + "\n")

