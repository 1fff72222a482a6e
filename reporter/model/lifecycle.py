"""Model: the fitted segmentation is saved with every run and reused, so a persona means the
same thing from week to week.

Each run either scores its customers with the newest saved model or refits. It refits when
there is no usable model, when `--refit` asks, when the model is older than
`model.refit_every`, when the segmentation settings changed, or when drift (PSI) passes
`model.psi_refit`. A refit starts from the old segments and is numbered after them
(`align`); a refit below the quality bar is not used while an older model can still score
("model held"). `reporter assign` scores a new batch with an archived model through the
same `predict` path.

Files per run: model.joblib (the objects; read only by this version of scikit-learn) and
model.json (a readable summary). A model.joblib is pickled Python: load only archives this
tool wrote.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.pipeline import Pipeline

from reporter.archive import published_runs
from reporter.config import Config, ModelConfig, ReporterConfig
from reporter.data.clean import Customers, clean
from reporter.data.features import FeatureTable, RfmCuts, build_features
from reporter.data.load import RawCustomers
from reporter.model.drift import Baseline, Drift, measure
from reporter.personas.rulebook import PersonaAssignment, Rulebook, all_conditions, assign
from reporter.personas.rules import FrozenPopulation, Population
from reporter.segmentation.align import Alignment
from reporter.segmentation.assess import Assessment, assess
from reporter.segmentation.kselect import KChoice
from reporter.segmentation.profile import Profiles, profile
from reporter.segmentation.segment import (
    Component,
    Segmentation,
    algorithm_name,
    model_columns,
    score,
    segment,
)
from reporter.versions import package_versions

MODEL_FILE = "model.joblib"
SUMMARY_FILE = "model.json"
MODEL_FORMAT = 1
SHAPING_SETTINGS = ("features", "categorical", "algorithm", "k", "k_min", "k_max", "min_useful_k",
                    "pca_components")


@dataclass(frozen=True)
class SavedModel:
    """What a run needs to score customers exactly as the fitting run would have."""

    # the fit
    pipeline: Pipeline  # encode/scale, PCA, clusterer
    segment_of_cluster: np.ndarray
    settings_key: str
    fitted_on: date  # the data's reference date when fitted
    fitted_in_run: str
    data_sha256: str
    rows_fitted: int
    income_fill: float
    rfm: RfmCuts
    baseline: Baseline
    k_choice: KChoice
    components: tuple[Component, ...]
    assessment: Assessment
    fit_silhouette: float
    versions: dict[str, str]
    # the run that saved this copy
    saved_in_run: str
    as_of: date
    rulebook: Rulebook
    rulebook_key: str
    cluster_persona: dict[int, str]
    population: FrozenPopulation

    @property
    def k(self) -> int:
        return len(self.segment_of_cluster)

    def summary(self) -> dict[str, Any]:
        """model.json: the model in words and numbers, readable without Python."""
        return {
            "format_version": MODEL_FORMAT,
            "fitted_on": self.fitted_on.isoformat(),
            "fitted_in_run": self.fitted_in_run,
            "saved_in_run": self.saved_in_run,
            "as_of": self.as_of.isoformat(),
            "data_sha256": self.data_sha256,
            "rows_fitted": self.rows_fitted,
            "algorithm": algorithm_name(self.pipeline.named_steps["cluster"]),
            "k": self.k,
            "features": model_columns(self.pipeline),
            "pca_components": len(self.components),
            "silhouette_at_fit": round(self.fit_silhouette, 4),
            "income_fill": self.income_fill,
            "rfm_cut_points": {"recency": list(self.rfm.recency), "frequency": list(self.rfm.frequency),
                               "monetary": list(self.rfm.monetary)},
            "segment_personas": {str(c): name for c, name in sorted(self.cluster_persona.items())},
            "settings_key": self.settings_key,
            "rulebook_key": self.rulebook_key,
            "versions": self.versions,
        }


@dataclass(frozen=True)
class Loaded:
    model: SavedModel | None
    folder: Path | None
    problem: str = ""  # why a saved model could not be used; "" when loaded or none exists


@dataclass(frozen=True)
class ModelDecision:
    action: str  # "fitted" (first model), "scored", "refitted" or "held"
    reason: str  # why it was (re)fitted or held; "" when scored
    fitted_on: date
    fitted_in_run: str
    drift: Drift | None
    alignment: Alignment | None = None
    warm_started: bool = False
    rule_changes: tuple[str, ...] = ()  # segments whose rules now point at another persona

    @property
    def held(self) -> bool:
        return self.action == "held"

    @property
    def sentence(self) -> str:
        drift = (f"; drift {self.drift.worst.psi:.2f} ({self.drift.worst.name}), "
                 f"{self.drift.worst.verdict}" if self.drift else "")
        fitted = f"the model fitted on {self.fitted_on:%Y-%m-%d}"
        if self.action == "scored":
            return f"Scored with {fitted}{drift}."
        if self.action == "held":
            return f"Model held: {self.reason}. Scored with {fitted}{drift}."
        carried = f" {self.alignment.sentence}." if self.alignment else ""
        verb = "Fitted" if self.action == "fitted" else "Refitted"
        return f"{verb} on this week's data: {self.reason}{drift}.{carried}"


@dataclass(frozen=True)
class Modelled:
    """Everything the model stage produces for one run."""

    customers: Customers
    table: FeatureTable
    segmentation: Segmentation
    assessment: Assessment
    assignment: PersonaAssignment
    cluster_profiles: Profiles
    decision: ModelDecision
    saved: SavedModel


def settings_key(settings: ReporterConfig) -> str:
    """Changes to these settings make a saved model stale; seeds and sample sizes do not."""
    shaping = {name: getattr(settings.segmentation, name) for name in SHAPING_SETTINGS}
    document = json.dumps({"segmentation": shaping, "clean": settings.clean.model_dump()},
                          sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()[:16]


def rulebook_key(config: Config) -> str:
    document = json.dumps(config.personas.model_dump(), sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()[:16]


def load_latest(output_dir: Path) -> Loaded:
    """The model saved by the newest run that saved one."""
    for folder in reversed(published_runs(output_dir)):
        if (folder / SUMMARY_FILE).is_file():
            return load_from(folder)
    return Loaded(None, None)


def load_from(folder: Path) -> Loaded:
    """Read a run's model, unless it was written by another model format or scikit-learn."""
    try:
        summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return Loaded(None, folder, f"the saved model summary {folder.name}/{SUMMARY_FILE} cannot "
                                    f"be read ({exc})")
    made_with = summary.get("versions", {}).get("scikit-learn")
    running = package_versions()["scikit-learn"]
    if summary.get("format_version") != MODEL_FORMAT:
        return Loaded(None, folder, f"the saved model in {folder.name} has format "
                                    f"{summary.get('format_version')}, this version reads {MODEL_FORMAT}")
    if made_with != running:
        return Loaded(None, folder, f"the saved model in {folder.name} was made with scikit-learn "
                                    f"{made_with}; this is {running}")
    try:
        model = joblib.load(folder / MODEL_FILE)
    except Exception as exc:  # a damaged or foreign pickle: refit rather than trust it
        return Loaded(None, folder, f"the saved model {folder.name}/{MODEL_FILE} cannot be read "
                                    f"({type(exc).__name__}: {exc})")
    if not isinstance(model, SavedModel):
        return Loaded(None, folder, f"{folder.name}/{MODEL_FILE} does not hold a reporter model")
    return Loaded(model, folder)


