"""The propensity charts (lift by decile, reliability curve), in the brief's chart style.
They draw what the view holds and compute nothing."""

from __future__ import annotations

import numpy as np

from reporter.brief.charts import TEXT_COLOUR, _figure, _style, _svg

EXPECTED_COLOUR = "#2f6f9f"
OBSERVED_COLOUR = "#d08c2f"


def lift_bars(deciles: list[int], expected: list[float], observed: list[float | None],
              overall: float) -> str:
    """Columns: each decile's expected answer rate (1 = likeliest tenth), the out-of-sample
    rate that decile showed when the model was fitted beside it, and all customers' rate."""
    with _style():
        figure = _figure(figsize=(6.4, 2.9))
        axes = figure.subplots()
        x = np.arange(len(deciles))
        shown = [o for o in observed if o is not None]
        width = 0.4 if shown else 0.7
        axes.bar(x - (width / 2 if shown else 0), [e * 100 for e in expected], width=width,
                 color=EXPECTED_COLOUR, label="Expected this week")
        if shown:
            axes.bar(x + width / 2, [(o or 0) * 100 for o in observed], width=width,
                     color=OBSERVED_COLOUR, label="Answered, on customers the model never saw")
        axes.axhline(overall * 100, color="#222222", linestyle="--", linewidth=1, label="All customers")
        for position, value in zip(x, expected, strict=True):
            axes.text(position - (width / 2 if shown else 0), value * 100 + 0.5,
                      f"{value / overall:.1f}x" if overall else "", ha="center", fontsize=6.5,
                      color=TEXT_COLOUR)
        axes.set_xticks(x, [str(d) for d in deciles])
        axes.set_xlabel("Decile of customers by chance of answering (1 = likeliest)")
        axes.set_ylabel("Answer rate (%)")
        axes.set_title("Who answers the next campaign: lift by decile", loc="left")
        axes.legend(frameon=False, fontsize=7.5)
        figure.tight_layout()
        return _svg(figure, "lift")


def reliability_curve(predicted: list[float], observed: list[float], brier: float) -> str:
    """Predicted against observed answer rates per decile of out-of-sample predictions."""
    with _style():
        figure = _figure(figsize=(6.4, 2.3))
        axes = figure.subplots()
        top = max([*predicted, *observed, 0.05]) * 100 * 1.1
        axes.plot([0, top], [0, top], color="#999999", linestyle="--", linewidth=1,
                  label="Perfectly calibrated")
        axes.plot([p * 100 for p in predicted], [o * 100 for o in observed], marker="o",
                  color=EXPECTED_COLOUR, label=f"This model (Brier score {brier:.3f})")
        axes.set_xlim(0, top)
        axes.set_ylim(0, top)
        axes.set_xlabel("Predicted answer rate (%)")
        axes.set_ylabel("Answered (%)")
        axes.set_title("Reliability, out of sample", loc="left")
        axes.legend(frameon=False, fontsize=7.5, loc="upper left")
        figure.tight_layout()
        return _svg(figure, "reliability")
