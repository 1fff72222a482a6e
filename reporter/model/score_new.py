"""`reporter assign`: segment, persona, flags and predictions (p_response) for customers who
were not in the fitted data (a sign-up, a CRM batch), with the model an archived run saved.

The run's frozen values score the batch: the income fill, the RFM cut-points, the persona of
each segment, the population thresholds of the rules and the saved predictors. A small batch
is therefore judged against the customer base, not against itself. Up to FAST_MAX customers
take the array path (model/arrays.py: NumPy alone); a larger batch the weekly run's table path
(clean, build_features, `Scorer.segments`); both give the same answers (tests/test_fast_path.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import RawCustomers
from reporter.data.params import CleanParams
from reporter.errors import ArchiveError
from reporter.model.arrays import FAST_MAX, ArrayModel, prepare, score_arrays
from reporter.model.artefact import Loaded, SavedModel, read_model
from reporter.model.predictions import predictions
from reporter.personas.control import ControlParams, control_groups, group_columns
from reporter.personas.exports import customer_columns, flag_column
from reporter.personas.rulebook import Rulebook, label_customers, usable_rulebook
from reporter.predict.lifetime import add_scores, score_week


@dataclass(frozen=True)
class Scored:
    run: str  # the folder of the run whose model scored the batch
    frame: pd.DataFrame  # ID, persona, cluster, one 0/1 column per flag, key metrics, predictions
    run_id: str = ""  # of that run
    as_of: str = ""  # the date the batch was scored at
    notes: tuple[str, ...] = ()  # rule conditions left out for want of a prediction (usable_rulebook)

    @property
    def stamp(self) -> tuple[tuple[str, str], ...]:
        return (("run_id", self.run_id), ("as_of", self.as_of))


def score_new(output_dir: Path, folder: Path | None, raw: RawCustomers, cleaning: CleanParams,
              control: ControlParams | None = None) -> Scored:
    """Segment, persona and flags for these customers with the model of the run in `folder`."""
    loaded = _model_of(output_dir, folder)
    return score_with(loaded.model, loaded.folder.name, raw, cleaning, control)


def score_with(model: SavedModel | ArrayModel, run: str, raw: RawCustomers, cleaning: CleanParams,
               control: ControlParams | None = None, fast: bool = True) -> Scored:
    """The same with a model already loaded (`reporter serve` keeps one in memory, prepared
    for the array path); `fast=False` takes the table path whatever the batch's size. With
    `control`, each flag's control group is marked as the weekly run marks it (control_<flag>)."""
    saved = model.model if isinstance(model, ArrayModel) else model
    ready = model if isinstance(model, ArrayModel) else prepare(model)
    as_of = scoring_date(saved, raw.frame["Dt_Customer"].max().date())
    if fast and len(raw.frame) <= FAST_MAX:
        columns = {name: raw.frame[name].to_numpy() for name in raw.frame.columns}
        answer = score_arrays(ready, columns, as_of)
    else:
        answer = _table_path(ready, raw, cleaning, as_of)
    frame = pd.DataFrame(mark_control(answer, ready.rulebook, control, as_of))
    notes = usable_rulebook(ready.rulebook, frame.columns)[1]  # the same on either path
    return Scored(run, frame, saved.saved_in_run, as_of.isoformat(), notes)


def mark_control(answer: dict[str, np.ndarray], rulebook: Rulebook, control: ControlParams | None,
                 as_of: date) -> dict[str, np.ndarray]:
    """customers.csv's columns with each flag's control group (control_<flag>, 1: held back),
    drawn as the weekly run draws it; unchanged without `control`."""
    if control is None:
        return answer
    flags = {flag.name: np.asarray(answer[flag_column(flag.name)], dtype=bool) for flag in rulebook.flags}
    groups = control_groups(np.asarray(answer["ID"]), flags, control.with_flags(rulebook.flags), as_of)
    return {**answer, **group_columns(groups)}


def scoring_date(model: SavedModel, newest_join: date) -> date:
    """Ages and tenures are measured at the model's date, or a later join date of the batch."""
    return max(model.as_of, newest_join)


def _table_path(ready: ArrayModel, raw: RawCustomers, cleaning: CleanParams, as_of: date
                ) -> dict[str, np.ndarray]:
    """The pipeline's own stages, with the rules compiled once with the model (`ready`), as the
    array path uses them."""
    model = ready.model
    # every ID of the batch gets its answer, even one person sent under two IDs
    customers = clean(raw, replace(cleaning, duplicates="keep"), as_of, income_fill=model.income_fill)
    table = build_features(customers, rfm=model.rfm)
    add_scores(table.frame, score_week(model.lifetime, table.frame))  # rules may use p_alive, clv
    labels = model.scorer.segments(table.frame)
    assignment = label_customers(ready.rulebook, model.cluster_persona, table, labels, model.population)
    return customer_columns(table.frame, labels, assignment, predictions(model, table.frame))


def _model_of(output_dir: Path, folder: Path | None) -> Loaded:
    loaded = read_model(folder) if folder is not None else Loaded(None, None)
    if loaded.model is None:
        why = loaded.problem or "no brief of this customer source with a model has been delivered yet"
        raise ArchiveError(f"{output_dir}: {why}; make one with `reporter run` (add --refit when the "
                           "saved model is from another version)")
    return loaded
