"""Alive probability and customer value: the saved BG/NBD and Gamma-Gamma parameters, what a
customer's history is in their terms, and the only scoring code (the fitting run scores its
own customers with it too, so a later run answers exactly as the fitting run did).

What the export says, read as a purchase history (assumptions, also in
docs/reference/segments-and-model.md):
- Time is counted in weeks (days / 7).
- A customer made their first purchase on joining (Dt_Customer): T, the weeks they have been
  watched, is their tenure in days at the export's date / 7.
- The web, catalog and store purchases (NumWebPurchases + NumCatalogPurchases +
  NumStorePurchases) are every purchase since joining: x, the repeat purchases, is that total
  minus 1 (never below 0).
- The last purchase was `Recency` days before the export's date: t_x, the week of the last
  purchase, is (tenure_days - Recency) / 7, held within 0 to T; a customer with no repeat
  purchase has t_x = 0, as BG/NBD has it.
- The spend per purchase is total spend / total purchases (every purchase weighs the same);
  Gamma-Gamma is fitted on customers with a repeat purchase (x > 0), averaged over their
  x + 1 purchases; a customer without any purchase gets the population's mean spend.
- clv_12m = expected purchases in the next 365 days x expected spend per purchase: not
  discounted (a year is short enough for the brief's decisions; a discount rate is one more
  number a reader would have to agree with).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

WEEK_DAYS = 7.0
HORIZON_90D = 90 / WEEK_DAYS
HORIZON_12M = 365 / WEEK_DAYS
METRICS = ("p_alive", "clv")  # usable in persona rules; clv is clv_12m
COLUMNS = ("p_alive", "purchases_90d", "clv_12m")  # what every customer gets
PARAMETERS = ("r", "alpha", "a", "b", "p", "q", "v")


@dataclass(frozen=True)
class History:
    """The purchase history BG/NBD and Gamma-Gamma read, in weeks, one entry per customer."""

    x: np.ndarray  # repeat purchases
    t_x: np.ndarray  # week of the last purchase, since joining
    T: np.ndarray  # weeks watched (tenure)
    purchases: np.ndarray  # every purchase (x + 1, or 0 for none)
    spend: np.ndarray  # mean spend per purchase (0 for none)


def history(frame) -> History:
    """A feature table's customers (a frame, or columns by name on the array path) as purchase
    histories (the assumptions above)."""
    purchases = np.maximum(np.asarray(frame["total_purchases"], dtype=float), 0.0)
    T = np.maximum(np.asarray(frame["tenure_days"], dtype=float), 0.0) / WEEK_DAYS
    x = np.maximum(purchases - 1.0, 0.0)
    t_x = np.clip(T - np.asarray(frame["recency"], dtype=float) / WEEK_DAYS, 0.0, T)
    t_x = np.where(x > 0, t_x, 0.0)
    spend = np.asarray(frame["total_spending"], dtype=float) / np.maximum(purchases, 1.0)
    return History(x, t_x, T, purchases, np.maximum(spend, 0.0))


@dataclass(frozen=True)
class LifetimeCheck:
    """How the fit was checked on the customers it was fitted on."""

    repeat_predicted: float  # expected repeat purchases per customer over their own tenure
    repeat_observed: float  # what they made
    spend_predicted: float  # Gamma-Gamma's mean spend per purchase of the repeat buyers
    spend_observed: float


@dataclass(frozen=True)
class SavedLifetime:
    """BG/NBD (r, alpha, a, b; alpha in weeks) and Gamma-Gamma (p, q, v) as fitted."""

    r: float
    alpha: float
    a: float
    b: float
    p: float
    q: float
    v: float
    rows_fitted: int  # customers the BG/NBD was fitted on (a seeded sample of the fitted rows)
    repeaters: int  # of them, customers with a repeat purchase (Gamma-Gamma's)
    check: LifetimeCheck
    unit_days: float = WEEK_DAYS


@dataclass(frozen=True)
class LifetimeScores:
    p_alive: np.ndarray
    purchases_90d: np.ndarray
    clv_12m: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        return {"p_alive": self.p_alive, "purchases_90d": self.purchases_90d, "clv_12m": self.clv_12m}


def gammaln(x: np.ndarray) -> np.ndarray:
    """scipy.special.gammaln. Every command that reads a run record imports this module, and
    only scoring and fitting need scipy.special's 0.35 s of imports: it is imported here."""
    from scipy.special import gammaln as log_gamma  # at first use: see the docstring

    return log_gamma(x)