def save(model: SavedModel, path_for) -> list[str]:
    joblib.dump(model, path_for(MODEL_FILE), compress=3)
    path_for(SUMMARY_FILE).write_text(json.dumps(model.summary(), indent=2) + "\n", encoding="utf-8")
    return [MODEL_FILE, SUMMARY_FILE]


def refit_reason(loaded: Loaded, settings: ReporterConfig, as_of: date, force: bool) -> str | None:
    """Why this run must fit a new model, or None to score with the saved one."""
    if force:
        return "asked for with --refit"
    if loaded.problem:
        return loaded.problem
    model = loaded.model
    if model is None:
        return "no saved model in the archive yet"
    if model.settings_key != settings_key(settings):
        return "the segmentation settings changed since the model was fitted"
    age = (as_of - model.fitted_on).days
    if age >= settings.model.refit_every_days:
        return f"the model is {age} days old (refit every {settings.model.refit_every})"
    return None


def quality_problems(segmentation: Segmentation, assessment: Assessment, settings: ModelConfig) -> list[str]:
    """Where a freshly fitted model falls short of the bar set in reporter.yaml."""
    problems = []
    if segmentation.silhouette.mean < settings.min_silhouette:
        problems.append(f"the new model's silhouette {segmentation.silhouette.mean:.2f} is below the "
                        f"floor {settings.min_silhouette:.2f}")
    shares = np.bincount(segmentation.labels, minlength=segmentation.k) / len(segmentation.labels)
    if shares.min() < settings.min_segment_share:
        problems.append(f"segment {int(shares.argmin())} would hold {shares.min():.1%} of "
                        f"customers, under {settings.min_segment_share:.0%}")
    stability = assessment.stability
    if stability is not None and stability.mean_ari < settings.min_stability:
        problems.append(f"the new model's stability {stability.mean_ari:.2f} is below "
                        f"{settings.min_stability:.2f}")
    return problems


