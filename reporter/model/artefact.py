"""The model artefact: everything a run needs to score customers as the fitting run did, as
plain numbers and words in model.json. Never a pickle: reading it runs no code, and it does
not care which modules or which scikit-learn wrote it.

The format is documented in docs/reference/model-format.md; FORMAT_VERSION changes only with a
migration in `_MIGRATIONS`, so a model written by an older reporter still scores.

A model.json is input like any other: `read_model` validates what it rebuilt (`model_problems`:
shapes that agree, finite numbers, positive scales, cluster and segment numbers in range, a
persona for every segment, rules that compile) before anyone scores with it, so a damaged file
is refused with its reasons instead of answering with errors or NaN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from reporter.data.features import CATEGORICAL, PREDICTED_FEATURES, REGISTRY, RfmCuts
from reporter.errors import ReporterError, first_few
from reporter.model.drift import Baseline
from reporter.personas.rulebook import Rulebook, all_conditions, compile_rulebook
from reporter.personas.rules import FrozenPopulation
from reporter.personas.spec import PersonasFile
from reporter.plain import from_plain, to_plain
from reporter.predict.lifetime import SavedLifetime, lifetime_problems
from reporter.predict.saved import SavedPropensity, propensity_problems
from reporter.segmentation.assess import Assessment
from reporter.segmentation.kselect import KChoice
from reporter.segmentation.result import Component
from reporter.segmentation.scorer import Scorer

MODEL_FILE = "model.json"
FORMAT_VERSION = 2
PICKLED_FORMAT = 1  # model.joblib beside a summary: never loaded by this version
ALGORITHMS = ("kmeans", "agglomerative", "gmm")
# squared distances of clipped customers to the centres must stay far from float64's limit
MAX_COORDINATE = 1e100


@dataclass(frozen=True)
class SavedModel:
    """What a run needs to score customers exactly as the fitting run would have."""

    # the fit
    scorer: Scorer
    settings_key: str  # fingerprint of the settings that shape segments
    fitted_on: date  # the data's reference date when fitted
    fitted_in_run: str
    data_sha256: str
    rows_fitted: int
    income_fill: float
    rfm: RfmCuts
    baseline: Baseline  # drift is measured against this
    k_choice: KChoice
    components: tuple[Component, ...]
    assessment: Assessment
    fit_silhouette: float
    versions: dict[str, str]
    # the run that saved this copy
    saved_in_run: str
    as_of: date
    rules: dict[str, Any]  # personas.yaml as validated, so the rules can be compiled again
    rulebook_key: str
    cluster_persona: dict[int, str]  # segment -> persona
    population: FrozenPopulation  # the thresholds the rules used
    # fitted with the segmentation; None in a model.json written before it, or when refused
    propensity: SavedPropensity | None = None
    lifetime: SavedLifetime | None = None  # BG/NBD and Gamma-Gamma; None as for propensity

    @property
    def k(self) -> int:
        return self.scorer.k

    def rulebook(self) -> Rulebook:
        return compile_rulebook(PersonasFile.model_validate(self.rules), Path(MODEL_FILE))


@dataclass(frozen=True)
class Loaded:
    model: SavedModel | None
    folder: Path | None
    problem: str = ""  # why a saved model could not be used; "" when loaded or none exists


def write_model(model: SavedModel, path: Path) -> None:
    document = {"format_version": FORMAT_VERSION, "about": _about(model),
                "model": to_plain(replace(model, k_choice=replace(model.k_choice, centres=None)))}
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def _about(model: SavedModel) -> dict[str, Any]:
    """The first lines of model.json: what a person looks for, repeated from the model."""
    return {"algorithm": model.scorer.algorithm, "k": model.k, "features": model.scorer.columns,
            "fitted_on": model.fitted_on.isoformat(), "fitted_in_run": model.fitted_in_run,
            "saved_in_run": model.saved_in_run,
            "propensity": model.propensity.kind if model.propensity is not None else None,
            "lifetime": "BG/NBD + Gamma-Gamma" if model.lifetime is not None else None,
            "segment_personas": {str(c): p for c, p in sorted(model.cluster_persona.items())}}


def read_model(folder: Path) -> Loaded:
    """A run's model, or why it cannot be used (the run then refits and says why)."""
    path = folder / MODEL_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return Loaded(None, folder, f"the saved model {folder.name}/{MODEL_FILE} cannot be read ({exc})")
    version = document.get("format_version") if isinstance(document, dict) else None
    if version == PICKLED_FORMAT:
        return Loaded(None, folder, f"the saved model in {folder.name} is in the old pickled format, "
                                    "which this version never loads")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        return Loaded(None, folder, f"the saved model in {folder.name} has format {version}; this "
                                    f"version reads up to {FORMAT_VERSION}: upgrade reporter")
    try:
        model = from_plain(SavedModel, _migrate(document, version)["model"])
    except (KeyError, TypeError, ValueError, StopIteration) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else "a value of the wrong kind or shape"
        return Loaded(None, folder, f"the saved model {folder.name}/{MODEL_FILE} is incomplete ({what})")
    problems = model_problems(model)
    if problems:
        return Loaded(None, folder, f"the saved model {folder.name}/{MODEL_FILE} is not valid: "
                                    f"{first_few(problems)}")
    return Loaded(model, folder)


