from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.config import PersonasFile, load_config
from reporter.errors import ConfigError
from reporter.features import FeatureTable
from reporter.personas import assign, compile_rulebook, parse_condition
from reporter.profile import profile
from tests.conftest import REPO_ROOT
from tests.helpers import features_from_sample


def rulebook_from(tmp_path: Path, document: dict):
    path = tmp_path / "personas.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return compile_rulebook(PersonasFile.model_validate(document), path)


def persona(name: str, priority: int, *conditions: str, mode: str = "all") -> dict:
    entry = {"name": name, "priority": priority}
    if conditions:
        entry["rules"] = {mode: list(conditions)}
    return entry


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("recency >= 60", "number", 60.0),
        ("total_spending >= 1.5x population", "multiple", 1.5),
        ("income>=p75", "percentile", 75.0),
        ("  deal_share < 0.25 ", "number", 0.25),
        ("share <= 0.1", "number", 0.1),
    ],
)
def test_conditions_parse(text, kind, value):
    condition = parse_condition(text)
    assert (condition.kind, condition.value) == (kind, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('rm -rf /') >= 1", "cannot read condition"),
        ("income >= 1.5x population or True", "cannot read condition"),
        ("incme >= 1", "did you mean 'income'"),
        ("share >= p50", "cannot be compared with a percentile"),
        ("recency => 60", "cannot read condition"),
    ],
)
def test_anything_else_is_rejected_with_a_reason(text, message):
    with pytest.raises(ValueError, match=message):
        parse_condition(text)


def test_rule_errors_are_collected_with_their_lines(tmp_path):
    document = {
        "fallback": "Others",
        "personas": [
            persona("A", 1, "incme >= 1"),
            persona("B", 2, "recency => 3"),
            persona("Others", 9),
        ],
    }
    with pytest.raises(ConfigError) as caught:
        rulebook_from(tmp_path, document)
    message = str(caught.value)
    assert "line 7: persona 'A'" in message
    assert "line 12: persona 'B'" in message


def test_fallback_may_not_have_rules_and_others_must(tmp_path):
    with pytest.raises(ConfigError, match="fallback persona 'Others' cannot have rules"):
        rulebook_from(tmp_path, {"fallback": "Others", "personas": [persona("Others", 1, "age > 1")]})
    with pytest.raises(ConfigError, match="'A' has no rules"):
        rulebook_from(tmp_path, {"fallback": "Others", "personas": [persona("A", 1), persona("Others", 2)]})


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> FeatureTable:
    return features_from_sample(tmp_path_factory.mktemp("personas"), rows=300, seed=8)


def test_highest_priority_match_wins_else_fallback(tmp_path, table):
    labels = (table.frame["total_spending"] > table.frame["total_spending"].median()).to_numpy().astype(int)
    profiles = profile(table, labels)
    rulebook = rulebook_from(tmp_path, {
        "fallback": "Everyone Else",
        "personas": [
            persona("Big", 2, "total_spending >= 1.2x population"),
            persona("Very Big", 1, "total_spending >= 1.3x population"),
            persona("Everyone Else", 99),
        ],
    })
    result = assign(rulebook, profiles, table, labels)
    high = profiles.by_key()["1"]
    expected_high = "Very Big" if high.lifts["total_spending"] >= 1.3 else "Big"
    assert result.cluster_persona == {0: "Everyone Else", 1: expected_high}
    assert "total_spending" in result.reasons[1]
    assert result.reasons[0] == "no persona rule matched"
    assert set(result.absent) == {"Big", "Very Big"} - {expected_high}


def test_any_mode_and_percentiles(tmp_path, table):
    labels = np.zeros(len(table.frame), dtype=int)
    rulebook = rulebook_from(tmp_path, {
        "fallback": "Rest",
        "personas": [persona("Either", 1, "income >= p100", "share >= 0.99", mode="any"),
                     persona("Rest", 2)],
    })
    result = assign(rulebook, profile(table, labels), table, labels)
    assert result.cluster_persona == {0: "Either"}


@settings(max_examples=30, deadline=None)
@given(labels=st.lists(st.integers(0, 5), min_size=300, max_size=300))
def test_every_customer_gets_exactly_one_persona(table, labels):
    labels = np.array(labels)
    labels = np.unique(labels, return_inverse=True)[1]  # ids 0..k-1 without gaps
    config = load_config(REPO_ROOT / "config" / "reporter.yaml")
    rulebook = compile_rulebook(config.personas, config.personas_path)
    result = assign(rulebook, profile(table, labels), table, labels)
    names = {p.name for p in rulebook.personas}
    assert len(result.customer_persona) == len(table.frame)
    assert set(result.customer_persona) <= names
    assert set(result.present) | set(result.absent) == names
    assert not set(result.present) & set(result.absent)
    for cluster, name in result.cluster_persona.items():
        assert (result.customer_persona[labels == cluster] == name).all()


def test_default_personas_file_compiles():
    config = load_config(REPO_ROOT / "config" / "reporter.yaml")
    rulebook = compile_rulebook(config.personas, config.personas_path)
    assert rulebook.fallback.name == config.personas.fallback
    assert [p.spec.priority for p in rulebook.personas[:-1]] == sorted(
        p.spec.priority for p in rulebook.personas[:-1])