def fit_or_score(raw: RawCustomers, as_of: date, config: Config, rulebook: Rulebook,
                 loaded: Loaded, refit: bool, run_id: str, timer) -> Modelled:
    """Score with the saved model, or refit (and fall back to the saved model when the refit
    is not good enough)."""
    settings = config.settings
    keys = settings_key(settings), rulebook_key(config)
    reason = refit_reason(loaded, settings, as_of, refit)
    scored = None
    if reason is None:
        scored = _score(loaded.model, raw, as_of, settings, rulebook, keys, run_id, timer)
        if not scored.decision.drift.trips:
            return scored
        worst = scored.decision.drift.worst
        reason = (f"drift in {worst.name} (PSI {worst.psi:.2f}) is above "
                  f"{settings.model.psi_refit:.2f}")
    previous = loaded.model
    fitted = _fit(raw, as_of, settings, rulebook, keys, previous, reason, run_id, timer)
    problems = quality_problems(fitted.segmentation, fitted.assessment, settings.model)
    can_hold = previous is not None and previous.settings_key == keys[0]
    if problems and can_hold:
        scored = scored or _score(previous, raw, as_of, settings, rulebook, keys, run_id, timer)
        held = replace(scored.decision, action="held", reason="; ".join(problems))
        return replace(scored, decision=held)
    if problems:
        decision = replace(fitted.decision, reason=f"{fitted.decision.reason}; below the quality bar "
                                                   f"({'; '.join(problems)}), but no earlier model to keep")
        return replace(fitted, decision=decision)
    return fitted


def _score(model: SavedModel, raw: RawCustomers, as_of: date, settings: ReporterConfig,
           rulebook: Rulebook, keys: tuple[str, str], run_id: str, timer) -> Modelled:
    with timer("clean"):
        customers = clean(raw, settings.clean, as_of, income_fill=model.income_fill)
    with timer("features"):
        table = build_features(customers, rfm=model.rfm)
    with timer("segment"):
        segmentation = score(model.pipeline, model.segment_of_cluster, table, settings.segmentation,
                             model.k_choice, model.components)
    with timer("profile"):
        cluster_profiles = profile(table, segmentation.labels)
    with timer("personas"):
        keep = model.cluster_persona if model.rulebook_key == keys[1] else None
        assignment = assign(rulebook, cluster_profiles, table, segmentation.labels, keep=keep)
    in_fit = table.frame["in_fit"].to_numpy()
    drift = measure(model.baseline, table.frame[in_fit], assignment.customer_persona[in_fit],
                    settings.model)
    changes = tuple(
        f"segment {c}: the rules now point to {verdict.persona}; it stays {keep[c]} until the "
        "next refit" for c, verdict in sorted(assignment.verdicts.items())
        if keep and verdict.persona != keep.get(c))
    decision = ModelDecision("scored", "", model.fitted_on, model.fitted_in_run, drift,
                             rule_changes=changes)
    saved = replace(model, saved_in_run=run_id, as_of=as_of, rulebook=rulebook, rulebook_key=keys[1],
                    cluster_persona=assignment.cluster_persona,
                    population=Population(table.frame).freeze(all_conditions(rulebook)))
    return Modelled(customers, table, segmentation, model.assessment, assignment, cluster_profiles,
                    decision, saved)


def _fit(raw: RawCustomers, as_of: date, settings: ReporterConfig, rulebook: Rulebook,
         keys: tuple[str, str], previous: SavedModel | None, reason: str, run_id: str,
         timer) -> Modelled:
    with timer("clean"):
        customers = clean(raw, settings.clean, as_of)
    with timer("features"):
        table = build_features(customers)
    with timer("segment"):
        old_labels = predict(previous, table) if previous is not None else None
        segmentation = segment(table, settings.segmentation, settings.comparison, previous=old_labels,
                               warm_start_tolerance=settings.model.warm_start_tolerance)
    with timer("assess"):
        assessment = assess(segmentation, settings)
    with timer("profile"):
        cluster_profiles = profile(table, segmentation.labels)
    with timer("personas"):
        assignment = assign(rulebook, cluster_profiles, table, segmentation.labels)
    in_fit = table.frame["in_fit"].to_numpy()
    fit_personas = assignment.customer_persona[in_fit]
    drift = (measure(previous.baseline, table.frame[in_fit], fit_personas, settings.model)
             if previous is not None else None)
    decision = ModelDecision("refitted" if previous is not None else "fitted", reason, as_of, run_id,
                             drift, segmentation.alignment, segmentation.warm_started)
    saved = SavedModel(
        pipeline=segmentation.model, segment_of_cluster=segmentation.segment_of_cluster,
        settings_key=keys[0], fitted_on=as_of, fitted_in_run=run_id, data_sha256=raw.sha256,
        rows_fitted=int(in_fit.sum()), income_fill=customers.income_fill, rfm=table.rfm,
        baseline=Baseline.of(table.frame[in_fit], fit_personas), k_choice=segmentation.k_choice,
        components=segmentation.components, assessment=assessment,
        fit_silhouette=segmentation.silhouette.mean, versions=package_versions(),
        saved_in_run=run_id, as_of=as_of, rulebook=rulebook, rulebook_key=keys[1],
        cluster_persona=assignment.cluster_persona,
        population=Population(table.frame).freeze(all_conditions(rulebook)),
    )
    return Modelled(customers, table, segmentation, assessment, assignment, cluster_profiles,
                    decision, saved)


def predict(model: SavedModel, table: FeatureTable) -> np.ndarray:
    """Segment per customer with a saved model: the one path weekly scoring and
    `reporter assign` share."""
    return model.segment_of_cluster[model.pipeline.predict(table.frame[model_columns(model.pipeline)])]

