"""The embedded sample: a synthetic customer table in the exact SmartCart schema.

Customers are drawn from latent types that marketing teams recognise (affluent high spenders,
mainstream households, budget families buying on deals, lapsing customers, web browsers who
visit often and buy little), so the segmentation has real structure to find. The figures are
calibrated against the real seed table (medians of income, total spend and recency) and the
real file's oddities are kept on purpose, so cleaning is exercised on every demo run.
The same seed gives the same file, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from reporter.csvcells import neutralise_frame
from reporter.data.load import missing_columns_problem, read_cells
from reporter.data.schema import CAMPAIGN_COLUMNS, COLUMNS, DATE_COLUMN, INTEGER_COLUMNS, SPEND_COLUMNS
from reporter.errors import DataError

LAYOUT = [*COLUMNS, *CAMPAIGN_COLUMNS]  # the full SmartCart export

FIRST_JOINED = date(2012, 7, 30)
DEFAULT_AS_OF = date(2014, 6, 29)


@dataclass(frozen=True)
class CustomerType:
    name: str
    weight: float
    income_mean: float
    income_sd: float
    spend_per_income: float  # median yearly spend per 1,000 of income
    spend_sigma: float  # lognormal spread of spend around that median
    kids: tuple[float, float, float]  # P(0, 1, 2 young children)
    teens: tuple[float, float, float]
    deals_mean: float
    web_visits_mean: float
    channel_mix: tuple[float, float, float]  # web, catalog, store
    category_mix: tuple[float, float, float, float, float, float]  # wine..gold
    recency_range: tuple[int, int]
    response_rate: float
    campaign_rates: tuple[float, float, float, float, float] = (0.06, 0.01, 0.07, 0.06, 0.05)


TYPES = (
    CustomerType(
        "affluent", 0.24, 76_000, 11_000, 19.0, 0.35, (0.9, 0.1, 0.0), (0.7, 0.28, 0.02),
        1.2, 3.0, (0.3, 0.3, 0.4), (0.48, 0.05, 0.32, 0.07, 0.05, 0.03), (0, 99), 0.28,
        (0.10, 0.03, 0.06, 0.12, 0.22),
    ),
    CustomerType(
        "mainstream", 0.28, 57_000, 10_000, 12.5, 0.55, (0.7, 0.28, 0.02), (0.35, 0.6, 0.05),
        2.8, 5.0, (0.38, 0.14, 0.48), (0.55, 0.03, 0.2, 0.04, 0.04, 0.14), (0, 99), 0.12,
        (0.06, 0.01, 0.07, 0.09, 0.04),
    ),
    CustomerType(
        "budget_family", 0.30, 33_000, 9_000, 1.6, 0.75, (0.2, 0.7, 0.1), (0.5, 0.45, 0.05),
        2.6, 7.2, (0.38, 0.06, 0.56), (0.35, 0.08, 0.25, 0.1, 0.08, 0.14), (0, 99), 0.08,
        (0.03, 0.0, 0.08, 0.02, 0.0),
    ),
    CustomerType(
        "lapsing", 0.10, 50_000, 15_000, 5.0, 0.8, (0.55, 0.4, 0.05), (0.5, 0.45, 0.05),
        2.0, 5.0, (0.34, 0.16, 0.5), (0.5, 0.04, 0.25, 0.06, 0.05, 0.1), (70, 99), 0.04,
        (0.05, 0.01, 0.05, 0.04, 0.02),
    ),
    CustomerType(
        "web_browser", 0.08, 42_000, 12_000, 2.0, 0.7, (0.45, 0.5, 0.05), (0.6, 0.37, 0.03),
        2.4, 8.5, (0.7, 0.05, 0.25), (0.4, 0.06, 0.28, 0.08, 0.06, 0.12), (0, 99), 0.10,
        (0.07, 0.01, 0.09, 0.05, 0.01),
    ),
)

EDUCATION = (("Graduation", 0.503), ("PhD", 0.217), ("Master", 0.165), ("2n Cycle", 0.091),
             ("Basic", 0.024))
MARITAL = (("Married", 0.386), ("Together", 0.259), ("Single", 0.2145), ("Divorced", 0.1036),
           ("Widow", 0.0344))
# Per 2,240 customers, as in the real table: odd values a cleaning stage must handle.
RARE_MARITAL = (("Alone", 3), ("Absurd", 2), ("YOLO", 2))
ODD_BIRTH_YEARS = (1893, 1899, 1900)
MAX_RECENCY = 99  # the export counts days since the last purchase up to 99
MISSING_INCOME_RATE = 24 / 2240
ODD_ROWS_FROM = 100  # smaller samples stay clean: a handful of rows would be all oddities
SPEND_CEILING = 2_600  # the real table's largest two-year spend is about 2,500


def generate(rows: int, seed: int, as_of: date = DEFAULT_AS_OF, response: str = "types") -> pd.DataFrame:
    """A customer table of `rows` customers in the SmartCart column order. `response`:
    "types" (each latent type answers at its own rate) or "logistic" (Response drawn from
    `true_response_probability`, a known logistic model in which AcceptedCmp1-5 carry signal)."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)
    weights = np.array([t.weight for t in TYPES])
    kinds = rng.choice(len(TYPES), size=rows, p=weights / weights.sum())
    parts = [_customers_of_type(TYPES[k], int((kinds == k).sum()), rng) for k in range(len(TYPES))]
    table = pd.concat(parts, ignore_index=True)
    kind_of_row = np.repeat(np.arange(len(TYPES)), [len(p) for p in parts])
    order = np.argsort(rng.permutation(rows), kind="stable")
    table, kind_of_row = table.iloc[order].reset_index(drop=True), kind_of_row[order]
    table.insert(0, "ID", rng.choice(max(rows * 5, 11_200), size=rows, replace=False))
    table["Year_Birth"] = np.clip(np.round(rng.normal(1969, 11.7, rows)), 1940, 1996).astype(int)
    table["Education"] = _pick(rng, EDUCATION, rows)
    table["Marital_Status"] = _pick(rng, MARITAL, rows)
    table["Dt_Customer"] = _join_dates(rng, rows, as_of)
    table["Complain"] = (rng.random(rows) < 0.0094).astype(int)
    if rows >= ODD_ROWS_FROM:
        _add_oddities(table, rng)
    _add_campaigns(table, kind_of_row, np.random.default_rng(seed + 7919))
    if response == "logistic":
        chance = true_response_probability(table, as_of)
        table["Response"] = (np.random.default_rng(seed + 104_729).random(rows) < chance).astype(int)
    elif response != "types":
        raise ValueError("response must be 'types' or 'logistic'")
    return table[LAYOUT]


