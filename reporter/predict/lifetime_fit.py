"""Fitting BG/NBD and Gamma-Gamma by maximum likelihood: their closed-form log-likelihoods
(lifetime.py) maximised with scipy's L-BFGS-B over the logarithms of the parameters, from a
fixed start, within bounds, on a seeded sample of at most `max_fit_rows` fitted customers.

A fit is refused, with a note the brief shows, when too few customers bought again to learn
from, when the optimiser does not converge, when a parameter ends at its bound, or when q is 1
or less (the expected spend has no finite value then) or a is 1 (E[Y(t)] divides by a - 1).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from reporter.data.features import FeatureTable
from reporter.predict.lifetime import (
    History,
    Lifetime,
    LifetimeCheck,
    SavedLifetime,
    bgnbd_log_likelihood,
    expected_spend,
    gamma_gamma_log_likelihood,
    history,
    score_lifetime,
    unconditional_repeats,
)
from reporter.predict.params import LifetimeParams

LOG_BOUNDS = (-9.0, 9.0)  # every parameter between about 1e-4 and 8,000
AT_BOUND = 0.01  # a log-parameter this close to a bound has not found its own value
START = 0.0  # every parameter starts at 1
A_NOT_ONE = 1e-6  # E[Y(t)] divides by a - 1


def fit_lifetime(table: FeatureTable, params: LifetimeParams) -> Lifetime:
    """A fit week: BG/NBD and Gamma-Gamma on a sample of the fitted customers, every
    customer scored with the saved numbers."""
    frame = table.frame
    in_fit = frame["in_fit"].to_numpy(bool)
    rows = np.flatnonzero(in_fit) if in_fit.any() else np.arange(len(frame))
    if len(rows) > params.max_fit_rows:
        rows = np.sort(np.random.default_rng(params.seed).choice(rows, params.max_fit_rows, replace=False))
    model, note = fit_history(history(frame.iloc[rows]), params.min_repeaters)
    if model is None:
        return Lifetime(None, None, note)
    return Lifetime(score_lifetime(model, frame), model, fitted=True)


def fit_history(h: History, min_repeaters: int) -> tuple[SavedLifetime | None, str]:
    """The saved parameters, or None and why not."""
    repeat = h.x > 0
    if int(repeat.sum()) < min_repeaters:
        return None, (f"No alive probability this week: {int(repeat.sum()):,} of the {len(h.x):,} "
                      f"customers fitted bought more than once; at least {min_repeaters:,} are "
                      "needed to learn how often customers buy and when they stop.")
    bg, why = _maximise(lambda r, alpha, a, b: bgnbd_log_likelihood(r, alpha, a, b, h),
                        ("r", "alpha", "a", "b"), "BG/NBD")
    if bg is None:
        return None, why
    n, m = h.purchases[repeat], h.spend[repeat]
    if not (m > 0).all():
        n, m = n[m > 0], m[m > 0]
    gg, why = _maximise(lambda p, q, v: gamma_gamma_log_likelihood(p, q, v, n, m),
                        ("p", "q", "v"), "Gamma-Gamma")
    if gg is None:
        return None, why
    refused = _without_mean(bg["a"], gg["q"])
    if refused:
        return None, refused
    shell = SavedLifetime(**bg, **gg, rows_fitted=len(h.x), repeaters=int(repeat.sum()),
                          check=LifetimeCheck(0.0, 0.0, 0.0, 0.0))
    return _checked(shell, h, n, m), ""


def _maximise(log_likelihood, names: tuple[str, ...], model: str) -> tuple[dict | None, str]:
    """The parameters maximising the mean log-likelihood, or None and the plain reason."""
    result = _optimum(log_likelihood, len(names), LOG_BOUNDS)
    fitted = dict(zip(names, (float(v) for v in np.exp(result.x)), strict=True))
    if not result.success or not np.isfinite(result.fun):
        return None, (f"No alive probability this week: the {model} fit did not settle on its "
                      "parameters; the data may be too thin or too regular to learn from.")
    edge = [name for name, log in zip(names, result.x, strict=True)
            if min(log - LOG_BOUNDS[0], LOG_BOUNDS[1] - log) < AT_BOUND]
    if edge:  # said to a manager first; the analyst's words in brackets
        return None, (f"No alive probability this week: this export does not show clearly how often "
                      "customers buy and when they stop, so nobody can be told apart as still "
                      f"buying{_why(edge, result.x)} [the {model} fit put {', '.join(edge)} at the "
                      "edge of its range].")
    return fitted, ""


def _why(edge: list[str], logs: np.ndarray) -> str:
    """What a parameter at its edge says about the export, in the two cases seen in practice."""
    if edge == ["alpha"] or ("alpha" in edge and logs[1] < 0):
        return ("; customers bought far more often than their time since joining allows: the "
                "purchase counts may cover a longer period than Dt_Customer says")
    if "a" in edge and logs[2] < 0:
        return "; no customer looks as if they stopped buying"
    return ""


def _optimum(log_likelihood, count: int, bounds: tuple[float, float]):
    def loss(logs: np.ndarray) -> float:
        value = -float(np.mean(log_likelihood(*np.exp(logs))))
        return value if np.isfinite(value) else 1e300

    return minimize(loss, np.full(count, START), method="L-BFGS-B", bounds=[bounds] * count,
                    options={"maxiter": 1000})


def unbounded_fit(h: History, bounds: tuple[float, float] = (-30.0, 30.0)) -> dict[str, float]:
    """Where the likelihoods peak with far wider bounds, for comparing a refused fit
    (benchmarks): no check, never saved."""
    repeat = h.x > 0
    n, m = h.purchases[repeat], h.spend[repeat]
    bg = _optimum(lambda r, alpha, a, b: bgnbd_log_likelihood(r, alpha, a, b, h), 4, bounds)
    gg = _optimum(lambda p, q, v: gamma_gamma_log_likelihood(p, q, v, n[m > 0], m[m > 0]), 3, bounds)
    return dict(zip(("r", "alpha", "a", "b", "p", "q", "v"),
                    (float(v) for v in np.exp([*bg.x, *gg.x])), strict=True))


def _without_mean(a: float, q: float) -> str:
    if abs(a - 1) < A_NOT_ONE:
        return ("No alive probability this week: the BG/NBD fit gave a = 1, where the expected "
                "purchases formula has no value; the next refit tries again.")
    if q <= 1:
        return (f"No alive probability this week: the Gamma-Gamma fit gave q = {q:.2f} (at most "
                "1), for which the expected spend per purchase has no finite value.")
    return ""


def _checked(model: SavedLifetime, h: History, n: np.ndarray, m: np.ndarray) -> SavedLifetime:
    """The fit against what the fitted customers did: repeat purchases over their own tenure,
    and the repeat buyers' spend per purchase."""
    repeats = unconditional_repeats(model, h.T)
    spend = expected_spend(model, History(np.zeros(0), np.zeros(0), np.zeros(0), n, m))
    check = LifetimeCheck(float(np.mean(repeats)), float(np.mean(h.x)), float(np.mean(spend)),
                          float(np.mean(m)))
    return replace(model, check=check)


def fitted_parameters(frame: pd.DataFrame, min_repeaters: int = 1) -> SavedLifetime | None:
    """The parameters fitted on every customer of `frame` (benchmarks, tests)."""
    return fit_history(history(frame), min_repeaters)[0]
