from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reporter.app.pipeline import analyse
from reporter.app.settings import load_config
from reporter.data.features import FeatureTable
from reporter.errors import ConfigError
from reporter.personas.rulebook import assign, compile_rulebook, read_rulebook
from reporter.segmentation.profile import profile
from reporter.yamlsource import read_yaml_mapping
from tests.conftest import REPO_ROOT, run_main, write_config
from tests.helpers import features_from_sample

BASE = """\
fallback: Others
personas:
  - name: Big
    color: teal
    priority: 1
    rules:
      all:
        - total_spending >= 1.5x population
  - name: Others
    priority: 9
"""
EXAMPLES = "`recency >= 60`, `total_spending >= 1.5x population` or `income >= p75`"


def compile_text(tmp_path: Path, text: str):
    """Read a personas file the way `reporter` does: safe YAML, its structure, its rules."""
    path = tmp_path / "personas.yaml"
    path.write_text(text)
    return read_rulebook(path)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        compile_text(tmp_path, text)
    prefix = f"{tmp_path / 'personas.yaml'}: "
    assert all(p.startswith(prefix) for p in caught.value.problems)
    return [p.removeprefix(prefix) for p in caught.value.problems]


def test_base_file_compiles(tmp_path):
    rulebook = compile_text(tmp_path, BASE)
    assert [p.name for p in rulebook.personas] == ["Big", "Others"]
    assert rulebook.personas[0].color == "#008080"  # "teal" as a code


MALFORMED = [
    ("unknown metric with a suggestion",
     BASE.replace("total_spending >= 1.5x", "total_spend >= 1.5x"),
     ['line 8, persona "Big": unknown metric "total_spend"; did you mean "total_spending"?']),
    ("unknown metric without a near match",
     BASE.replace("total_spending >= 1.5x", "happiness >= 1.5x"),
     ['line 8, persona "Big": unknown metric "happiness"; see the list of metrics at the top of the file']),
    ("wrong operator",
     BASE.replace("total_spending >= 1.5x", "total_spending => 1.5x"),
     ['line 8, persona "Big": "=>" is not an operator ("total_spending => 1.5x population"); '
      'write ">="']),
    ("code instead of a condition",
     BASE.replace("total_spending >= 1.5x population", "__import__('os').system('id') >= 1"),
     [f"line 8, persona \"Big\": cannot read condition \"__import__('os').system('id') >= 1\"; "
      f"write it as {EXAMPLES}"]),
    ("a boolean expression",
     BASE.replace("1.5x population", "1.5x population or True"),
     [f'line 8, persona "Big": cannot read condition "total_spending >= 1.5x population or True"; '
      f"write it as {EXAMPLES}"]),
    ("unknown colour",
     BASE.replace("color: teal", "color: tealish"),
     ['line 4, persona "Big": unknown colour "tealish"; did you mean "teal"?']),
    ("unknown colour with no name like it",
     BASE.replace("color: teal", "color: zzqx"),
     ['line 4, persona "Big": unknown colour "zzqx"; use a CSS colour name such as "teal" or a code '
      'such as "#1f6f8b"']),
    ("fallback that is no persona",
     BASE.replace("fallback: Others", "fallback: Nobody"),
     ['line 1, fallback "Nobody" is not one of the personas ("Big", "Others"); did you mean '
      '"Others", the persona without rules?']),
    ("duplicate names",
     BASE + "  - name: Big\n    priority: 3\n    rules:\n      any: [income >= p90]\n",
     ['line 11, persona name "Big" is used twice; give each persona its own name']),
    ("names that share one call list file",
     BASE + "  - name: BIG\n    priority: 3\n    rules:\n      any: [income >= p90]\n",
     ['line 11, persona names "Big" and "BIG" differ only in capitals or punctuation, and would '
      'share one call list file and CRM column; give each a name of its own']),
    ("empty rule set",
     BASE.replace("      all:\n        - total_spending >= 1.5x population\n", "      all: []\n"),
     ['line 7, persona "Big" has an empty rule set; list at least one condition']),
    ("persona without rules",
     BASE.replace("    rules:\n      all:\n        - total_spending >= 1.5x population\n", ""),
     ['line 3, persona "Big" has no rules; add `rules:` with `all:` or `any:`']),
    ("fallback with rules, and the other persona without",
     BASE.replace("fallback: Others", "fallback: Big"),
     ['line 6, persona "Big" is the fallback and cannot have rules; it names the segments no rule '
      "matches",
      'line 9, persona "Others" has no rules; add `rules:` with `all:` or `any:`']),
    ("shadowed by a higher priority",
     BASE + "  - name: Huge\n    priority: 2\n    rules:\n      all: [total_spending >= 3x population]\n",
     ['line 12, persona "Huge" can never be chosen: whenever its rules hold, so do those of "Big" '
      '(priority 1), which is tried first; give "Huge" a lower priority number than "Big"']),
    ("percentile of a share",
     BASE.replace("total_spending >= 1.5x population", "share >= p50"),
     ['line 8, persona "Big": "share" is a share of the segment and has no percentiles '
      '("share >= p50")']),
    ("segment metric on a customer flag",
     BASE.replace("    priority: 1\n", "    priority: 1\n    level: customer\n").replace(
         "total_spending >= 1.5x population", "share >= 0.2"),
     ['line 9, persona "Big": "share" describes a whole segment and cannot flag single customers '
      '("share >= 0.2"); use it in a segment persona']),
    ("unknown ranking metric",
     BASE.replace("    priority: 1\n", "    priority: 1\n    level: customer\n    rank_by: value\n"),
     ['line 7, persona "Big": rank_by "value" is not a metric; see the list of metrics at the top of '
      "the file"]),
    ("a number where a condition belongs",
     BASE.replace("- total_spending >= 1.5x population", "- 1.5"),
     ['line 8, personas "Big", rules.all item 1: must be text']),
    ("both all and any",
     BASE.replace("      all:\n", "      any: [income >= p90]\n      all:\n"),
     ['line 6, personas "Big", rules: give exactly one of \'all\' or \'any\', each a list of '
      "conditions"]),
    ("a misspelt key",
     BASE.replace("    priority: 1\n", "    priorty: 1\n"),
     ['line 5, persona "Big": unknown key "priorty"; did you mean "priority"?']),
]