# The known response model of generate(response="logistic"): log-odds per unit of each column.
RESPONSE_LOGIT = {
    "intercept": -3.0, "Recency": -0.03, "NumCatalogPurchases": 0.15, "log_spend": 0.5,
    "children": -0.4, "tenure_days": 0.0015, "alone": 0.6, "AcceptedCmp": 1.1,
}
RESPONSE_CENTRES = {"Recency": 50, "log_spend": 6.0, "tenure_days": 350}


def true_response_probability(table: pd.DataFrame, as_of: date = DEFAULT_AS_OF) -> np.ndarray:
    """Each customer's true chance of answering under RESPONSE_LOGIT (a generated table's
    raw columns; tenure counted to `as_of`, the newest join date of a generated table)."""
    w, c = RESPONSE_LOGIT, RESPONSE_CENTRES
    spend = np.log1p(table[list(SPEND_COLUMNS)].sum(axis=1).to_numpy(float))
    joined = pd.to_datetime(table["Dt_Customer"], format="%d-%m-%Y")
    tenure = (pd.Timestamp(as_of) - joined).dt.days.to_numpy(float)
    alone = table["Marital_Status"].isin(["Single", "Divorced", "Widow", "Alone"]).to_numpy(float)
    logit = (w["intercept"] + w["Recency"] * (table["Recency"].to_numpy(float) - c["Recency"])
             + w["NumCatalogPurchases"] * table["NumCatalogPurchases"].to_numpy(float)
             + w["log_spend"] * (spend - c["log_spend"])
             + w["children"] * (table["Kidhome"] + table["Teenhome"]).to_numpy(float)
             + w["tenure_days"] * (tenure - c["tenure_days"]) + w["alone"] * alone
             + w["AcceptedCmp"] * table[list(CAMPAIGN_COLUMNS)].sum(axis=1).to_numpy(float))
    return 1.0 / (1.0 + np.exp(-logit))


def _add_campaigns(table: pd.DataFrame, kind_of_row: np.ndarray, rng: np.random.Generator) -> None:
    """AcceptedCmp1-5 by customer type, from their own random stream so every other column
    stays what the same seed always gave."""
    rates = np.array([t.campaign_rates for t in TYPES])[kind_of_row]
    accepted = rng.random(rates.shape) < rates
    for index, column in enumerate(CAMPAIGN_COLUMNS):
        table[column] = accepted[:, index].astype(int)