def hyp2f1(a, b, c, z) -> np.ndarray:
    """scipy.special.hyp2f1, imported at the first use as gammaln is."""
    from scipy.special import hyp2f1 as gauss_hypergeometric  # at first use: see gammaln

    return gauss_hypergeometric(a, b, c, z)


def bgnbd_log_likelihood(r, alpha, a, b, h: History) -> np.ndarray:
    """Each customer's BG/NBD log-likelihood (Fader, Hardie & Lee 2005, equation 6)."""
    x, t_x, T = h.x, h.t_x, h.T
    first = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    second = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    stayed = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                        - (r + x) * np.log(alpha + t_x), -np.inf)
    return first + second + np.logaddexp(stayed, left)


def gamma_gamma_log_likelihood(p, q, v, n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Each customer's Gamma-Gamma log-likelihood of a mean spend `m` over `n` purchases
    (Fader & Hardie 2005, "The Gamma-Gamma model of monetary value"), up to terms that do
    not depend on the parameters."""
    return (gammaln(p * n + q) - gammaln(p * n) - gammaln(q) + q * np.log(v)
            + (p * n - 1) * np.log(m) + p * n * np.log(n) - (p * n + q) * np.log(v + n * m))


def alive(model: SavedLifetime, h: History) -> np.ndarray:
    """P(alive | x, t_x, T): 1 for a customer without a repeat purchase."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    with np.errstate(over="ignore"):
        log_ratio = np.log(a) - np.log(np.maximum(b + h.x - 1, 1e-300)) \
            + (r + h.x) * (np.log(alpha + h.T) - np.log(alpha + h.t_x))
        odds = np.where(h.x > 0, np.exp(np.minimum(log_ratio, 700.0)), 0.0)
    return 1.0 / (1.0 + odds)


def expected_purchases(model: SavedLifetime, h: History, weeks: float,
                       p_alive: np.ndarray | None = None, pairs=False) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next `weeks` (Fader, Hardie & Lee 2005,
    equation 10), every customer at once. The costly part (hyp2f1) depends on x and T alone,
    which a million customers share in some tens of thousands of pairs: it is computed once
    per pair (the same numbers in a third of the time)."""
    p_alive = alive(model, h) if p_alive is None else p_alive
    pairs = _pairs(h) if pairs is False else pairs  # False: not worked out yet
    if pairs is None:
        return np.maximum(_bracket(model, h.x, h.T, weeks) * p_alive, 0.0)
    codes, x, T = pairs
    return np.maximum(_bracket(model, x, T, weeks)[codes] * p_alive, 0.0)


def _bracket(model: SavedLifetime, x: np.ndarray, T: np.ndarray, weeks: float) -> np.ndarray:
    """E[Y(t)] for a customer known to be alive."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    z = weeks / (alpha + T + weeks)
    power = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + weeks)))
    return (a + b + x - 1) / (a - 1) * (1 - power * hyp2f1(r + x, b + x, a + b + x - 1, z))


