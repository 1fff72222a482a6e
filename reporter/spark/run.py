"""`engine: spark`: one run's analysis with the customers staying in Spark.

read and check (spark/source) -> clean (spark/clean) -> a fitting sample on the driver, where
the local engine's stage sequence decides and fits the model (k search, assessment, drift) ->
every customer featured, scored, named, flagged and given p_response in Spark by that model's
plain numbers (the propensity by the one scorer, predict/saved.py, in a pandas UDF) ->
profiles, thresholds, counts and call lists summed in Spark. The result is the local engine's
`Analysis` (model, decision, every profile and count over all customers) plus the Spark table
of labelled customers, which week-over-week, the brief's figures and the exports read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from reporter.archive import RunFolder
from reporter.data.schema import CAMPAIGN_COLUMNS, COLUMNS, DATE_COLUMN
from reporter.errors import DataError
from reporter.history.weekly import WeekOverWeek
from reporter.model.artefact import Loaded
from reporter.model.lifecycle import Analysis, kept_against_rules, last_names
from reporter.model.lifecycle import analyse as analyse_sample
from reporter.model.params import AnalysisParams
from reporter.personas.figures import CustomerFigures, ListParams, chart_sample
from reporter.personas.rulebook import (
    Rulebook,
    all_conditions,
    label_customers,
    name_segments,
    usable_rulebook,
)
from reporter.predict.lifetime import Lifetime
from reporter.predict.propensity import Propensity
from reporter.spark.clean import SparkCleaned, spark_clean
from reporter.spark.exports import customer_layout, write_spark_exports
from reporter.spark.features import spark_features
from reporter.spark.figures import spark_figures
from reporter.spark.personas import SavedRules, spark_personas, spark_population, spark_rule_change
from reporter.spark.predict import spark_propensity
from reporter.spark.segments import SEGMENT, spark_profile, spark_segments
from reporter.spark.session import materialised
from reporter.spark.source import SparkCustomers
from reporter.spark.weekly import read_previous, spark_compare

HASH_SCALE = 1_000_000  # sample membership by a hash of the ID: the same customers every run


@dataclass(frozen=True)
class SparkAnalysis:
    """The run's analysis (every figure over all customers; its table is the fitting sample)
    and the labelled customers in Spark."""

    analysis: Analysis
    labelled: DataFrame  # every customer: features, cluster, persona, one 0/1 column per flag
    spark: SparkSession
    fitted_on_rows: int  # customers in the fitting sample
    propensity_customers: tuple | None = None  # (IDs, personas) of analysis.propensity's p_response

    @property
    def sentence(self) -> str:
        """For the brief's method: the engine, and what this run fitted on, if it fitted."""
        done = (f"Computed on Spark ({self.spark.sparkContext.master}): every customer was scored, "
                "named, flagged and counted in Spark")
        if self.analysis.decision.action not in ("fitted", "refitted"):
            return done + "."
        customers = self.analysis.customers.notes.rows_kept
        fitted = (f"all {customers:,} customers" if self.fitted_on_rows >= customers else
                  f"a sample of {self.fitted_on_rows:,} of the {customers:,} customers")
        return f"{done}; k and the model were chosen on {fitted}, on the driver."

    def change(self, previous_customers: Path, previous: tuple[str, str], valuable: tuple[str, ...],
               slipped_to: tuple[str, ...]) -> WeekOverWeek:
        rulebook = self.analysis.rulebook
        before = read_previous(self.spark, str(previous_customers))
        return spark_compare(before, customer_layout(self.labelled, rulebook), previous,
                             [p.name for p in rulebook.personas], [f.name for f in rulebook.flags],
                             valuable, slipped_to, self.analysis.decision.renamed,
                             self.analysis.decision.successors)

    def figures(self, change: WeekOverWeek | None, params: ListParams) -> CustomerFigures:
        found = self.analysis
        sample = chart_sample(found.table.frame, found.assignment.customer_persona,
                              found.segmentation.pca_coordinates, params)
        new = ({name: self.spark.createDataFrame(frame[["ID"]]) for name, frame in
                change.newly_flagged.items() if len(frame)} if change is not None else {})
        return spark_figures(self.labelled, found.rulebook, sample, new, params)

    def write(self, folder: RunFolder, stamp: tuple[tuple[str, str], ...], chunk_rows: int,
              parquet: bool) -> list[str]:
        return write_spark_exports(self.labelled, self.analysis.rulebook, folder.file, stamp, parquet)


def spark_as_of(raw: SparkCustomers, as_of: date | None) -> date:
    """The newest join date (counted as the table was read), unless --as-of says otherwise."""
    newest = (raw.newest or raw.frame.agg(F.max(DATE_COLUMN)).first()[0]).date()
    if as_of is None:
        return newest
    if as_of < newest:
        raise DataError(f"{raw.origin}: --as-of {as_of:%Y-%m-%d} is before the newest join date "
                        f"{newest:%Y-%m-%d} in the data; pass a later date or leave --as-of out")
    return as_of


