"""The model artefact: everything a run needs to score customers as the fitting run did, as
plain numbers and words in model.json. Never a pickle: reading it runs no code, and it does
not care which modules or which scikit-learn wrote it.

The format is documented in docs/model-format.md; FORMAT_VERSION changes only with a
migration in `_MIGRATIONS`, so a model written by an older reporter still scores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from reporter.config import PersonasFile
from reporter.data.features import RfmCuts
from reporter.model.drift import Baseline
from reporter.personas.rulebook import Rulebook, compile_rulebook
from reporter.personas.rules import FrozenPopulation
from reporter.plain import from_plain, to_plain
from reporter.segmentation.assess import Assessment
from reporter.segmentation.kselect import KChoice
from reporter.segmentation.result import Component
from reporter.segmentation.scorer import Scorer

MODEL_FILE = "model.json"
FORMAT_VERSION = 2
PICKLED_FORMAT = 1  # model.joblib beside a summary: never loaded by this version


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
        return Loaded(from_plain(SavedModel, _migrate(document, version)["model"]), folder)
    except (KeyError, TypeError, ValueError, StopIteration) as exc:
        return Loaded(None, folder, f"the saved model {folder.name}/{MODEL_FILE} is incomplete "
                                    f"({type(exc).__name__}: {exc})")


# version -> function upgrading a document of that version to the next one
_MIGRATIONS: dict[int, Any] = {}


def _migrate(document: dict[str, Any], version: int) -> dict[str, Any]:
    while version < FORMAT_VERSION:
        document = _MIGRATIONS[version](document)
        version += 1
    return document
