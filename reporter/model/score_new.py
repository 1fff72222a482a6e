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

import pandas as pd

from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import RawCustomers
from reporter.data.params import CleanParams
from reporter.errors import ArchiveError
from reporter.model.arrays import FAST_MAX, ArrayModel, prepare, score_arrays
from reporter.model.artefact import Loaded, SavedModel, read_model
from reporter.model.predictions import predictions
from reporter.personas.exports import customer_columns
from reporter.personas.rulebook import label_customers
from reporter.predict.lifetime import add_scores, score_week


@dataclass(frozen=True)
class Scored:
    run: str  # the folder of the run whose model scored the batch
    frame: pd.DataFrame  # ID, persona, cluster, one 0/1 column per flag, key metrics, predictions
    run_id: str = ""  # of that run
    as_of: str = ""  # the date the batch was scored at

    @property
    def stamp(self) -> tuple[tuple[str, str], ...]:
        return (("run_id", self.run_id), ("as_of", self.as_of))


def score_new(output_dir: Path, folder: Path | None, raw: RawCustomers, cleaning: CleanParams) -> Scored:
    """Segment, persona and flags for these customers with the model of the run in `folder`."""
    loaded = _model_of(output_dir, folder)
    return score_with(loaded.model, loaded.folder.name, raw, cleaning)


def score_with(model: SavedModel | ArrayModel, run: str, raw: RawCustomers, cleaning: CleanParams,
               fast: bool = True) -> Scored:
    """The same with a model already loaded (`reporter serve` keeps one in memory, prepared
    for the array path); `fast=False` takes the table path whatever the batch's size."""
    saved = model.model if isinstance(model, ArrayModel) else model
    as_of = scoring_date(saved, raw.frame["Dt_Customer"].max().date())
    if fast and len(raw.frame) <= FAST_MAX:
        ready = model if isinstance(model, ArrayModel) else prepare(model)
        columns = {name: raw.frame[name].to_numpy() for name in raw.frame.columns}
        frame = pd.DataFrame(score_arrays(ready, columns, as_of))
    else:
        frame = _table_path(saved, raw, cleaning, as_of)
    return Scored(run, frame, saved.saved_in_run, as_of.isoformat())


def scoring_date(model: SavedModel, newest_join: date) -> date:
    """Ages and tenures are measured at the model's date, or a later join date of the batch."""
    return max(model.as_of, newest_join)


def _table_path(model: SavedModel, raw: RawCustomers, cleaning: CleanParams, as_of: date) -> pd.DataFrame:
    # every ID of the batch gets its answer, even one person sent under two IDs
    customers = clean(raw, replace(cleaning, duplicates="keep"), as_of, income_fill=model.income_fill)
    table = build_features(customers, rfm=model.rfm)
    add_scores(table.frame, score_week(model.lifetime, table.frame))  # rules may use p_alive, clv
    labels = model.scorer.segments(table.frame)
    assignment = label_customers(model.rulebook(), model.cluster_persona, table, labels, model.population)
    return pd.DataFrame(customer_columns(table.frame, labels, assignment,
                                         predictions(model, table.frame)))


def _model_of(output_dir: Path, folder: Path | None) -> Loaded:
    loaded = read_model(folder) if folder is not None else Loaded(None, None)
    if loaded.model is None:
        why = loaded.problem or "no brief of this customer source with a model has been delivered yet"
        raise ArchiveError(f"{output_dir}: {why}; make one with `reporter run` (add --refit when the "
                           "saved model is from another version)")
    return loaded