def spark_analyse(spark: SparkSession, raw: SparkCustomers, as_of: date, params: AnalysisParams,
                  rulebook: Rulebook, loaded: Loaded, refit: bool, run_id: str, timer,
                  sample_size: int) -> SparkAnalysis:
    saved = loaded.model
    with timer("clean"):
        cleaned = spark_clean(raw, params.clean, as_of, saved.income_fill if saved else None)
    with timer("sample"):
        sample = _fitting_sample(cleaned, raw, sample_size, params.segment.seed)
    found = analyse_sample(sample, as_of, params, rulebook, loaded, refit, run_id, timer)
    model = found.saved_model
    with timer("score"):
        propensity = found.propensity.model if found.propensity is not None else None
        scored = materialised(spark_propensity(
            spark_segments(model.scorer, spark_features(cleaned.frame, as_of, model.rfm)), propensity))
        cluster_profiles = spark_profile(scored, SEGMENT)
    with timer("personas"):
        judged, left_out = usable_rulebook(rulebook, ())  # p_alive and clv are scored locally only
        population = spark_population(scored, all_conditions(judged))
        kept = found.decision.action in ("scored", "held") and found.decision.rule_change is None
        verdicts, cluster_persona = name_segments(judged, cluster_profiles, population,
                                                  found.assignment.cluster_persona if kept else None,
                                                  last_names(saved), params.keep_margin)
        labelled = spark_personas(judged, cluster_persona, scored, population).transform(materialised)
        persona_profiles = spark_profile(labelled, "persona")
        decision = found.decision
        if decision.rule_change is not None:  # personas.yaml changed: who is renamed, counted in Spark
            old_rules = usable_rulebook(saved.rulebook(), ())[0]  # against this week's thresholds
            rules = SavedRules(old_rules, saved.cluster_persona,
                               spark_population(scored, all_conditions(old_rules)))
            decision = replace(decision, rule_change=spark_rule_change(
                rules, judged, scored, labelled, decision.rule_change.since_run))
    # the naming decided on every customer's profile, applied to the fitting sample the charts draw
    assignment = replace(label_customers(judged, cluster_persona, found.table, found.segmentation.labels,
                                         population, verdicts), notes=left_out)
    if kept:  # judged again on every customer's profile
        decision = replace(decision, rule_changes=kept_against_rules(assignment, cluster_persona))
    fill = model.income_fill if found.decision.action in ("scored", "held") else cleaned.income_fill
    # every count is the table's, but "used to fit" is the sample's, as the k search says
    notes = replace(cleaned.notes, rows_in_fit=found.customers.notes.rows_in_fit)
    with timer("predict"):
        scored_propensity, customers = _every_customer(found.propensity, labelled)
    analysis = replace(
        found, customers=replace(found.customers, notes=notes), cluster_profiles=cluster_profiles,
        decision=decision, propensity=scored_propensity,
        lifetime=_unscored_lifetime(found.lifetime),
        persona_profiles=persona_profiles, assignment=assignment,
        saved_model=replace(model, population=population, cluster_persona=cluster_persona,
                            income_fill=fill))
    return SparkAnalysis(analysis, labelled, spark, len(sample.frame), customers)


def _every_customer(propensity: Propensity | None, labelled: DataFrame):
    """The propensity of every customer, as scored in Spark, for the brief's lift, persona and
    next-campaign figures: three columns reach the driver (ID, persona, p_response), with the
    (IDs, personas) they belong to; the sample's propensity when Spark scored none."""
    if propensity is None or "p_response" not in labelled.columns:
        return propensity, None
    scored = labelled.select("ID", "persona", "p_response").orderBy("ID").toPandas()
    return (replace(propensity, p_response=scored["p_response"].to_numpy(float)),
            (scored["ID"].to_numpy(), scored["persona"].to_numpy(dtype=object)))


def _unscored_lifetime(lifetime: Lifetime | None) -> Lifetime | None:
    """The same for the alive probability: fitted on the sample and saved, scored locally only
    (a refused fit keeps its own note)."""
    if lifetime is None or lifetime.model is None:
        return lifetime
    return replace(lifetime, scores=None, note="No alive probability on engine: spark: BG/NBD and "
                   "Gamma-Gamma are fitted and saved in model.json, but only engine: local scores "
                   "them (alive probability is scored locally only).")


def _fitting_sample(cleaned: SparkCleaned, raw: SparkCustomers, size: int, seed: int):
    """Up to about `size` customers, chosen by a hash of their ID and the seed (so the same
    customers each run, however Spark splits the table), brought to the driver as the local
    engine reads a file: the export's columns, in ID order."""
    rows = cleaned.notes.rows_kept
    columns = [c for c in (*COLUMNS, *CAMPAIGN_COLUMNS) if c in cleaned.frame.columns]
    chosen = cleaned.frame
    if rows > size:
        threshold = int(HASH_SCALE * size / rows)
        chosen = chosen.where(F.pmod(F.xxhash64(F.col("ID"), F.lit(seed)), F.lit(HASH_SCALE)) < threshold)
    frame = chosen.select(*columns).toPandas().sort_values("ID", kind="stable").reset_index(drop=True)
    frame[DATE_COLUMN] = frame[DATE_COLUMN].astype("datetime64[ns]")
    return raw.on_driver(frame)