def _customers_of_type(kind: CustomerType, n: int, rng: np.random.Generator) -> pd.DataFrame:
    income = np.clip(rng.normal(kind.income_mean, kind.income_sd, n), 4_000, 160_000)
    spend = np.exp(rng.normal(np.log(income / 1000 * kind.spend_per_income), kind.spend_sigma))
    spend = 5 + SPEND_CEILING * np.tanh(spend / SPEND_CEILING)  # a soft ceiling: no pile-up at a cap
    mix = rng.dirichlet(np.array(kind.category_mix) * 20, n)
    amounts = np.round(mix * spend[:, None]).astype(int)
    purchases = np.clip(np.round(0.5 + 4.2 * np.log1p(spend / 20) + rng.normal(0, 2.2, n)), 0, 40)
    channels = rng.multinomial(purchases.astype(int), kind.channel_mix)
    low, high = kind.recency_range
    frame = pd.DataFrame(
        {
            "Income": np.round(income),
            "Kidhome": rng.choice(3, size=n, p=kind.kids),
            "Teenhome": rng.choice(3, size=n, p=kind.teens),
            "Recency": rng.integers(low, high + 1, size=n),
            "NumDealsPurchases": np.minimum(rng.poisson(kind.deals_mean, n), 15),
            "NumWebPurchases": np.minimum(channels[:, 0], 27),
            "NumCatalogPurchases": np.minimum(channels[:, 1], 28),
            "NumStorePurchases": np.minimum(channels[:, 2], 13),
            "NumWebVisitsMonth": np.minimum(rng.poisson(kind.web_visits_mean, n), 20),
            "Response": (rng.random(n) < kind.response_rate).astype(int),
        }
    )
    for column, values in zip(SPEND_COLUMNS, amounts.T, strict=True):
        frame[column] = values
    return frame


