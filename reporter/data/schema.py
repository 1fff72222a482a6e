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
# Whole numbers that must be present on every row (Income may be missing and is imputed).
INTEGER_COLUMNS = ("ID", "Year_Birth", *COUNT_COLUMNS)
TEXT_COLUMNS = ("Education", "Marital_Status")
DATE_COLUMN = "Dt_Customer"