def _pairs(h: History) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Each customer's pair number and the distinct (x, T) pairs, when x and the tenure in
    days are whole numbers (as an export's are); None otherwise."""
    days = h.T * WEEK_DAYS
    whole_days = np.round(days)
    if not len(days) or not (np.array_equal(h.x, np.round(h.x)) and np.array_equal(days, whole_days)
                             and h.x.max() < 2**30 and whole_days.max() < 2**31):
        return None
    keys = (h.x.astype(np.int64) << 32) | whole_days.astype(np.int64)
    codes, distinct = pd.factorize(keys)
    return codes, (distinct >> 32).astype(float), (distinct & 0xFFFFFFFF).astype(float) / WEEK_DAYS


def expected_spend(model: SavedLifetime, h: History) -> np.ndarray:
    """Gamma-Gamma's expected spend per purchase given each customer's mean over their
    purchases (the population mean p v / (q - 1) for a customer without any)."""
    p, q, v, n = model.p, model.q, model.v, h.purchases
    return p * (v + n * h.spend) / (p * n + q - 1)


def score_lifetime(model: SavedLifetime, frame: pd.DataFrame) -> LifetimeScores:
    """p_alive, purchases_90d and clv_12m of every customer of `frame`, vectorised."""
    h = history(frame)
    p_alive, pairs = alive(model, h), _pairs(h)
    return LifetimeScores(p_alive, expected_purchases(model, h, HORIZON_90D, p_alive, pairs),
                          expected_purchases(model, h, HORIZON_12M, p_alive, pairs)
                          * expected_spend(model, h))


def unconditional_repeats(model: SavedLifetime, weeks: np.ndarray) -> np.ndarray:
    """E[X(t)]: expected repeat purchases of a new customer over `weeks` (equation 9)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    power = np.exp(r * (np.log(alpha) - np.log(alpha + weeks)))
    return (a + b - 1) / (a - 1) * (1 - power * hyp2f1(r, b, a + b - 1, weeks / (alpha + weeks)))


def lifetime_problems(model: SavedLifetime) -> list[str]:
    """What would make scoring fail or answer nonsense; [] when nothing would. q above 1 (the
    expected spend needs it), a not 1 (E[Y(t)] divides by a - 1), every one above 0."""
    problems = []
    for name in (*PARAMETERS, "unit_days"):
        value = getattr(model, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            problems.append(f"lifetime.{name}: expected a finite number")
        elif value <= (1.0 if name == "q" else 0.0):
            problems.append(f"lifetime.{name}: {value}, expected above {1 if name == 'q' else 0}")
        elif name == "a" and abs(value - 1) < 1e-6:
            problems.append("lifetime.a: 1, where the expected purchases have no value")
    if not problems and model.unit_days != WEEK_DAYS:
        problems.append(f"lifetime.unit_days: {model.unit_days}, expected {WEEK_DAYS:g} (weeks)")
    for name in ("repeat_predicted", "repeat_observed", "spend_predicted", "spend_observed"):
        if not np.isfinite(getattr(model.check, name)):
            problems.append(f"lifetime.check.{name}: expected a finite number")
    for name in ("rows_fitted", "repeaters"):
        value = getattr(model, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"lifetime.{name}: expected a count, 0 or more")
    return problems


@dataclass(frozen=True)
class Lifetime:
    """The lifetime stage's answer: every customer's scores, or why there are none (`note`)."""

    scores: LifetimeScores | None
    model: SavedLifetime | None
    note: str = ""
    fitted: bool = False  # fitted this run (else scored with a saved model)


NO_SAVED = ("No alive probability this week: the saved segmentation has none (fitted by an older "
            "version, or refused for thin data); the next refit fits one.")


def score_week(model: SavedLifetime | None, frame: pd.DataFrame) -> Lifetime:
    """A scored week: the saved numbers, never a refit; a note when the model has none."""
    if model is None:
        return Lifetime(None, None, NO_SAVED)
    return Lifetime(score_lifetime(model, frame), model)


def add_scores(frame: pd.DataFrame, lifetime: Lifetime | None) -> None:
    """Give the feature table the rule metrics p_alive and clv (and purchases_90d, clv_12m for
    the exports) when the lifetime model scored; in place, as the features were built (a copy
    of a million rows would cost more than the scoring)."""
    if lifetime is None or lifetime.scores is None:
        return
    for name, values in lifetime.scores.columns().items():
        frame[name] = values
    frame["clv"] = lifetime.scores.clv_12m