def model_problems(model: SavedModel) -> list[str]:
    """Everything that would make scoring with this model fail or answer NaN; [] when none."""
    try:
        problems = _scorer_problems(model.scorer)
    except (TypeError, ValueError) as exc:  # a field of the wrong kind altogether
        return [f"scorer: unreadable numbers ({type(exc).__name__})"]
    if not problems:
        problems += _reach_problems(model.scorer)
    problems += _fill_problems(model)
    problems += _segment_mix_problems(model)
    problems += _persona_problems(model)
    problems += _propensity_problems(model.propensity)
    problems += _lifetime_problems(model.lifetime)
    return problems


def _lifetime_problems(lifetime: SavedLifetime | None) -> list[str]:
    if lifetime is None:
        return []
    try:
        return lifetime_problems(lifetime)
    except (TypeError, ValueError, AttributeError) as exc:  # a field of the wrong kind altogether
        return [f"lifetime: unreadable numbers ({type(exc).__name__})"]


def _segment_mix_problems(model: SavedModel) -> list[str]:
    """The fitted segment shares the persona-mix drift follows (absent in older models)."""
    mix = model.baseline.segment_mix
    if not mix:
        return []
    shares = np.asarray(list(mix.values()), dtype=float)
    if set(mix) - set(range(model.k)):
        return [f"baseline.segment_mix: segments {sorted(mix)}, expected some of 0 to {model.k - 1}"]
    if not np.isfinite(shares).all() or (shares < 0).any() or abs(shares.sum() - 1) > 1e-6:
        return ["baseline.segment_mix: expected shares 0 to 1 that add up to 1"]
    return []


def _propensity_problems(propensity: SavedPropensity | None) -> list[str]:
    if propensity is None:
        return []
    try:
        return propensity_problems(propensity)
    except (TypeError, ValueError, AttributeError) as exc:  # a field of the wrong kind altogether
        return [f"propensity: unreadable numbers ({type(exc).__name__})"]


def _numbers(name: str, value: Any, shape: tuple[int, ...]) -> list[str]:
    """`value` is a finite float array of exactly `shape`."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        return [f"scorer.{name}: expected numbers"]
    if array.shape != shape:
        return [f"scorer.{name}: shape {list(array.shape)}, expected {list(shape)}"]
    if not np.isfinite(array).all():
        return [f"scorer.{name}: holds a value that is not a finite number"]
    return []


def _scorer_problems(scorer: Any) -> list[str]:
    numeric, width = len(scorer.numeric), _encoded_width(scorer)
    components = np.shape(scorer.pca_components)[0] if np.ndim(scorer.pca_components) == 2 else 0
    clusters = len(scorer.segment_of_cluster) if np.ndim(scorer.segment_of_cluster) == 1 else 0
    problems = [f"scorer.numeric: {name!r} is not a feature" for name in scorer.numeric
                if name not in REGISTRY]
    problems += [f"scorer.categorical: {c.column!r} is not a category column" for c in scorer.categorical
                 if c.column not in CATEGORICAL]
    if scorer.algorithm not in ALGORITHMS:
        problems.append(f"scorer.algorithm: {scorer.algorithm!r}, expected one of {', '.join(ALGORITHMS)}")
    if not numeric or not components or not clusters:
        return [*problems, "scorer: needs at least one feature, one component and one cluster"]
    for name, value, shape in (
            ("clip_low", scorer.clip_low, (numeric,)), ("clip_high", scorer.clip_high, (numeric,)),
            ("scale_mean", scorer.scale_mean, (numeric,)), ("scale_std", scorer.scale_std, (numeric,)),
            ("pca_mean", scorer.pca_mean, (width,)), ("pca_components", scorer.pca_components,
                                                       (components, width)),
            ("centres", scorer.centres, (clusters, components)),
            ("segment_of_cluster", scorer.segment_of_cluster, (clusters,))):
        problems += _numbers(name, value, shape)
    if problems:
        return problems
    if not (scorer.scale_std > 0).all():
        problems.append("scorer.scale_std: every scale must be above 0")
    if (scorer.clip_low > scorer.clip_high).any():
        problems.append("scorer.clip_low: above clip_high for some feature")
    if sorted(scorer.segment_of_cluster.tolist()) != list(range(clusters)):
        problems.append(f"scorer.segment_of_cluster: {scorer.segment_of_cluster.tolist()}; expected "
                        f"each segment number 0 to {clusters - 1} once")
    if scorer.algorithm == "gmm":
        problems += _gmm_problems(scorer, clusters, components)
    return problems


def _encoded_width(scorer: Any) -> int:
    return len(scorer.numeric) + sum(len(c.categories) for c in scorer.categorical)


def _gmm_problems(scorer: Any, clusters: int, components: int) -> list[str]:
    problems = _numbers("gmm_weights", scorer.gmm_weights, (clusters,))
    problems += _numbers("gmm_precisions_cholesky", scorer.gmm_precisions_cholesky,
                         (clusters, components, components))
    if problems:
        return problems
    if not (scorer.gmm_weights > 0).all():
        problems.append("scorer.gmm_weights: every weight must be above 0")
    if not (np.diagonal(scorer.gmm_precisions_cholesky, axis1=1, axis2=2) > 0).all():
        problems.append("scorer.gmm_precisions_cholesky: every diagonal value must be above 0")
    return problems


def _reach_problems(scorer: Any) -> list[str]:
    """Every customer is clipped into the model's box: its coordinates there must stay finite."""
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.maximum(np.abs(scorer.clip_low - scorer.scale_mean),
                            np.abs(scorer.clip_high - scorer.scale_mean)) / scorer.scale_std
        encoded = np.concatenate([scaled, np.ones(_encoded_width(scorer) - len(scaled))])
        reach = np.abs(scorer.pca_components) @ (encoded + np.abs(scorer.pca_mean))
        far = np.abs(scorer.centres).max() + reach.max()
    if not np.isfinite(far) or far > MAX_COORDINATE:
        return ["scorer: its clip range and scales put customers beyond any finite distance"]
    return []


