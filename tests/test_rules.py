from __future__ import annotations

import pytest

from reporter.personas.rules import RuleError, parse_condition, rule_set_implies


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("recency >= 60", "number", 60.0),
        ("total_spending >= 1.5x population", "multiple", 1.5),
        ("income>=p75", "percentile", 75.0),
        ("  deal_share < 0.25 ", "number", 0.25),
        ("share <= 0.1", "number", 0.1),
        ("age > 0", "number", 0.0),
        ("recency > 60 days", "number", 60.0),
        ("deal_share >= 50%", "number", 0.5),
        ("income >= $50,000", "number", 50_000.0),
        ("income >= 50k", "number", 50_000.0),
        ("share >= 10%", "number", 0.1),
    ],
)
def test_conditions_parse(text, kind, value):
    condition = parse_condition(text)
    assert (condition.kind, condition.value) == (kind, value)


@pytest.mark.parametrize("text", ["income >= p101", "income >= 1.5 x", "income", "", "income == 3",
                                  "INCOME >= 3", "income >= 1e9"])
def test_other_text_is_rejected(text):
    with pytest.raises(RuleError):
        parse_condition(text)


def conditions(*texts):
    return [parse_condition(t) for t in texts]


@pytest.mark.parametrize(
    ("premise", "premise_mode", "conclusion", "conclusion_mode", "expected"),
    [
        (["income >= 2x population"], "all", ["income >= 1.5x population"], "all", True),
        (["income >= 1.5x population"], "all", ["income >= 2x population"], "all", False),
        (["income > 3"], "all", ["income >= 3"], "all", True),
        (["income >= 3"], "all", ["income > 3"], "all", False),
        (["recency <= 10", "age > 30"], "all", ["recency <= 20"], "all", True),
        (["recency <= 10", "age > 30"], "any", ["recency <= 20"], "all", False),
        (["income >= p90"], "all", ["income >= 2x population"], "all", False),  # different forms
        (["income >= p90", "age > 50"], "all", ["age > 40", "income >= p99"], "any", True),
    ],
)
def test_implication_between_rule_sets(premise, premise_mode, conclusion, conclusion_mode, expected):
    assert rule_set_implies(conditions(*premise), premise_mode,
                            conditions(*conclusion), conclusion_mode) is expected
