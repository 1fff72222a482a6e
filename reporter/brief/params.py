"""Plain parameters of the pre-send checks, made from `checks:` in reporter.yaml at the edge.
Each check's mode: hold (keep the brief from every team), warn (send with a banner), off;
unchanged_data also has skip."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckParams:
    mode: str = "hold"


@dataclass(frozen=True)
class FreshDataParams(CheckParams):
    max_age_days: float = 8


@dataclass(frozen=True)
class EmptyPersonaParams(CheckParams):
    rules_emptied: str = "warn"  # when an edit of the rules, not the data, emptied a persona


@dataclass(frozen=True)
class ShareMoveParams(CheckParams):
    mode: str = "warn"
    max_points: float = 15


@dataclass(frozen=True)
class CustomerCountParams(CheckParams):
    max_drop_percent: float = 25


@dataclass(frozen=True)
class PdfParams(CheckParams):
    max_mb: float = 3


@dataclass(frozen=True)
class ChecksParams:
    data_fresh: FreshDataParams = FreshDataParams()
    unchanged_data: CheckParams = CheckParams()
    no_new_empty_persona: EmptyPersonaParams = EmptyPersonaParams()
    share_move: ShareMoveParams = ShareMoveParams()
    customer_count: CustomerCountParams = CustomerCountParams()
    charts_have_data: CheckParams = CheckParams()
    pdf_complete: PdfParams = PdfParams()
    model_not_held: CheckParams = CheckParams(mode="warn")