def _pick(rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    labels = [label for label, _ in options]
    weights = np.array([weight for _, weight in options])
    return rng.choice(labels, size=n, p=weights / weights.sum())


def _join_dates(rng: np.random.Generator, n: int, as_of: date) -> list[str]:
    span = (DEFAULT_AS_OF - FIRST_JOINED).days
    days_before = rng.integers(0, span + 1, size=n)
    days_before[rng.integers(n)] = 0  # the newest customer joined on the as-of date itself
    return [(as_of - timedelta(days=int(d))).strftime("%d-%m-%Y") for d in days_before]


def _add_oddities(table: pd.DataFrame, rng: np.random.Generator) -> None:
    rows = len(table)
    scale = rows / 2240
    positions = iter(rng.permutation(rows))
    for year in ODD_BIRTH_YEARS[: max(1, round(len(ODD_BIRTH_YEARS) * scale))]:
        table.loc[next(positions), "Year_Birth"] = year
    for label, count in RARE_MARITAL:
        for _ in range(max(1, round(count * scale))):
            table.loc[next(positions), "Marital_Status"] = label
    for _ in range(max(1, round(scale))):
        table.loc[next(positions), "Income"] = 666_666
    missing = max(1, round(rows * MISSING_INCOME_RATE))
    table.loc[[next(positions) for _ in range(missing)], "Income"] = np.nan


def age(table: pd.DataFrame, days: int, seed: int, buy_rate: float | None = None,
        join_rate: float = 0.02, leave_rate: float = 0.01, contacted: np.ndarray | None = None,
        effect: float = 0.0) -> pd.DataFrame:
    """The same customers `days` later: most did not buy (recency grows), some bought (recency
    resets, one more purchase, spend grows), a few left the export and a few new customers
    joined, each of them possible: joined on or before the new as-of date, last bought no
    earlier than they joined, at least one purchase and no more deals than purchases.

    Recency in the real export is spread evenly over 0-99 days: every customer buys at least
    once in 100 days. So by default a customer buys with probability days/100, and one whose
    recency would pass 99 has bought; the recency distribution then stays as it was, as it
    does week to week in a steady business.

    A known effect for checking a measurement: each customer whose ID is in `contacted` buys
    with probability `effect` more (up to certainty; `buy_probability` gives each one's)."""
    rng = np.random.default_rng(seed)
    newest = pd.to_datetime(table["Dt_Customer"], format="%d-%m-%Y").max().date()  # its as-of
    first_new_id = int(table["ID"].max()) + 1  # before leavers go: a leaver's ID is never reused
    table = table[rng.random(len(table)) >= leave_rate].reset_index(drop=True)
    chance = buy_probability(table, days, buy_rate, contacted, effect)
    bought = rng.random(len(table)) < chance
    table["Recency"] = np.where(bought, rng.integers(0, days, len(table)), table["Recency"] + days)
    for column in SPEND_COLUMNS:
        extra = np.round(table[column] * rng.uniform(0.0, 0.15, len(table)))
        table[column] = (table[column] + np.where(bought, extra, 0)).astype(int)
    _one_more_purchase(table, bought)
    joined = generate(max(1, round(len(table) * join_rate)), seed + 1, newest + timedelta(days=days))
    joined["ID"] = np.arange(len(joined)) + first_new_id
    tenure = rng.integers(0, days, len(joined))  # days before the new as-of date: 0..days-1
    tenure[-1] = 0  # the newest joined on the as-of date itself
    as_of = newest + timedelta(days=days)
    joined["Dt_Customer"] = [(as_of - timedelta(days=int(d))).strftime("%d-%m-%Y") for d in tenure]
    _newly_joined(joined, tenure, rng)
    return pd.concat([table, joined], ignore_index=True)[[c for c in LAYOUT if c in table]]


def read_to_age(path: Path) -> pd.DataFrame:
    """The table `reporter sample --age` ages, with its values as written (a user's text is
    aged as it is), refused in one line where `age` cannot work on it: a missing, empty or
    unreadable file (load's own messages), a missing column, a count that is not a number, a
    join date not written dd-mm-YYYY. Each was a traceback (KeyError, EmptyDataError)."""
    if not path.is_file():
        raise DataError(f"{path}: no such file; give --age the customer CSV to age (one "
                        "`reporter sample --out` wrote, or an export)")
    cells = read_cells(path)
    try:
        table = pd.read_csv(path)
    except (UnicodeDecodeError, pd.errors.ParserError):
        table = pd.DataFrame()
    missing = [c for c in COLUMNS if c not in table]
    if missing and not [c for c in COLUMNS if c not in cells]:
        raise DataError(f"{path}: --age reads a UTF-8, comma-separated CSV, as `reporter sample` "
                        "writes it; save the file so and run again")
    if missing:
        raise DataError(f"{path}: {missing_columns_problem(missing)}")
    _check_to_age(path, table)
    return table


def _check_to_age(path: Path, table: pd.DataFrame) -> None:
    """The first value `age` could not compute with, named by its file line."""
    for column in INTEGER_COLUMNS:
        bad = pd.to_numeric(table[column], errors="coerce").isna()
        if bad.any():
            raise DataError(f"{path}: column {column}: line {bad.idxmax() + 2} "
                            f"{_held(table[column][bad.idxmax()])}, not a number; write a plain "
                            "number there and run again")
    dates = pd.to_datetime(table[DATE_COLUMN], format="%d-%m-%Y", errors="coerce").isna()
    if dates.any():
        raise DataError(f"{path}: column {DATE_COLUMN}: line {dates.idxmax() + 2} "
                        f"{_held(table[DATE_COLUMN][dates.idxmax()])}; --age reads join dates "
                        "written dd-mm-YYYY, as `reporter sample` writes them")


def _held(value: object) -> str:
    return "is empty" if pd.isna(value) else f"holds {str(value)[:40]!r}"


def buy_probability(table: pd.DataFrame, days: int, buy_rate: float | None = None,
                    contacted: np.ndarray | None = None, effect: float = 0.0) -> np.ndarray:
    """Each customer's chance of buying within `days` under `age`: days/100 (or `buy_rate`),
    certain for one whose recency would pass 99, and `effect` more for the `contacted` IDs."""
    rate = days / (MAX_RECENCY + 1) if buy_rate is None else buy_rate
    chance = np.full(len(table), float(rate))
    if contacted is not None and effect:
        chance += effect * table["ID"].isin(contacted).to_numpy()
    chance[(table["Recency"] + days > MAX_RECENCY).to_numpy()] = 1.0
    return np.clip(chance, 0.0, 1.0)


PURCHASE_CAPS = (("NumStorePurchases", 13), ("NumWebPurchases", 27), ("NumCatalogPurchases", 28))


def _one_more_purchase(table: pd.DataFrame, bought: np.ndarray) -> None:
    """A customer who bought has one purchase more, in the first channel below the export's cap."""
    pending = np.asarray(bought, dtype=bool).copy()
    for column, cap in PURCHASE_CAPS:
        room = pending & (table[column] < cap).to_numpy()
        table[column] = (table[column] + room).astype(int)
        pending &= ~room


def _newly_joined(joined: pd.DataFrame, tenure: np.ndarray, rng: np.random.Generator) -> None:
    """Customers of `tenure` days: their last purchase within those days, at least one
    purchase, deals no more than purchases. (Their spend stays drawn as for anyone: scaling it
    to their few days moved the sample's segments enough to empty a persona.)"""
    joined["Recency"] = rng.integers(0, tenure + 1)
    none = (joined[[c for c, _ in PURCHASE_CAPS]].sum(axis=1) == 0).to_numpy()
    joined["NumStorePurchases"] = (joined["NumStorePurchases"] + none).astype(int)
    purchases = joined[[c for c, _ in PURCHASE_CAPS]].sum(axis=1)
    joined["NumDealsPurchases"] = np.minimum(joined["NumDealsPurchases"], purchases).astype(int)


def write(table: pd.DataFrame, out: Path) -> Path:
    """Write the table as the real exports are written: comma-separated, dd-mm-YYYY dates (text
    that a spreadsheet would run as a formula neutralised, as in every CSV written)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    table = neutralise_frame(table.assign(Income=table["Income"].astype("Int64")))
    tmp = out.with_name(f".{out.name}.tmp")
    table.to_csv(tmp, index=False, lineterminator="\n")
    tmp.replace(out)
    return out


@dataclass(frozen=True)
class LifetimeTruth:
    """Known BG/NBD (r, alpha in weeks, a, b) and Gamma-Gamma (p, q, v) parameters."""

    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    v: float

    @classmethod
    def parse(cls, text: str) -> LifetimeTruth:
        """"r,alpha,a,b,p,q,v": seven numbers above 0 (q above 1)."""
        parts = text.split(",")
        if len(parts) != 7:
            raise ValueError("expected seven numbers r,alpha,a,b,p,q,v, such as 0.8,8,0.8,2.5,6,4,15")
        values = [float(part) for part in parts]
        if not all(np.isfinite(values)) or min(values) <= 0 or values[5] <= 1:
            raise ValueError("every parameter must be above 0, and q above 1")
        return cls(*values)


def with_lifetime(table: pd.DataFrame, truth: LifetimeTruth, seed: int) -> pd.DataFrame:
    """The same customers with purchases, recency and spend drawn from BG/NBD and Gamma-Gamma:
    each joined with a first purchase on Dt_Customer and buys at rate lambda ~ Gamma(r, alpha)
    per week until, after a repeat purchase, they stop with chance p ~ Beta(a, b); each
    purchase's value is Gamma(p, nu) with nu ~ Gamma(q, v). The export's caps (99 days of
    recency, the channel maxima) do not apply: the table is what the models say."""
    rng = np.random.default_rng(seed)
    joined = pd.to_datetime(table["Dt_Customer"], format="%d-%m-%Y")
    tenure = (joined.max() - joined).dt.days.to_numpy(float)
    x, t_x = _bgnbd_histories(truth, tenure / 7.0, rng)
    purchases = x + 1
    nu = rng.gamma(truth.q, 1.0 / truth.v, len(table))
    spend = rng.gamma(truth.p * purchases, 1.0 / nu)
    table = table.copy()
    table["Recency"] = np.round(tenure - t_x * 7.0).astype(int)
    mix = np.array(TYPES[0].channel_mix)
    for column, values in zip(("NumWebPurchases", "NumCatalogPurchases", "NumStorePurchases"),
                              rng.multinomial(purchases, mix / mix.sum()).T, strict=True):
        table[column] = values
    table["NumDealsPurchases"] = np.minimum(table["NumDealsPurchases"], purchases)
    shares = rng.dirichlet(np.array(TYPES[1].category_mix) * 20, len(table))
    amounts = np.floor(shares * spend[:, None])
    amounts[:, 0] += np.round(spend - amounts.sum(axis=1))  # the parts add up to the whole
    for column, values in zip(SPEND_COLUMNS, amounts.T, strict=True):
        table[column] = values.astype(int)
    return table


def _bgnbd_histories(truth: LifetimeTruth, T: np.ndarray, rng: np.random.Generator):
    """Repeat purchases x and the week of the last one t_x within T weeks: purchases come as
    a Poisson process, and the customer stops after the K-th repeat purchase, K geometric."""
    rate = rng.gamma(truth.r, 1.0 / truth.alpha, len(T))
    stop = rng.beta(truth.a, truth.b, len(T))
    arrivals = rng.poisson(rate * T)
    last = rng.geometric(stop)  # the repeat purchase after which they stop
    x = np.minimum(arrivals, last)
    # the x-th of `arrivals` uniform times on [0, T] is T * Beta(x, arrivals - x + 1)
    bought = x > 0
    t_x = np.zeros(len(T))
    t_x[bought] = T[bought] * rng.beta(x[bought], arrivals[bought] - x[bought] + 1)
    return x, t_x
