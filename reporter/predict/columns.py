"""The prediction columns every surface carries: one declared list.

customers.csv holds each prediction under `name`. The CRM push, the teams' call lists, the
app's customer lookup, the drift baseline and engine: spark read this list, so a new
prediction reaches all of them by one more line in PREDICTIONS (its stage still has to put
the column into customers.csv).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FORMATS = {  # how a person reads a value
    "percent": lambda value: f"{value:.0%}",  # 0.3412 -> 34%
    "count": lambda value: f"{value:.1f}",  # 1.26 -> 1.3
    "money": lambda value: f"{value:,.0f}",  # 1234.5 -> 1,234
}


@dataclass(frozen=True)
class Prediction:
    """One prediction column: its name in customers.csv, plain words for people, how a value
    is shown to them."""

    name: str
    label: str
    format: str  # a key of FORMATS

    def __post_init__(self):
        if self.format not in FORMATS:  # a programming error: the list is code, not input
            raise ValueError(f"prediction {self.name}: format {self.format!r}, expected one of "
                             f"{', '.join(FORMATS)}")

    def shown(self, value: float | None) -> str:
        """The value as a person reads it; "" when the customer has none."""
        if value is None or value != value:  # None or NaN
            return ""
        return FORMATS[self.format](float(value))


PREDICTIONS: tuple[Prediction, ...] = (
    Prediction("p_response", "Chance to answer next campaign", "percent"),
    Prediction("p_alive", "Chance still buying", "percent"),
    Prediction("purchases_90d", "Expected purchases, next 90 days", "count"),
    Prediction("clv_12m", "Expected value, next 12 months", "money"),
)


def present(columns: Iterable[str], predictions: tuple[Prediction, ...] | None = None
            ) -> tuple[Prediction, ...]:
    """The predictions a table has, in PREDICTIONS order (a run without one has no column)."""
    names = set(columns)
    return tuple(p for p in (PREDICTIONS if predictions is None else predictions) if p.name in names)
