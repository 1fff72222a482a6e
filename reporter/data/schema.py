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
# Yes (1) or no (0): a 7 would print a response rate of 207% and teach the models nonsense.
YES_NO_COLUMNS = ("Complain", "Response", *CAMPAIGN_COLUMNS)
# What a new customer (a sign-up, a CRM batch scored by `reporter assign` or `reporter serve`)
# may leave out: no campaign answered, none accepted, no complaint yet. Each is read as 0.
NEWCOMER_ZEROS = YES_NO_COLUMNS
# Whole numbers that must be present on every row (Income may be missing and is imputed).
INTEGER_COLUMNS = ("ID", "Year_Birth", *COUNT_COLUMNS)
TEXT_COLUMNS = ("Education", "Marital_Status")
DATE_COLUMN = "Dt_Customer"

# The range of every whole number (and Income), declared once for the file, database and API
# checks. No count, amount or income in a customer export comes near MAX_COUNT (load's
# MAX_PLAUSIBLE); IDs are read through float64 (and by JSON clients as doubles), which hold
# whole numbers exactly up to 2**53 - 1.
MAX_COUNT = 100_000_000
MAX_ID = 2**53 - 1
WHOLE_RANGES = {column: (0, MAX_ID if column == "ID" else 1 if column in YES_NO_COLUMNS else MAX_COUNT)
                for column in (*INTEGER_COLUMNS, *CAMPAIGN_COLUMNS)}
