"""The brief's charts drawn once per worker for each distinct input: the suite briefs the same
generated table a few hundred times, and drawing its ten charts (matplotlib to SVG) is a
fifth of a run. A chart is a pure function of its arguments (fixed SVG hash salt, no date in
the file), so an answer kept from an earlier call with equal arguments is the very text a new
drawing gives; `drawn_once` checks that on the first repeat of every chart, so a chart that
stops being a pure function fails the suite instead of being hidden by the memo."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable

CHARTS = {  # module: the functions render.py, index.py and the app call to draw
    "reporter.brief.charts": ("persona_sizes", "persona_sizes_png", "pca_scatter", "k_selection",
                              "mix_bars", "income_spend", "rate_bars", "share_history"),
    "reporter.brief.predict_charts": ("lift_bars", "reliability_curve"),
}


def drawn_once(draw: Callable[..., str | bytes]) -> Callable[..., str | bytes]:
    """`draw` answered from a memo keyed by its pickled arguments; each chart's first repeat
    is drawn again and compared with the kept answer."""
    kept: dict[bytes, str | bytes] = {}
    checked = False

    @functools.wraps(draw)
    def memo(*args, **kwargs):
        nonlocal checked
        try:
            key = pickle.dumps((args, sorted(kwargs.items())))
        except (pickle.PicklingError, TypeError, AttributeError):
            return draw(*args, **kwargs)
        if key not in kept:
            kept[key] = draw(*args, **kwargs)
        elif not checked:
            checked = True
            assert draw(*args, **kwargs) == kept[key], f"{draw.__name__} is not a pure function any more"
        return kept[key]

    memo.__wrapped__ = draw
    return memo


def install() -> None:
    """Wrap every chart function in its module (callers look them up there at call time)."""
    import importlib

    for name, functions in CHARTS.items():
        module = importlib.import_module(name)
        for function in functions:
            setattr(module, function, drawn_once(getattr(module, function)))
