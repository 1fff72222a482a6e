"""Lifecycle: the fitted segmentation is saved with every run and reused, so a persona means
the same thing from week to week.

Each run either scores its customers with the newest saved model or refits (`decide`): when
there is no usable model, when `--refit` asks, when the model is older than
`model.refit_every`, when the segmentation settings changed, or when drift (PSI) passes
`model.psi_refit`. A refit starts from the old segments and is numbered after them
(`align`); a refit below the quality bar is not used while an older model can still score
("model held"). Fitting and scoring run one stage sequence (`_stages`); the model is saved
as plain numbers (`artefact`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from reporter.data.clean import Customers, clean
from reporter.data.features import FeatureTable, build_features
from reporter.data.load import RawCustomers
from reporter.model.artefact import Loaded, SavedModel
from reporter.model.drift import DRIFT_FEATURES, Baseline, Drift, measure
from reporter.model.params import AnalysisParams, ModelParams
from reporter.personas.rulebook import (
    PersonaAssignment,
    Rulebook,
    RuleChange,
    all_conditions,
    assign,
    label_customers,
    rule_change,
)
from reporter.personas.rules import Population
from reporter.predict.columns import present
from reporter.predict.lifetime import Lifetime, add_scores, score_week
from reporter.predict.propensity import Propensity, score_propensity
from reporter.segmentation.align import Alignment
from reporter.segmentation.assess import Assessment, assess
from reporter.segmentation.profile import Profiles, profile
from reporter.segmentation.result import Segmentation, score
from reporter.versions import package_versions


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
    rule_change: RuleChange | None = None  # personas.yaml changed since the saved model's run

    @property
    def held(self) -> bool:
        return self.action == "held"

    @property
    def renamed(self) -> dict[str, str]:
        """Personas personas.yaml renamed since the saved model's run: old name -> new."""
        return self.rule_change.renamed if self.rule_change is not None else {}

    @property
    def successors(self) -> dict[str, str]:
        """Personas renamed with their rule changed too (RuleChange.successors): old -> new."""
        return self.rule_change.successors if self.rule_change is not None else {}

    @property
    def sentence(self) -> str:
        drift = (f"; drift {self.drift.worst.psi:.2f} ({self.drift.worst.name}), "
                 f"{self.drift.worst.verdict}" if self.drift and "drift in" not in self.reason else "")
        fitted = f"the model fitted on {self.fitted_on:%Y-%m-%d}"
        if self.action == "scored":
            return f"Scored with {fitted}{drift}."
        if self.action == "held":
            return f"Model held: {self.reason}. Scored with {fitted}{drift}."
        carried = f" {self.alignment.sentence}." if self.alignment else ""
        verb = "Fitted" if self.action == "fitted" else "Refitted"
        return f"{verb} on this week's data: {self.reason}{drift}.{carried}"


@dataclass(frozen=True)
class Analysis:
    """Everything computed from one customer file, before anything is presented."""

    raw: RawCustomers
    customers: Customers
    table: FeatureTable
    segmentation: Segmentation
    assessment: Assessment
    rulebook: Rulebook
    assignment: PersonaAssignment
    cluster_profiles: Profiles
    persona_profiles: Profiles
    decision: ModelDecision
    saved_model: SavedModel  # what this run saves: the model it scored with or fitted
    propensity: Propensity | None = None  # p_response per customer, or why there is none
    lifetime: Lifetime | None = None  # p_alive, purchases_90d, clv_12m per customer, or why none


