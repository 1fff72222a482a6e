"""`reporter assign`: segment, persona and flags for customers who were not in the fitted data
(a sign-up, a CRM batch), with the model an archived run saved.

The batch goes through the same load, clean, features and `Scorer.segments` path as the weekly
run, with the run's frozen values: the income fill, the RFM cut-points, the persona of each
segment and the population thresholds of the rules. A small batch is therefore judged against
the customer base, not against itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import RawCustomers
from reporter.data.params import CleanParams
from reporter.errors import ArchiveError
from reporter.model.artefact import Loaded, SavedModel, read_model
from reporter.personas.control import ControlParams, control_groups
from reporter.personas.exports import customer_table
from reporter.personas.rulebook import label_customers


@dataclass(frozen=True)
class Scored:
    run: str  # the folder of the run whose model scored the batch
    frame: pd.DataFrame  # ID, persona, cluster, one 0/1 column per flag, key metrics
    run_id: str = ""  # of that run
    as_of: str = ""  # the date the batch was scored at

    @property
    def stamp(self) -> tuple[tuple[str, str], ...]:
        return (("run_id", self.run_id), ("as_of", self.as_of))


def score_new(output_dir: Path, folder: Path | None, raw: RawCustomers, cleaning: CleanParams,
              control: ControlParams | None = None) -> Scored:
    """Segment, persona and flags for these customers with the model of the run in `folder`."""
    loaded = _model_of(output_dir, folder)
    return score_with(loaded.model, loaded.folder.name, raw, cleaning, control)


def score_with(model: SavedModel, run: str, raw: RawCustomers, cleaning: CleanParams,
               control: ControlParams | None = None) -> Scored:
    """The same with a model already loaded (`reporter serve` keeps one in memory). With
    `control`, each flag's control group is marked as the weekly run marks it (control_<flag>)."""
    as_of = max(model.as_of, raw.frame["Dt_Customer"].max().date())
    # every ID of the batch gets its answer, even one person sent under two IDs
    customers = clean(raw, replace(cleaning, duplicates="keep"), as_of, income_fill=model.income_fill)
    table = build_features(customers, rfm=model.rfm)
    labels = model.scorer.segments(table.frame)
    rulebook = model.rulebook()
    assignment = label_customers(rulebook, model.cluster_persona, table, labels, model.population)
    groups = (control_groups(table.frame["ID"].to_numpy(), assignment.flags,
                             control.with_flags(rulebook.flags), as_of) if control is not None else None)
    return Scored(run, customer_table(table, labels, assignment, groups=groups), model.saved_in_run,
                  as_of.isoformat())


def _model_of(output_dir: Path, folder: Path | None) -> Loaded:
    loaded = read_model(folder) if folder is not None else Loaded(None, None)
    if loaded.model is None:
        why = loaded.problem or "no brief of this customer source with a model has been delivered yet"
        raise ArchiveError(f"{output_dir}: {why}; make one with `reporter run` (add --refit when the "
                           "saved model is from another version)")
    return loaded
