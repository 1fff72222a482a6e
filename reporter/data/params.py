"""Plain parameters of the data stage, made from `clean:` in reporter.yaml at the edge."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CleanParams:
    """Who is left out of fitting (they still get a segment): implausible ages, extreme incomes."""

    min_age: int = 18
    max_age: int = 100
    max_income: float = 200_000
    duplicates: str = "merge"  # rows identical but for ID: "merge", "keep" or "refuse"
    currency: str = "$"  # how the data notes write money (brief.currency)
