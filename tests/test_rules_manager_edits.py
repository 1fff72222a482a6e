"""Persona rules that say what managers mean (issue 31): a corpus of realistic edits to the
starter personas.yaml, each getting exactly its expected result from one `reporter validate`
(every problem, located, with what to write; or OK), plus the checks that need customers:
bars no segment's average can meet, and counting customers as the brief does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reporter.app.cli import main
from reporter.data import sample
from reporter.data.features import build_features
from reporter.personas.rulebook import read_rulebook
from tests.conftest import REPO_ROOT, run_main, write_config
from tests.helpers import customers_from_sample
from tests.test_rules_first_time import JARGON

STARTER = (REPO_ROOT / "config" / "personas.yaml").read_text()
WINE_LOVERS = """\
  - name: Wine Lovers
    description: Customers who spend most of their money on wine.
    color: "#7b1e3a"
    priority: 2
    rules:
      - {rule}
"""


def edit(*pairs: tuple[str, str]) -> str:
    text = STARTER
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def with_wine_lovers(rule: str) -> str:
    """The starter file with a Wine Lovers persona added after Premium."""
    return edit(("  # Segments whose shopping is mostly on discount",
                 WINE_LOVERS.format(rule=rule) + "\n  # Segments whose shopping is mostly on discount"))


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


# (case, personas.yaml, expected: None for OK, else one (line fragment, words) per problem)
CORPUS = [
    ("wine lovers written as a share of total spend", with_wine_lovers("wines >= 60% of total_spending"),
     [("wines >= 60% of", 'cannot compare "wines" with another metric ("wines >= 60% of total_spending"); '
                          "for its share of total spend use wine_share (0 to 1): write for example "
                          "`wine_share >= 0.6` or `wine_share >= 60%`")]),
    ("wine lovers with the share metric", with_wine_lovers("wine_share >= 0.5"), None),
    ("wine lovers with the share as a percent", with_wine_lovers("wine_share >= 55%"), None),
    ("online shoppers as one channel against another",
     with_wine_lovers("web_purchases > store_purchases").replace("Wine Lovers", "Online Shoppers"),
     [("web_purchases > store", "for its share of web, catalog and store purchases use web_share")]),
    ("online shoppers by channel share",
     with_wine_lovers("web_share >= 0.4").replace("Wine Lovers", "Online Shoppers"), None),
    ("premium as the top 10% of spenders",
     edit(("total_spending >= 1.5x population   #", "total_spending >= top 10%   #")), None),
    ("low engagement as the bottom 25% of spenders",
     edit(("total_spending <= 0.5x population   #", "total_spending <= bottom 25%   #")), None),
    ("top 10% with the operator pointing down",
     edit(("total_spending >= 1.5x population   #", "total_spending <= top 10%   #")),
     [("total_spending <= top 10%", '"top 10%" means at or above p90, but the operator is <= '
                                    '("total_spending <= top 10%"); write `total_spending >= top 10%`, '
                                    "or `total_spending <= p90` for the rest")]),
    ("a colon in a description",
     edit(("description: Customers who buy little and rarely.",
           "description: Light buyers: customers who buy little and rarely.")),
     [("Light buyers:", 'the description has a colon in it; put the description in quotes: '
                        'description: "Light buyers: customers who buy little and rarely."')]),
    ("a colon in an action",
     edit(("      - Target with starter bundles.", "      - Target: starter bundles.")),
     [("Target: starter", 'personas "Low Engagement", actions item 1: must be text; "Target: starter '
                          'bundles." has a colon in it, which starts a key: put the whole text in quotes')]),
    ("a tab before a rule", edit(("        - deal_share >= 1.5x", "\t- deal_share >= 1.5x")),
     [("\t- deal_share", "a tab character: YAML indents with spaces only, replace the tab with spaces")]),
    ("all: written as a list item", edit(("    rules:\n      all:\n        - deal_share",
                                          "    rules:\n      - all:\n        - deal_share")),
     [("- all:", 'persona "Deal Seekers": rules: "all:" is written as a list item ("- all:"); '
                       'remove the "- " so `all:` sits directly under `rules:`')]),
]


def _validate(folder: Path, personas: str, capsys, *extra: str) -> tuple[int, list[str], str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "personas.yaml").write_text(personas)
    config = write_config(folder / "reporter.yaml", source={"path": str(folder / "x.csv")}, teams=[])
    code = main(["validate", "--config", str(config), *extra])
    captured = capsys.readouterr()
    return code, [line.strip() for line in captured.err.splitlines()[1:]], captured.out


@pytest.mark.parametrize(("personas", "expected"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_each_edit_gets_exactly_its_result(tmp_path, capsys, personas, expected):
    code, lines, out = _validate(tmp_path, personas, capsys)
    if expected is None:
        assert code == 0, lines
        assert f"{tmp_path / 'personas.yaml'}: OK" in out
        return
    assert code == 2
    assert len(lines) == len(expected), "\n".join(lines)
    for line, (fragment, words) in zip(lines, expected, strict=True):
        number = line_of(personas, fragment)
        assert line.startswith(f"{tmp_path / 'personas.yaml'}: line {number},"), line
        assert words in line, line
        assert not [word for word in JARGON if word in line], line


def test_top_and_bottom_are_percentiles(tmp_path):
    path = tmp_path / "personas.yaml"
    path.write_text(edit(("total_spending >= 1.5x population   #", "total_spending >= top 10%   #"),
                         ("total_spending <= 0.5x population   #", "total_spending <= bottom 25%   #")))
    personas = read_rulebook(path).by_name()
    premium = personas["Premium"].conditions[0]
    assert (premium.kind, premium.value) == ("percentile", 90.0)
    assert [(c.kind, c.value) for c in personas["Low Engagement"].conditions] == [("percentile", 25.0)]


def test_share_metrics_are_parts_of_the_customers_own_whole(tmp_path):
    table = build_features(customers_from_sample(tmp_path, rows=200, seed=4)).frame
    spend = table[["wines", "fruits", "meat", "fish", "sweets", "gold"]].sum(axis=1)
    wine = table["wines"] / spend.where(spend > 0, 1)
    assert np.allclose(table["wine_share"], np.where(spend > 0, wine, 0))
    purchases = table[["web_purchases", "catalog_purchases", "store_purchases"]].sum(axis=1)
    store = table["store_purchases"] / purchases.where(purchases > 0, 1)
    assert np.allclose(table["store_share"], np.where(purchases > 0, store, 0))
    parts = table[["wine_share", "fruit_share", "meat_share", "fish_share", "sweets_share", "gold_share"]]
    assert np.allclose(parts.sum(axis=1)[spend > 0], 1.0)


def test_a_share_is_zero_when_nothing_was_spent(tmp_path):
    frame = sample.generate(50, seed=3)
    frame.loc[:4, ["MntWines", "MntFruits", "MntMeatProducts", "MntFishProducts", "MntSweetProducts",
                   "MntGoldProds"]] = 0
    frame.loc[:4, ["NumWebPurchases", "NumCatalogPurchases", "NumStorePurchases"]] = 0
    path = sample.write(frame, tmp_path / "zero.csv")
    from reporter.data.clean import clean
    from reporter.data.load import load
    from reporter.data.params import CleanParams

    raw = load(path)
    table = build_features(clean(raw, CleanParams(), raw.frame["Dt_Customer"].max().date())).frame
    zero = table[table["ID"].isin(frame.loc[:4, "ID"])]
    assert len(zero) == 5
    assert (zero[["wine_share", "gold_share", "web_share", "store_share"]] == 0).all().all()


def test_a_bar_no_average_meets_and_the_brief_s_count(project, capsys):
    """`validate --data` and `personas preview` say why Premium matches no segment (segment
    rules test the average customer) and count customers after duplicates are merged."""
    data = project / "with-duplicates.csv"
    frame = pd.read_csv(REPO_ROOT / "tests" / "data" / "model-v2" / "customers.csv")
    again = frame.head(25).assign(ID=frame["ID"].max() + 1 + np.arange(25))  # exported twice
    pd.concat([frame, again]).to_csv(data, index=False)
    personas = project / "config" / "personas.yaml"
    personas.write_text(edit(("total_spending >= 1.5x population   #", "total_spending >= top 2%   #")))
    config = project / "config" / "reporter.yaml"
    write_config(config, source={"path": str(data)}, stability={"resamples": 0},
                 comparison={"enabled": False}, teams=[], output={"dir": str(project / "output")})
    assert main(["validate", "--config", str(config), "--data"]) == 0
    err = capsys.readouterr().err
    (warning,) = [line for line in err.splitlines() if "Premium" in line]
    assert ('persona "Premium" matches no segment: segment rules test a segment\'s average customer, '
            "and no segment averages p98 of total_spending ($") in warning
    assert "the highest segment averages $" in warning
    assert warning.endswith("or make it a customer-level flag (level: customer)")
    preview = run_main("personas", "preview", "--config", str(config))
    assert preview.returncode == 0, preview.stderr
    kept = len(frame)
    assert f"({kept:,} customers; {kept + 25:,} rows, 25 duplicate rows counted once," in preview.stdout
    assert warning.removeprefix("warning: ") in preview.stdout
