"""The work queue of `make test`: the costliest unit first (tests/support/balance.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from tests.support import balance
from tests.support.project import REPO_ROOT


def _items(*nodeids: str) -> list:
    return [SimpleNamespace(nodeid=nodeid) for nodeid in nodeids]


def test_units_go_costliest_first_and_a_group_stays_together_in_its_order():
    items = _items("a.py::t1", "m.py::x@m", "b.py::t2", "m.py::y@m", "c.py::t3[p@q]")
    costs = {"a.py::t1": 5.0, "m.py::x": 1.0, "m.py::y": 2.0, "b.py::t2": 30.0}
    ordered = [item.nodeid for item in balance.longest_first(items, costs)]
    # b 30 s, a 5 s, the group m 3 s (x before y, as collected), c unknown: DEFAULT_SECONDS
    assert ordered == ["b.py::t2", "a.py::t1", "m.py::x@m", "m.py::y@m", "c.py::t3[p@q]"]
    assert balance.DEFAULT_SECONDS < 3.0


def test_a_missing_or_broken_durations_file_orders_nothing(tmp_path):
    assert balance.known_costs(tmp_path / "none.json") == {}
    (tmp_path / "bad.json").write_text("[1, 2")
    assert balance.known_costs(tmp_path / "bad.json") == {}
    items = _items("b.py::t", "a.py::t")
    assert balance.longest_first(items, {}) == items  # equal costs keep the collection order


def test_the_shipped_durations_name_tests_that_exist():
    """tests/durations.json is read by every `make test`; an entry of a renamed test only
    costs its accuracy, so most entries must still name a test function of this suite."""
    known = balance.known_costs()
    assert known, "tests/durations.json is missing or empty"

    def exists(nodeid: str) -> bool:
        path, _, name = nodeid.partition("::")
        file = REPO_ROOT / path
        return file.is_file() and f"def {name.split('[')[0]}(" in file.read_text()

    assert sum(map(exists, known)) >= 0.9 * len(known), [n for n in known if not exists(n)]


def test_writing_durations_merges_into_the_file(tmp_path):
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"old.py::kept": 4.0, "t.py::a": 9.0}))
    writer = balance.DurationWriter(path)
    writer.seconds = {"t.py::a": 1.5, "t.py::b": 0.2}
    writer.pytest_sessionfinish(None)
    assert json.loads(path.read_text()) == {"old.py::kept": 4.0, "t.py::a": 1.5, "t.py::b": 0.2}
