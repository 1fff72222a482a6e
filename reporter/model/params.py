"""Plain parameters of the model stage: what shapes the segments and when a model is reused,
made from reporter.yaml at the edge (app)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from reporter.data.params import CleanParams
from reporter.predict.params import LifetimeParams, PropensityParams
from reporter.segmentation.params import ComparisonParams, SegmentParams, StabilityParams

SHAPING = ("features", "categorical", "algorithm", "k", "k_min", "k_max", "min_useful_k",
           "pca_components")


@dataclass(frozen=True)
class ModelParams:
    """When the saved model is reused, when it is refitted, and what a refit must achieve."""

    refit_every_days: int = 28
    refit_every: str = "4 weeks"  # as the user wrote it, for the brief's sentence
    psi_watch: float = 0.10
    psi_refit: float = 0.25
    min_silhouette: float = 0.10
    min_segment_share: float = 0.02
    min_stability: float = 0.5
    warm_start_tolerance: float = 0.01


@dataclass(frozen=True)
class AnalysisParams:
    """Everything the stage sequence needs besides the data and the rules."""

    clean: CleanParams = field(default_factory=CleanParams)
    segment: SegmentParams = field(default_factory=SegmentParams)
    stability: StabilityParams = field(default_factory=StabilityParams)
    comparison: ComparisonParams = field(default_factory=ComparisonParams)
    model: ModelParams = field(default_factory=ModelParams)
    keep_margin: float = 0.05  # names decided afresh stay put within this share of each bar
    propensity: PropensityParams = field(default_factory=PropensityParams)
    lifetime: LifetimeParams = field(default_factory=LifetimeParams)

    def shaping_key(self) -> str:
        """Changes to these make a saved model stale; seeds and sample sizes do not."""
        shaping = {name: _listed(getattr(self.segment, name)) for name in SHAPING}
        clean = {k: v for k, v in asdict(self.clean).items() if k != "currency"}  # words only
        document = json.dumps({"segmentation": shaping, "clean": clean},
                              sort_keys=True, default=str)
        return hashlib.sha256(document.encode()).hexdigest()[:16]


def _listed(value):
    return list(value) if isinstance(value, tuple) else value
