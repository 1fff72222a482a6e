"""The SmartCart customer table's columns, in the order the exports write them."""

from __future__ import annotations

SPEND_COLUMNS = (
    "MntWines",
    "MntFruits",
    "MntMeatProducts",
    "MntFishProducts",
    "MntSweetProducts",
    "MntGoldProds",
)
CHANNEL_COLUMNS = ("NumWebPurchases", "NumCatalogPurchases", "NumStorePurchases")
COUNT_COLUMNS = (
    "Kidhome",
    "Teenhome",
    "Recency",
    *SPEND_COLUMNS,
    "NumDealsPurchases",
    *CHANNEL_COLUMNS,
    "NumWebVisitsMonth",
    "Complain",
    "Response",
)
COLUMNS = (
    "ID",
    "Year_Birth",
    "Education",
    "Marital_Status",
    "Income",
    "Kidhome",
    "Teenhome",
    "Dt_Customer",
    "Recency",
    *SPEND_COLUMNS,
    "NumDealsPurchases",
    *CHANNEL_COLUMNS,
    "NumWebVisitsMonth",
    "Complain",
    "Response",
)
# Who accepted each of the five earlier campaigns (0/1): read when the export has them, as the
# full SmartCart layout does; an export without them still makes a brief.
CAMPAIGN_COLUMNS = tuple(f"AcceptedCmp{n}" for n in range(1, 6))
# Whole numbers that must be present on every row (Income may be missing and is imputed).
INTEGER_COLUMNS = ("ID", "Year_Birth", *COUNT_COLUMNS)
TEXT_COLUMNS = ("Education", "Marital_Status")
DATE_COLUMN = "Dt_Customer"
# The largest customer ID: every ID up to it is exact as a float64 (and in JSON, and JavaScript).
MAX_ID = 2**53 - 1