def rulebook_key(rulebook: Rulebook) -> str:
    """Fingerprint of the persona rules as validated."""
    source = dict(rulebook.source)  # a control share is not a rule: changing it renames nobody
    source["personas"] = [{k: v for k, v in p.items() if k != "control_share"}
                          for p in source.get("personas", [])]
    document = json.dumps(source, sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Evidence:
    """What is known when deciding whether to score, refit or hold: filled in as the run goes."""

    forced: bool = False  # --refit
    problem: str = ""  # why the saved model could not be read
    has_model: bool = False
    settings_changed: bool = False
    age_days: int = 0  # of the saved model, by the data's dates
    drift: Drift | None = None  # of this week's data, once scored with the saved model
    refit_problems: tuple[str, ...] | None = None  # of a refit, once fitted
    can_hold: bool = False  # the saved model can still score this week


@dataclass(frozen=True)
class Verdict:
    action: str  # "score", "fit" (the first model), "refit" or "hold"
    reason: str = ""


def decide(evidence: Evidence, policy: ModelParams) -> Verdict:
    """The model's life in one place: score while the saved model fits the data, refit when
    it cannot be used, is stale or drifted, and hold the old one when a refit falls short."""
    if evidence.refit_problems is not None:
        return _after_refit(evidence)
    reason = _why_refit(evidence, policy)
    if reason is None and evidence.drift is not None and evidence.drift.trips:
        worst = evidence.drift.worst
        reason = f"drift in {worst.name} (PSI {worst.psi:.2f}) is above {policy.psi_refit:.2f}"
    if reason is None:
        return Verdict("score")
    return Verdict("refit" if evidence.has_model else "fit", reason)


def _why_refit(evidence: Evidence, policy: ModelParams) -> str | None:
    if evidence.forced:
        return "asked for with --refit"
    if evidence.problem:
        return evidence.problem
    if not evidence.has_model:
        return "no saved model in the archive yet"
    if evidence.settings_changed:
        return "the segmentation settings changed since the model was fitted"
    if evidence.age_days >= policy.refit_every_days:
        return f"the model is {evidence.age_days} days old (refit every {policy.refit_every})"
    return None


def _after_refit(evidence: Evidence) -> Verdict:
    problems = "; ".join(evidence.refit_problems)
    if problems and evidence.can_hold:
        return Verdict("hold", problems)
    if problems:
        return Verdict("refit", f"below the quality bar ({problems}), but no earlier model to keep")
    return Verdict("refit")


def quality_problems(segmentation: Segmentation, assessment: Assessment, bar: ModelParams) -> list[str]:
    """Where a freshly fitted model falls short of the bar set in reporter.yaml."""
    problems = []
    if segmentation.silhouette.mean < bar.min_silhouette:
        problems.append(f"the new model's silhouette {segmentation.silhouette.mean:.2f} is below the "
                        f"floor {bar.min_silhouette:.2f}")
    shares = np.bincount(segmentation.labels, minlength=segmentation.k) / len(segmentation.labels)
    if shares.min() < bar.min_segment_share:
        problems.append(f"segment {int(shares.argmin())} would hold {shares.min():.1%} of "
                        f"customers, under {bar.min_segment_share:.0%}")
    stability = assessment.stability
    if stability is not None and stability.mean_ari < bar.min_stability:
        problems.append(f"the new model's stability {stability.mean_ari:.2f} is below "
                        f"{bar.min_stability:.2f}")
    return problems


def analyse(raw: RawCustomers, as_of: date, params: AnalysisParams, rulebook: Rulebook,
            loaded: Loaded, refit: bool, run_id: str, timer) -> Analysis:
    """Customers (+ the saved model, if any) to the analysis: score with the saved model, or
    refit (and keep the saved model when the refit is not good enough). Every branch runs the
    same stage sequence, `_stages`."""
    keys = params.shaping_key(), rulebook_key(rulebook)
    saved = loaded.model
    policy = params.model
    evidence = Evidence(
        forced=refit, problem=loaded.problem, has_model=saved is not None,
        settings_changed=saved is not None and saved.settings_key != keys[0],
        age_days=(as_of - saved.fitted_on).days if saved is not None else 0,
        can_hold=saved is not None and saved.settings_key == keys[0])
    verdict = decide(evidence, policy)
    drift = None
    if verdict.action == "score":
        scored = _stages(raw, as_of, params, rulebook, keys, run_id, timer, scoring_with=saved)
        drift = scored.decision.drift
        verdict = decide(replace(evidence, drift=drift), policy)
        if verdict.action == "score":
            return scored
        del scored  # only its drift is needed now; the refit must not hold two tables at once
    fitted = _stages(raw, as_of, params, rulebook, keys, run_id, timer, refit_from=saved,
                     reason=verdict.reason)
    if drift is not None:  # one drift figure per metric: the one that decided the refit
        fitted = replace(fitted, decision=replace(fitted.decision, drift=drift))
    problems = quality_problems(fitted.segmentation, fitted.assessment, params.model)
    final = decide(replace(evidence, refit_problems=tuple(problems)), policy)
    if final.action == "hold":  # rare: score again rather than keep both analyses all along
        del fitted
        scored = _stages(raw, as_of, params, rulebook, keys, run_id, timer, scoring_with=saved)
        return replace(scored, decision=replace(scored.decision, action="held", reason=final.reason))
    if final.reason:
        decision = replace(fitted.decision, reason=f"{fitted.decision.reason}; {final.reason}")
        return replace(fitted, decision=decision)
    return fitted


def _stages(raw: RawCustomers, as_of: date, params: AnalysisParams, rulebook: Rulebook,
            keys: tuple[str, str], run_id: str, timer, scoring_with: SavedModel | None = None,
            refit_from: SavedModel | None = None, reason: str = "") -> Analysis:
    """clean -> features -> segment -> (assess) -> profile -> personas -> predict -> drift: with a saved
    model to score, or fitting a new one (numbered after `refit_from` when there is one)."""
    model = scoring_with
    with timer("clean"):
        customers = clean(raw, params.clean, as_of,
                          income_fill=model.income_fill if model else None)
    with timer("features"):
        table = build_features(customers, rfm=model.rfm if model else None)
    with timer("segment"):
        if model is not None:
            segmentation = score(model.scorer, table, params.segment, model.k_choice,
                                 model.components)
        else:
            from reporter.segmentation.segment import segment  # fitting alone needs scikit-learn

            old = refit_from.scorer.segments(table.frame) if refit_from is not None else None
            segmentation = segment(table, params.segment, params.comparison, previous=old,
                                   warm_start_tolerance=params.model.warm_start_tolerance)
    if model is not None:
        assessment = model.assessment
    else:
        with timer("assess"):
            assessment = assess(segmentation, params.segment, params.stability, params.comparison)
    with timer("lifetime"):  # before the profiles and the rules: both can use p_alive and clv
        lifetime = _lifetime(model, table, params)
        add_scores(table.frame, lifetime)
    with timer("profile"):
        cluster_profiles = profile(table, segmentation.labels)
    with timer("personas"):
        keep = model.cluster_persona if model is not None and model.rulebook_key == keys[1] else None
        assignment = assign(rulebook, cluster_profiles, table, segmentation.labels, keep=keep,
                            previous=last_names(model or refit_from), margin=params.keep_margin)
        persona_profiles = profile(table, assignment.customer_persona)
    with timer("predict"):
        propensity = _propensity(model, table, params)
    in_fit = table.frame["in_fit"].to_numpy()
    against = model or refit_from
    rules_changed = model is not None and keep is None
    predictions = _predictions(propensity, lifetime, in_fit)
    drift = (_drift(against.baseline, table, in_fit, assignment, rules_changed, params.model,
                    predictions) if against is not None else None)
    if model is not None:
        change = _renamed(model, table, segmentation.labels, assignment) if rules_changed else None
        decision = ModelDecision("scored", "", model.fitted_on, model.fitted_in_run, drift,
                                 rule_changes=kept_against_rules(assignment, keep), rule_change=change)
    else:
        decision = ModelDecision("refitted" if refit_from is not None else "fitted", reason, as_of,
                                 run_id, drift, segmentation.alignment, segmentation.warm_started)
    saved = _saved_model(model, raw, customers, table, segmentation, assessment, assignment,
                         rulebook, keys, run_id, as_of, predictions)
    if model is None:
        saved = replace(saved, propensity=propensity.model, lifetime=lifetime.model)
    return Analysis(raw, customers, table, segmentation, assessment, rulebook, assignment,
                    cluster_profiles, persona_profiles, decision, saved, propensity, lifetime)


def _lifetime(model: SavedModel | None, table: FeatureTable, params: AnalysisParams) -> Lifetime:
    """Scored with the saved model's BG/NBD and Gamma-Gamma numbers, or fitted when the
    segmentation is."""
    if model is not None:
        return score_week(model.lifetime, table.frame)
    from reporter.predict.lifetime_fit import fit_lifetime

    return fit_lifetime(table, params.lifetime)


def _propensity(model: SavedModel | None, table: FeatureTable, params: AnalysisParams) -> Propensity:
    """Scored with the saved model's propensity, or fitted when the segmentation is."""
    if model is not None:
        return score_propensity(model.propensity, table)
    from reporter.predict.fit import fit_propensity  # fitting alone needs scikit-learn

    return fit_propensity(table, params.propensity)


def _predictions(propensity: Propensity, lifetime: Lifetime, in_fit: np.ndarray) -> dict[str, np.ndarray]:
    """Each prediction this run made of the fitted customers, by its column name
    (predict/columns.py): the drift baseline keeps them and a scored week is watched on them."""
    made = {"p_response": propensity.p_response,
            **(lifetime.scores.columns() if lifetime.scores is not None else {})}
    return {p.name: np.asarray(made[p.name])[in_fit] for p in present(made) if made[p.name] is not None}


def last_names(model: SavedModel | None) -> dict[int, str] | None:
    """The persona of each segment before this naming: a refit's segments carry the old
    numbers (align), so segment 1 is compared with last week's segment 1."""
    return dict(model.cluster_persona) if model is not None else None


def _drift(baseline: Baseline, table: FeatureTable, in_fit: np.ndarray, assignment: PersonaAssignment,
           rules_changed: bool, settings: ModelParams, predictions: dict[str, np.ndarray]) -> Drift:
    """Drift of the fitted customers; the persona mix against the fitted segments named by
    this week's rules, so a rule edit is never drift. A model saved without segment shares
    cannot follow an edit: its persona mix is left out the week the rules change."""
    follow = bool(baseline.segment_mix) or not rules_changed
    personas = assignment.customer_persona[in_fit] if follow else None
    return measure(baseline, fitted_drift_features(table, in_fit), personas, settings,
                   assignment.cluster_persona, predictions)


def fitted_drift_features(table: FeatureTable, in_fit: np.ndarray) -> pd.DataFrame:
    """The fitted customers' drift features alone: selecting the rows of the whole feature
    table first copied every column (about 200 MB at a million customers) for five."""
    return table.frame.loc[in_fit, list(DRIFT_FEATURES)]


def _renamed(model: SavedModel, table: FeatureTable, labels: np.ndarray,
             assignment: PersonaAssignment) -> RuleChange:
    """The same customers and segments under the saved model's rules and under this week's,
    both against this week's customers: against the saved thresholds (last week's median), an
    unedited flag such as `total_spending > p50` changed size and was reported as edited."""
    before = label_customers(model.rulebook(), model.cluster_persona, table, labels, Population(table.frame))
    return rule_change(before, assignment, model.saved_in_run)


def kept_against_rules(assignment: PersonaAssignment, keep: dict[int, str] | None) -> tuple[str, ...]:
    """Segments whose rules now point at another persona than the one the saved model keeps."""
    return tuple(
        f"segment {c}: the rules now point to {verdict.persona}; it stays {keep[c]} until the "
        "next refit" for c, verdict in sorted(assignment.verdicts.items())
        if keep and verdict.persona != keep.get(c))


def _saved_model(scored_with: SavedModel | None, raw: RawCustomers, customers: Customers,
                 table: FeatureTable, segmentation: Segmentation, assessment: Assessment,
                 assignment: PersonaAssignment, rulebook: Rulebook, keys: tuple[str, str],
                 run_id: str, as_of: date, predictions: dict[str, np.ndarray]) -> SavedModel:
    """The model this run saves: the one it scored with, or the one it fitted, with this
    run's rules and the persona of each segment."""
    this_run = dict(saved_in_run=run_id, as_of=as_of, rules=rulebook.source, rulebook_key=keys[1],
                    cluster_persona=assignment.cluster_persona,
                    population=Population(table.frame).freeze(all_conditions(rulebook)))
    in_fit = table.frame["in_fit"].to_numpy()
    if scored_with is not None:  # an older model learns its segments' shares (drift follows renames)
        baseline = scored_with.baseline.with_segments(scored_with.cluster_persona,
                                                      segmentation.labels[in_fit])
        return replace(scored_with, baseline=baseline, **this_run)
    return SavedModel(
        scorer=segmentation.scorer, settings_key=keys[0], fitted_on=as_of, fitted_in_run=run_id,
        data_sha256=raw.sha256, rows_fitted=int(in_fit.sum()), income_fill=customers.income_fill,
        rfm=table.rfm, baseline=Baseline.of(fitted_drift_features(table, in_fit),
                                            assignment.customer_persona[in_fit],
                                            segmentation.labels[in_fit], predictions),
        k_choice=segmentation.k_choice, components=segmentation.components, assessment=assessment,
        fit_silhouette=segmentation.silhouette.mean, versions=package_versions(), **this_run)