def _fill_problems(model: SavedModel) -> list[str]:
    problems = []
    if not (np.isfinite(model.income_fill) and model.income_fill >= 0):
        problems.append(f"income_fill: {model.income_fill}, expected a finite number, 0 or more")
    for name in ("recency", "frequency", "monetary"):
        cuts = np.asarray(getattr(model.rfm, name), dtype=float)
        if cuts.ndim != 1 or not np.isfinite(cuts).all() or (np.diff(cuts) < 0).any():
            problems.append(f"rfm.{name}: expected ascending finite cut-points")
    thresholds = [*model.population.means.values(), *model.population.percentiles.values()]
    if not np.isfinite(np.asarray(thresholds, dtype=float)).all():
        problems.append("population: holds a threshold that is not a finite number")
    return problems


def _persona_problems(model: SavedModel) -> list[str]:
    """A persona for every segment, named by the saved rules, which compile and whose
    thresholds the saved population holds."""
    try:
        rulebook = model.rulebook()
    except (ReporterError, ValueError, TypeError) as exc:
        return [f"rules: they do not compile ({_rule_problem(exc)})"]
    problems = []
    segments = set(range(model.k)) if np.ndim(model.scorer.segment_of_cluster) == 1 else set()
    if set(model.cluster_persona) != segments:
        problems.append(f"cluster_persona: segments {sorted(model.cluster_persona)}, expected "
                        f"{sorted(segments)}")
    names = {p.name for p in rulebook.personas}
    problems += [f"cluster_persona: segment {c} is {name!r}, not a persona of the saved rules"
                 for c, name in sorted(model.cluster_persona.items()) if name not in names]
    for condition in all_conditions(rulebook):
        if condition.metric in PREDICTED_FEATURES and model.lifetime is None:
            continue  # left out while there is no lifetime model: no threshold was kept
        try:
            condition.threshold(model.population)
        except (ReporterError, ValueError) as exc:  # RuleError: a threshold it did not keep
            problems.append(f"population: {_first_line(exc)}")
    return list(dict.fromkeys(problems))  # a threshold two rules share is named once


def _rule_problem(exc: Exception) -> str:
    """Where the saved rules break: the settings model's field path, or the rule's message."""
    errors = getattr(exc, "errors", None)
    if callable(errors) and not isinstance(exc, ReporterError):
        where = ".".join(str(part) for part in errors()[0]["loc"])
        return f"rules.{where} is not as personas.yaml has it"
    return _first_line(exc)


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


# version -> function upgrading a document of that version to the next one
_MIGRATIONS: dict[int, Any] = {}


def _migrate(document: dict[str, Any], version: int) -> dict[str, Any]:
    while version < FORMAT_VERSION:
        document = _MIGRATIONS[version](document)
        version += 1
    return document
