"""Pure functions of the pipeline answered once per worker for each distinct input: the suite
briefs the same generated table a few hundred times, and drawing its ten charts (matplotlib to
SVG) and fitting its models (the k search, the propensity model's cross-validation) is about
a third of a warm run. Each of these is a pure function of its arguments (fixed seeds, a fixed
SVG hash salt, no date in a file), so an answer kept from an earlier call with equal arguments
is the very answer a new call gives. `answered_once` checks that on the first repeat of every
function, so one that stops being pure fails the suite instead of being hidden by the memo,
and hands each caller its own copy, so a caller that changes what it got cannot change what
the next one gets."""

from __future__ import annotations

import functools
import importlib
import io
import pickle
from collections.abc import Callable

PURE = {  # module: the functions callers look up there at call time
    "reporter.brief.charts": ("persona_sizes", "persona_sizes_png", "pca_scatter", "k_selection",
                              "mix_bars", "income_spend", "rate_bars", "share_history"),
    "reporter.brief.predict_charts": ("lift_bars", "reliability_curve"),
    "reporter.segmentation.segment": ("search_k",),  # the k search: KMeans for k = 2..10
    "reporter.predict.fit": ("_fit_sample",),  # both models' folds, the calibration, the drivers
}


def answered_once(function: Callable) -> Callable:
    """`function` answered from a memo keyed by its pickled arguments; each function's first
    repeat is computed again and compared with the kept answer (as pickled bytes)."""
    kept: dict[bytes, bytes] = {}
    checked = False

    @functools.wraps(function)
    def memo(*args, **kwargs):
        nonlocal checked
        try:
            key = pickle.dumps((args, sorted(kwargs.items())))
        except (pickle.PicklingError, TypeError, AttributeError):
            return function(*args, **kwargs)
        if key not in kept:
            answer = function(*args, **kwargs)
            kept[key] = pickle.dumps(answer)
            return answer
        if not checked:
            checked = True
            again = function(*args, **kwargs)
            assert _flat(again) == _flat(pickle.loads(kept[key])), (
                f"{function.__name__} is not a pure function any more")
        return pickle.loads(kept[key])

    memo.__wrapped__ = function
    return memo


def _flat(answer) -> bytes:
    """`answer` pickled without pickle's memo: equal answers give equal bytes even when one
    shares an object between two places (a repeated string, say) and the other holds two
    equal copies, which the ordinary pickle writes differently."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer)
    pickler.fast = True
    try:
        pickler.dump(answer)
    except ValueError:  # a cycle: fast mode cannot write it, the ordinary pickle can
        return pickle.dumps(answer)
    return buffer.getvalue()


def _places():
    """(module, name) of every function of PURE."""
    for module_name, functions in PURE.items():
        module = importlib.import_module(module_name)
        for function in functions:
            yield module, function


def install() -> None:
    """Wrap every function of PURE in its module."""
    for module, function in _places():
        setattr(module, function, answered_once(getattr(module, function)))


def computed_every_time(monkeypatch) -> None:
    """For a test that counts what the wrapped functions call (spies on KMeans.fit or the
    silhouette pass): the real functions back for the test, so every call computes."""
    for module, function in _places():
        wrapped = getattr(module, function)
        monkeypatch.setattr(module, function, getattr(wrapped, "__wrapped__", wrapped))
