"""Features: the one registry of customer metrics that the model, the persona rules and the
brief all use, and the code that computes them.

Age and tenure are measured at the data's own reference date (the newest join date, or
--as-of), never at today's date: a brief re-rendered next year must say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from reporter.data.clean import Customers
from reporter.data.formulas import CAMPAIGN_FEATURES as CAMPAIGN_FEATURES  # re-exported
from reporter.data.formulas import CAMPAIGN_FORMULAS, FORMULAS, PandasColumns
from reporter.data.formulas import CATEGORY_FEATURES as CATEGORY_FEATURES
from reporter.data.formulas import CATEGORY_SHARES as CATEGORY_SHARES
from reporter.data.formulas import CHANNEL_FEATURES as CHANNEL_FEATURES
from reporter.data.formulas import CHANNEL_SHARES as CHANNEL_SHARES
from reporter.data.schema import CAMPAIGN_COLUMNS


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    unit: str  # "money", "count", "days", "years", "ratio", "people", "score"
    description: str
    high: str = ""  # plain words for a group well above the population, e.g. "big spenders"
    low: str = ""


REGISTRY: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("income", "Income", "money", "Yearly household income",
                "higher income", "lower income"),
        Feature("total_spending", "Total spend", "money", "Spend on all product categories",
                "big spenders", "low spend"),
        Feature("total_purchases", "Purchases", "count", "Web, catalog and store purchases",
                "buy often", "buy rarely"),
        Feature("recency", "Days since last purchase", "days", "Days since the last purchase",
                "long since last purchase", "bought recently"),
        Feature("age", "Age", "years", "Age at the data's reference date", "older", "younger"),
        Feature("tenure_days", "Tenure (days)", "days", "Days since joining",
                "long-standing customers", "recently joined"),
        Feature("children", "Children", "people", "Children and teenagers at home",
                "families with children", "few or no children"),
        Feature("family_size", "Family size", "people", "Adults plus children at home"),
        Feature("spend_per_purchase", "Spend per purchase", "money", "Average basket value",
                "large baskets", "small baskets"),
        Feature("deal_share", "Deal share", "ratio", "Share of purchases made with a discount",
                "deal-driven", "rarely use deals"),
        Feature("web_visits", "Web visits / month", "count", "Website visits last month",
                "frequent web visitors", "rare web visitors"),
        Feature("web_visits_per_purchase", "Visits per web purchase", "ratio",
                "Monthly web visits per web purchase"),
        Feature("wines", "Wine spend", "money", "Spend on wine"),
        Feature("fruits", "Fruit spend", "money", "Spend on fruit"),
        Feature("meat", "Meat spend", "money", "Spend on meat"),
        Feature("fish", "Fish spend", "money", "Spend on fish"),
        Feature("sweets", "Sweets spend", "money", "Spend on sweets"),
        Feature("gold", "Gold spend", "money", "Spend on gold products"),
        Feature("web_purchases", "Web purchases", "count", "Purchases on the website"),
        Feature("catalog_purchases", "Catalog purchases", "count", "Purchases from the catalog"),
        Feature("store_purchases", "Store purchases", "count", "Purchases in stores"),
        *(Feature(share, f"{label} share of spend", "ratio",
                  f"Spend on {label.lower()} / total spend (0 when nothing was spent)")
          for share, label in zip(CATEGORY_SHARES, ("Wine", "Fruit", "Meat", "Fish", "Sweets", "Gold"),
                                  strict=True)),
        *(Feature(share, f"{label} share of purchases", "ratio",
                  f"{label} purchases / web, catalog and store purchases (0 when none)")
          for share, label in zip(CHANNEL_SHARES, ("Web", "Catalog", "Store"), strict=True)),
        Feature("complained", "Complained", "ratio", "Complained in the last two years"),
        Feature("r_score", "Recency score", "score",
                "RFM recency, 1-5 by quintile: 5 = bought most recently"),
        Feature("f_score", "Frequency score", "score",
                "RFM frequency (web + catalog + store purchases), 1-5 by quintile"),
        Feature("m_score", "Monetary score", "score", "RFM monetary (total spend), 1-5 by quintile"),
        Feature("responded", "Answered the last campaign", "ratio",
                "Accepted the offer of the last campaign (Response)"),
        Feature("accepted_campaigns", "Earlier campaigns accepted", "count",
                "How many of the five earlier campaign offers were accepted (AcceptedCmp1-5)"),
        *(Feature(f"accepted_cmp{n}", f"Campaign {n}", "ratio",
                  f"Accepted the offer of earlier campaign {n} (AcceptedCmp{n})")
          for n in range(1, 6)),
        # predicted, not computed from the export (predict/lifetime.py): in the table only in a
        # week with a lifetime model; a rule on them is left out, with a note, in one without
        Feature("p_alive", "Alive probability", "ratio",
                "Chance the customer still buys (BG/NBD, from purchases, recency and tenure)"),
        Feature("clv", "12-month value", "money",
                "Expected spend in the next 12 months (BG/NBD x Gamma-Gamma, not discounted)"),
    )
}
PREDICTED_FEATURES = ("p_alive", "clv")
# Spend and purchase counts cover the export's whole period (the last two years in SmartCart's
# layout), never a week: the brief says so beside each of them.
OVER_PERIOD = ("total_spending", "total_purchases", "wines", "fruits", "meat", "fish", "sweets",
               "gold", "web_purchases", "catalog_purchases", "store_purchases")
CATEGORICAL = ("education", "living_with")


RFM_QUINTILES = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True)
class RfmCuts:
    """Quintile cut-points of recency, frequency and monetary value, frozen when the model is
    fitted: a customer's scores change when the customer changes, not when others do."""

    recency: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> RfmCuts:
        # the three columns alone: the fitted rows of every feature were a copy of the table
        ranked = frame[["recency", "total_purchases", "total_spending"]]
        fitted = ranked[frame["in_fit"]] if frame["in_fit"].any() else ranked

        def cuts(column: str) -> tuple[float, ...]:
            return tuple(float(v) for v in np.quantile(fitted[column], RFM_QUINTILES))
        return cls(cuts("recency"), cuts("total_purchases"), cuts("total_spending"))

    def scores(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        def score(column: str, cuts: tuple[float, ...]) -> np.ndarray:
            return 1.0 + np.searchsorted(np.asarray(cuts), np.asarray(frame[column]), side="right")
        return {
            "r_score": 6.0 - score("recency", self.recency),  # recent buyers score high
            "f_score": score("total_purchases", self.frequency),
            "m_score": score("total_spending", self.monetary),
        }


@dataclass(frozen=True)
class FeatureTable:
    """One row per customer: ID, every registry feature, the categorical columns, `in_fit`."""

    frame: pd.DataFrame
    as_of: date
    rfm: RfmCuts

    def numeric(self, names: list[str] | tuple[str, ...]) -> pd.DataFrame:
        return self.frame[list(names)]


def build_features(customers: Customers, rfm: RfmCuts | None = None) -> FeatureTable:
    """Every registry feature per customer, by the formulas every engine shares
    (data/formulas.py). RFM scores use `rfm` (a saved model's cut-points) or, without it,
    cut-points fitted on these customers."""
    source = customers.frame
    columns = PandasColumns(source)
    formulas = dict(FORMULAS)
    if all(column in source for column in CAMPAIGN_COLUMNS):
        formulas.update(CAMPAIGN_FORMULAS)
    frame = pd.DataFrame({"ID": source["ID"]})
    for name, formula in formulas.items():
        frame[name] = formula(columns, customers.as_of)
    for name in CATEGORICAL:
        frame[name] = source[name]
    frame["in_fit"] = source["in_fit"]
    frame["other_ids"] = source.get("other_ids", "")
    rfm = rfm or RfmCuts.fit(frame)
    for name, values in rfm.scores(frame).items():
        frame[name] = values
    return FeatureTable(frame=frame, as_of=customers.as_of, rfm=rfm)