@pytest.mark.parametrize(("case", "text", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_rule_files_give_exact_located_messages(tmp_path, case, text, expected):
    assert problems_of(tmp_path, text) == expected


def test_every_problem_is_reported_at_once(tmp_path):
    text = BASE.replace("color: teal", "color: nope").replace("total_spending >=", "total_spend >=")
    text = text.replace("fallback: Others", "fallback: Nobody")
    assert [p.split(",")[0] for p in problems_of(tmp_path, text)] == ["line 1", "line 4", "line 8"]
    assert "Others" in problems_of(tmp_path, text)[0]


def test_yaml_tags_are_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "executed"
    text = BASE.replace("color: teal", f"color: !!python/object/apply:os.system ['touch {marker}']")
    with pytest.raises(ConfigError, match=r"line 4, YAML tags such as .* are not allowed"):
        compile_text(tmp_path, text)
    assert not marker.exists()
    path = tmp_path / "other.yaml"
    path.write_text("a: !!python/name:os.system\n")
    with pytest.raises(ConfigError, match="not allowed"):
        read_yaml_mapping(path)


@pytest.fixture(scope="module")
def table() -> FeatureTable:
    import tempfile

    return features_from_sample(Path(tempfile.mkdtemp()), rows=300, seed=8)


def rulebook_from(tmp_path: Path, document: dict):
    return compile_text(tmp_path, yaml.safe_dump(document, sort_keys=False))


def persona(name: str, priority: int, *conditions: str, mode: str = "all", **extra) -> dict:
    entry = {"name": name, "priority": priority, **extra}
    if conditions:
        entry["rules"] = {mode: list(conditions)}
    return entry


def spend_halves(table: FeatureTable) -> np.ndarray:
    spend = table.frame["total_spending"]
    return (spend > spend.median()).to_numpy().astype(int)


@pytest.mark.parametrize(
    ("condition", "low_half", "high_half"),
    [
        ("total_spending >= 1.2x population", "Rest", "Rule"),   # a multiple of the population mean
        ("total_spending >= p50", "Rest", "Rule"),                # a population percentile
        ("total_spending >= 100000", "Rest", "Rest"),             # an absolute value
        ("total_spending < 1x population", "Rule", "Rest"),
    ],
)
def test_each_comparison_form(tmp_path, table, condition, low_half, high_half):
    labels = spend_halves(table)
    rulebook = rulebook_from(tmp_path, {"fallback": "Rest", "personas": [
        persona("Rule", 1, condition), persona("Rest", 9)]})
    result = assign(rulebook, profile(table, labels), table, labels)
    assert result.cluster_persona == {0: low_half, 1: high_half}


def test_all_needs_every_condition_any_needs_one(tmp_path, table):
    labels = spend_halves(table)
    profiles = profile(table, labels)
    conditions = ("total_spending >= 1.2x population", "total_spending >= 100000")
    for mode, expected in (("all", "Rest"), ("any", "Rule")):
        rulebook = rulebook_from(tmp_path, {"fallback": "Rest", "personas": [
            persona("Rule", 1, *conditions, mode=mode), persona("Rest", 9)]})
        assert assign(rulebook, profiles, table, labels).cluster_persona[1] == expected


def test_priority_merging_and_personas_not_present(tmp_path, table):
    labels = np.arange(len(table.frame)) % 3  # three look-alike segments
    rulebook = rulebook_from(tmp_path, {"fallback": "Rest", "personas": [
        persona("Second", 2, "share >= 0.1"),
        persona("First", 1, "share >= 0.2"),
        persona("Never", 3, "income >= 10000000"),
        persona("Rest", 9),
    ]})
    result = assign(rulebook, profile(table, labels), table, labels)
    assert result.cluster_persona == {0: "First", 1: "First", 2: "First"}, "priority 1 wins"
    assert result.present == ("First",)
    assert result.absent == ("Second", "Never", "Rest")
    assert "share >= 0.2" in result.reasons[0]


def test_every_segment_gets_exactly_one_persona_and_the_brief_merges_them(project):
    from reporter.app.engines import LocalEngine
    from reporter.brief.view import TABLE_FEATURES, BriefInputs, build_brief
    from reporter.personas.figures import ListParams

    config = load_config(project / "config" / "reporter.yaml")
    found = analyse(config)
    figures = LocalEngine(found).figures(None, ListParams(TABLE_FEATURES, 10, 500, 1))
    rows = build_brief(BriefInputs(
        title="t", run_id="r", run_date=__import__("datetime").datetime(2026, 1, 1),
        data_file="f", data_sha256="0" * 64, table=found.table, figures=figures,
        notes=found.customers.notes,
        segmentation=found.segmentation, assessment=found.assessment,
        cluster_profiles=found.cluster_profiles, persona_profiles=found.persona_profiles,
        assignment=found.assignment, rulebook=found.rulebook,
    )).personas
    assert sorted(c for row in rows for c in row.clusters) == list(range(found.segmentation.k))
    assert len({row.name for row in rows}) == len(rows), "a persona is shown once"
    assert sum(row.size for row in rows) == len(found.table.frame)


def test_customer_flags_test_each_customer(tmp_path, table):
    labels = np.zeros(len(table.frame), dtype=int)
    rulebook = rulebook_from(tmp_path, {"fallback": "Rest", "personas": [
        persona("Rest", 9),
        persona("Lapsing", 1, "recency > 60", "total_spending > p50", level="customer"),
    ]})
    result = assign(rulebook, profile(table, labels), table, labels)
    frame = table.frame
    expected = (frame["recency"] > 60) & (frame["total_spending"] > frame["total_spending"].median())
    assert np.array_equal(result.flags["Lapsing"], expected.to_numpy())
    assert 0 < expected.sum() < len(frame)
    assert result.cluster_persona == {0: "Rest"}, "flags never name segments"


@settings(max_examples=30, deadline=None)
@given(labels=st.lists(st.integers(0, 5), min_size=300, max_size=300))
def test_every_customer_gets_exactly_one_persona(table, labels):
    labels = np.unique(np.array(labels), return_inverse=True)[1]  # ids 0..k-1 without gaps
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


def test_default_file_on_the_real_table(real_table, project):
    config = load_config(write_config(project / "config" / "reporter.yaml",
                                      source={"path": str(real_table)}))
    found = analyse(config)
    assignment = found.assignment
    assert "Premium" in assignment.present
    assert set(assignment.cluster_persona) == set(range(found.segmentation.k))
    churn = assignment.flags["Churn Risk"]
    frame = found.table.frame
    assert churn.sum() > 100
    assert (frame.loc[churn, "recency"] > 60).all()
    assert (frame.loc[churn, "total_spending"] > frame["total_spending"].median()).all()
    assert len(set(assignment.customer_persona[churn])) >= 2, "flagged across segments"


# Hostile and oversized rule files: `reporter validate` refuses each with a located line, exit 2.
def validate(project: Path, personas_text: str):
    (project / "config" / "personas.yaml").write_text(personas_text)
    return run_main("validate", "--config", str(project / "config" / "reporter.yaml"))


def default_personas() -> str:
    return (REPO_ROOT / "config" / "personas.yaml").read_text()


def line_number(text: str, fragment: str) -> int:
    return text[:text.index(fragment)].count("\n") + 1


def problem_lines(result, path: Path) -> list[str]:
    return [line.strip() for line in result.stderr.splitlines() if line.strip().startswith(str(path))]


FORMULA_NAMES = ['=HYPERLINK("http://ev.il","VIP")', "@SUM(1+1)*cmd|'/C calc'!A0", "+Churn", "-Risk"]


def test_formula_persona_and_flag_names_are_refused_each_on_its_line(project):
    text = default_personas()
    for old, new in zip(("Premium", "Deal Seekers", "Low Engagement", "Churn Risk"), FORMULA_NAMES,
                        strict=True):
        quoted = new.replace("'", "''")
        text = text.replace(f"- name: {old}\n", f"- name: '{quoted}'\n")
    result = validate(project, text)
    path = project / "config" / "personas.yaml"
    refused = [p for p in problem_lines(result, path) if "a persona name may use" in p]
    assert result.returncode == 2 and len(refused) == 4
    for name, problem in zip(FORMULA_NAMES, refused, strict=True):
        quoted = name.replace("'", "''")
        assert problem.startswith(f"{path}: line {line_number(text, quoted)}, ")
        assert problem.endswith("letters, digits, spaces and - & ' . , ( ) / + only, starting with a "
                                'letter or digit; write for example "Premium" or "Deal Seekers"')


def test_plain_names_with_punctuation_are_kept(tmp_path):
    rulebook = compile_text(tmp_path, BASE.replace("name: Big", "name: Big Spenders (Wine/Meat) & 50+")
                            .replace("name: Others", "name: O'Brien's others, 2.0 - rest").replace(
                                "fallback: Others", "fallback: O'Brien's others, 2.0 - rest"))
    assert [p.name for p in rulebook.personas] == ["Big Spenders (Wine/Meat) & 50+",
                                                   "O'Brien's others, 2.0 - rest"]


def test_a_rule_of_200000_spaces_is_refused_with_its_line_persona_and_fix(project):
    text = default_personas()
    rule = "- income >= 1.2x population           # and earns well above average"
    long_text = text.replace(rule, '- "income >= 1' + " " * 200_000 + '"')
    result = validate(project, long_text)
    path = project / "config" / "personas.yaml"
    assert result.returncode == 2
    assert problem_lines(result, path) == [
        f'{path}: line {line_number(text, rule)}, persona "Premium": condition "income >= 1 ..." is '
        "200,011 characters long, more than the 500 a condition may have; write one comparison per "
        f"line, such as {EXAMPLES}"]


def test_yaml_alias_amplification_is_refused_before_anything_is_built(project):
    text = default_personas()
    action = "      - Invite to the loyalty tier.\n"
    amplified = text.replace(action, "      - &d " + "a" * 100_000 + "\n" + "      - *d\n" * 999)
    assert len(amplified.encode()) < 120_000  # the default file and 100 kB of text
    result = validate(project, amplified)
    path = project / "config" / "personas.yaml"
    assert result.returncode == 2
    [problem] = problem_lines(result, path)
    line = int(problem.removeprefix(f"{path}: line ").split(",")[0])
    assert line_number(text, action) < line <= line_number(text, action) + 11, "at the alias that tips it"
    assert problem.endswith(f"line {line}, the alias *d repeats &d so often that the file would hold "
                            "more than 20,000 values or 1,000,000 characters once read; write each "
                            "text once, where it is needed")
    run = run_main("run", "--config", str(project / "config" / "reporter.yaml"))
    assert run.returncode == 2 and problem in run.stderr
    assert not (project / "output").exists() or not any((project / "output").iterdir())


def many(count: int, **extra) -> str:
    """`count` more personas P0, P1, ..., each reachable (a lower threshold, tried later)."""
    return "".join(f"  - name: P{i}\n    priority: {i + 2}\n    rules: [income >= {1000 - i}]\n" +
                   "".join(f"    {key}: {value}\n" for key, value in extra.items()) for i in range(count))


def line_of_persona(text: str, name: str) -> int:
    return line_number(text, f"  - name: {name}\n")


OVERSIZED = [
    ("41 personas", BASE + many(39), [f"line {line_of_persona(BASE + many(39), 'P38')}, personas: 41 "
                                      "personas, more than the 40 a brief can show; merge some, or "
                                      "move them to another rules file"]),
    ("21 customer flags", BASE + many(21, level="customer"),
     [f"line {line_of_persona(BASE + many(21, level='customer'), 'P20')}, 21 customer flags (level: "
      "customer), more than the 20 a brief can list; keep the ones a team acts on"]),
    ("21 conditions", BASE.replace("        - total_spending >= 1.5x population\n",
                                   "".join(f"        - income >= {i}\n" for i in range(1, 22))),
     ['line 7, personas "Big", rules.all: has 21 items, more than the 20 allowed; shorten the list']),
    ("11 actions", BASE.replace("    priority: 1\n", "    priority: 1\n    actions: [" +
                                ", ".join(f"Call {i}" for i in range(11)) + "]\n"),
     ['line 6, personas "Big", actions: has 11 items, more than the 10 allowed; shorten the list']),
    ("an action of 241 characters", BASE.replace("    priority: 1\n", "    priority: 1\n    actions:\n"
                                                 "      - " + "a" * 241 + "\n"),
     ['line 7, personas "Big", actions item 1: is too long: at most 240 characters; shorten it']),
    ("a name of 41 characters", BASE.replace("name: Big", "name: " + "B" * 41),
     ["line 3, personas item 1, name: is too long: at most 40 characters; shorten it"]),
    ("a colour of 41 characters", BASE.replace("color: teal", "color: " + "t" * 41),
     ['line 4, personas "Big", color: is too long: at most 40 characters; shorten it']),
    ("an alias inside what it names", BASE.replace("        - total_spending >= 1.5x population\n",
                                                   "        - &loop [*loop]\n"),
     ["line 8, the alias *loop is inside the list or group it names, so it would never end; "
      "remove it"]),
    ("nesting 41 deep", BASE + "extra: " + "[" * 41 + "]" * 41 + "\n",
     ["line 11, lists and groups are nested more than 40 deep; a settings file needs only a few "
      "levels, check the indentation"]),
    ("a file over 256 kB", BASE + "# " + "x" * 262_144 + "\n",
     ["the file is larger than 256 kB, far more than a settings file needs; check that this is the "
      "right file"]),
]


@pytest.mark.parametrize(("case", "text", "expected"), OVERSIZED, ids=[o[0] for o in OVERSIZED])
def test_oversized_rule_files_are_refused_with_located_messages(tmp_path, case, text, expected):
    assert problems_of(tmp_path, text) == expected
