"""Property-based: whatever table or rule file Hypothesis makes, the run either gives a
consistent result or stops with a ReporterError (exit 2 and a message), never anything else."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporter.app.pipeline import analyse
from reporter.app.settings import load_config
from reporter.data import sample
from reporter.data.schema import COLUMNS
from reporter.errors import ReporterError
from tests.conftest import REPO_ROOT, write_config

BASE = sample.generate(150, seed=5)
GARBAGE = st.one_of(st.just(""), st.just("N/A"), st.just("-3"), st.just("1e12"), st.just("12,5"),
                    st.text(max_size=8), st.integers(-5, 10**6).map(str))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("properties")
    (root / "config").mkdir()
    shutil.copy(REPO_ROOT / "config" / "personas.yaml", root / "config" / "personas.yaml")
    config = write_config(root / "config" / "reporter.yaml", source={"path": str(root / "data.csv")},
                          teams=[], stability={"resamples": 2}, segmentation={"k_max": 5})
    return root, config


def _consistent(found) -> None:
    names = found.assignment.customer_persona
    assert len(names) == len(found.table.frame)
    assert set(names) <= {p.name for p in found.rulebook.personas}
    sizes = [g.size for g in found.persona_profiles.groups]
    assert sum(sizes) == len(found.table.frame)
    assert abs(sum(g.share for g in found.persona_profiles.groups) - 1) < 1e-9


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, len(BASE) - 1), st.sampled_from(COLUMNS), GARBAGE),
                      max_size=4),
       rows=st.integers(1, len(BASE)))
def test_any_table_gives_a_consistent_brief_or_a_clear_error(workspace, edits, rows):
    root, config_path = workspace
    table = BASE.head(rows).astype(str).replace("nan", "")
    for row, column, value in edits:
        if row < rows:
            table.loc[row, column] = value
    table.to_csv(root / "data.csv", index=False)
    try:
        found = analyse(load_config(config_path))
    except ReporterError as error:
        assert error.one_line() and "\n" not in error.one_line()
        return
    _consistent(found)


CONDITION = st.one_of(
    st.builds(lambda m, op, v: f"{m} {op} {v}",
              st.sampled_from(["income", "recency", "total_spending", "share", "incme", "deal_share"]),
              st.sampled_from([">=", "<=", ">", "<", "=>", "=="]),
              st.sampled_from(["1.5x population", "p75", "60", "0.2", "lots", "p101"])),
    st.text(max_size=20),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conditions=st.lists(CONDITION, min_size=0, max_size=3), mode=st.sampled_from(["all", "any"]))
def test_any_rule_file_compiles_or_names_its_problems(workspace, conditions, mode):
    import yaml

    from reporter.personas.rulebook import read_rulebook

    root, _ = workspace
    document = {"fallback": "Rest", "personas": [
        {"name": "Rule", "priority": 1, "rules": {mode: conditions}}, {"name": "Rest", "priority": 9}]}
    path = root / "rules.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        rulebook = read_rulebook(path)
    except ReporterError as error:
        assert all(problem.startswith(f"{path}: ") for problem in error.problems)
        assert all("line " in problem for problem in error.problems)
        return
    assert len(rulebook.personas[0].conditions) == len(conditions) > 0
    assert np.all([c.metric for c in rulebook.personas[0].conditions])
