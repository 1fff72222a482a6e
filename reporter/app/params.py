"""From reporter.yaml to the stages' plain parameters: the one place they are translated."""

from __future__ import annotations

from reporter.config import ReporterConfig
from reporter.data.params import CleanParams
from reporter.model.params import AnalysisParams, ModelParams
from reporter.segmentation.params import ComparisonParams, SegmentParams, StabilityParams


def analysis_params(settings: ReporterConfig) -> AnalysisParams:
    segment = settings.segmentation.model_dump()
    segment.update(features=tuple(segment["features"]), categorical=tuple(segment["categorical"]))
    model = settings.model
    return AnalysisParams(
        clean=clean_params(settings),
        segment=SegmentParams(**segment),
        stability=StabilityParams(**settings.stability.model_dump()),
        comparison=ComparisonParams(**settings.comparison.model_dump()),
        model=ModelParams(refit_every_days=model.refit_every_days, refit_every=model.refit_every,
                          psi_watch=model.psi_watch, psi_refit=model.psi_refit,
                          min_silhouette=model.min_silhouette, min_segment_share=model.min_segment_share,
                          min_stability=model.min_stability,
                          warm_start_tolerance=model.warm_start_tolerance),
    )


def clean_params(settings: ReporterConfig) -> CleanParams:
    return CleanParams(**settings.clean.model_dump(), currency=settings.brief.currency)
