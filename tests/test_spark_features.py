"""One definition, two engines: Spark's read, clean, features, scoring, profiles, personas and
flags equal the local engine's on generated data (features to 1e-9), on a real local Spark."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from reporter.data import sample
from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import load
from reporter.data.params import CleanParams
from reporter.personas.rulebook import all_conditions, assign, read_rulebook, usable_rulebook
from reporter.personas.rules import Population
from reporter.segmentation.params import SegmentParams
from reporter.segmentation.profile import profile
from reporter.segmentation.segment import segment
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.spark


def both_engines(spark, table: pd.DataFrame, tmp_path):
    """The same file cleaned by each engine: (local Customers, Spark cleaned frame)."""
    from reporter.spark.clean import spark_clean
    from reporter.spark.source import SparkSourceParams, read_spark_customers

    path = sample.write(table, tmp_path / "customers.csv")
    raw = load(path)
    as_of = raw.frame["Dt_Customer"].max().date()
    local = clean(raw, CleanParams(), as_of)
    on_spark = spark_clean(read_spark_customers(spark, SparkSourceParams(location=str(path))),
                           CleanParams(), as_of)
    assert on_spark.notes == local.notes and on_spark.income_fill == local.income_fill
    return local, on_spark.frame, as_of


@pytest.mark.parametrize("campaigns", [True, False], ids=["with campaigns", "without"])
def test_spark_cleans_and_computes_every_feature_as_the_local_engine_does(spark, tmp_path, campaigns):
    from reporter.spark.features import spark_features

    table = sample.generate(3000, seed=12)
    if not campaigns:
        table = table.drop(columns=[c for c in table.columns if c.startswith("AcceptedCmp")])
    customers, cleaned, as_of = both_engines(spark, table, tmp_path)
    features = build_features(customers)
    local = features.frame
    got = spark_features(cleaned, as_of, features.rfm).toPandas().set_index("ID").loc[local["ID"]]
    numeric = [c for c in got.columns if c not in ("education", "living_with", "in_fit", "other_ids")]
    assert set(numeric) == set(local.columns) - {"ID", "education", "living_with", "in_fit", "other_ids"}
    np.testing.assert_allclose(got[numeric].to_numpy(dtype=float),
                               local.set_index("ID")[numeric].to_numpy(dtype=float), rtol=0, atol=1e-9)
    for column in ("education", "living_with", "in_fit", "other_ids"):
        assert (got[column].to_numpy() == local[column].to_numpy()).all(), column


def test_spark_scores_every_customer_as_the_saved_model_does(spark, tmp_path):
    """Fitted by the local engine; every customer scored in Spark by the model's numbers gets
    the local Scorer's segment."""
    from reporter.spark.features import spark_features
    from reporter.spark.segments import SEGMENT, spark_segments

    customers, cleaned, as_of = both_engines(spark, sample.generate(4000, seed=31), tmp_path)
    table = build_features(customers)
    scorer = segment(table, SegmentParams()).scorer
    local = pd.Series(scorer.segments(table.frame), index=table.frame["ID"])
    scored = spark_segments(scorer, spark_features(cleaned, as_of, table.rfm)).toPandas()
    got = scored.set_index("ID")[SEGMENT].loc[local.index]
    assert scorer.k >= 3 and (got.to_numpy() == local.to_numpy()).all()


def test_spark_profiles_equal_the_local_engine_s(spark, tmp_path):
    """Sizes, shares, means, lifts and the words drawn from them, summed in Spark."""
    from reporter.spark.features import spark_features
    from reporter.spark.segments import spark_profile

    customers, cleaned, as_of = both_engines(spark, sample.generate(3000, seed=5), tmp_path)
    table = build_features(customers)
    labels = (table.frame["income"] > table.frame["income"].median()).astype(int).to_numpy() \
        + 2 * (table.frame["recency"] > 50).astype(int).to_numpy()
    left_out = ~table.frame["in_fit"].to_numpy(dtype=bool)
    assert left_out.any(), "a group of none but customers left out of fitting: its own averages"
    labels[left_out] = 4
    local = profile(table, labels)
    groups = spark.createDataFrame(pd.DataFrame({"ID": table.frame["ID"], "group": labels}))
    summed = spark_profile(spark_features(cleaned, as_of, table.rfm).join(groups, "ID"), "group")
    assert [g.key for g in summed.groups] == [g.key for g in local.groups]
    for mine, theirs in zip(summed.groups, local.groups, strict=True):
        assert (mine.size, mine.traits, mine.summary) == (theirs.size, theirs.traits, theirs.summary)
        assert mine.share == pytest.approx(theirs.share, rel=1e-12)
        assert mine.spend_share == pytest.approx(theirs.spend_share, rel=1e-9)
        for name, value in theirs.means.items():
            assert mine.means[name] == pytest.approx(value, rel=1e-9, abs=1e-9), name


def test_a_missing_java_or_pyspark_is_one_line_saying_what_to_install(monkeypatch, tmp_path):
    from reporter.errors import EnvironmentProblem
    from reporter.spark import session as spark_session

    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # no bin/java there
    with pytest.raises(EnvironmentProblem, match=r"Java runtime 17 or newer: on Debian apt-get "
                                                 r"install openjdk-17-jre-headless"):
        spark_session.check_spark()
    old = tmp_path / "old"
    (old / "bin").mkdir(parents=True)
    (old / "bin" / "java").write_text('#!/bin/sh\necho \'openjdk version "1.8.0_392"\' >&2\n')
    (old / "bin" / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(old))
    with pytest.raises(EnvironmentProblem, match="found Java 8"):
        spark_session.check_spark()
    monkeypatch.delenv("JAVA_HOME")
    assert spark_session.java_version() >= 17  # the machine's own, which the other tests use
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now fails
    with pytest.raises(EnvironmentProblem, match=r"pip install 'smartcart-reporter\[spark\]'"):
        spark_session.check_spark()


def test_spark_names_and_flags_every_customer_as_the_local_engine_does(spark, tmp_path):
    """The shipped personas.yaml: thresholds summed in Spark (means, exact percentiles) equal
    the local population's, and every customer's persona and flags are the local ones."""
    from reporter.spark.features import spark_features
    from reporter.spark.personas import spark_personas, spark_population
    from reporter.spark.segments import spark_segments

    customers, cleaned, as_of = both_engines(spark, sample.generate(4000, seed=44), tmp_path)
    table = build_features(customers)
    fitted = segment(table, SegmentParams())
    rulebook = read_rulebook(REPO_ROOT / "config" / "personas.yaml")
    local = assign(rulebook, profile(table, fitted.labels), table, fitted.labels)
    features = spark_features(cleaned, as_of, table.rfm)
    population = spark_population(features, all_conditions(rulebook))
    frozen = Population(table.frame).freeze(all_conditions(rulebook))
    assert population.means == pytest.approx(frozen.means, rel=1e-12)
    assert population.percentiles == pytest.approx(frozen.percentiles, rel=1e-12)
    scored = spark_segments(fitted.scorer, features)
    judged, _ = usable_rulebook(rulebook, ())  # as run.py judges them: p_alive is local only
    named = spark_personas(judged, local.cluster_persona, scored, population).toPandas()
    named = named.set_index("ID").loc[table.frame["ID"]]
    assert (named["persona"].to_numpy() == np.asarray(local.customer_persona)).all()
    for name, flagged in local.flags.items():
        column = "flag_" + "_".join(name.lower().split())
        assert (named[column].to_numpy() == flagged.astype(int)).all(), name
    assert any(flagged.any() for flagged in local.flags.values())


@pytest.mark.parametrize("mode", ["merge", "keep", "refuse"])
def test_spark_treats_people_exported_twice_as_the_local_engine_does(spark, tmp_path, mode):
    """The same person under other IDs (twice and three times) and exact duplicate rows:
    the same rows kept, the same other_ids, the same notes, or the same refusal."""
    from reporter.errors import DataError
    from reporter.spark.clean import spark_clean
    from reporter.spark.source import SparkSourceParams, read_spark_customers

    table = sample.generate(500, seed=8)
    twice = table.iloc[10:30].assign(ID=lambda t: t["ID"] + 10_000)
    thrice = table.iloc[10:15].assign(ID=lambda t: t["ID"] + 20_000)
    table = pd.concat([table, twice, thrice, table.iloc[40:43]], ignore_index=True)
    path = sample.write(table, tmp_path / "customers.csv")
    raw = load(path)
    as_of = raw.frame["Dt_Customer"].max().date()
    params = CleanParams(duplicates=mode)
    on_spark = read_spark_customers(spark, SparkSourceParams(location=str(path)))
    if mode == "refuse":
        with pytest.raises(DataError) as local_error:
            clean(raw, params, as_of)
        with pytest.raises(DataError) as spark_error:
            spark_clean(on_spark, params, as_of)
        assert str(spark_error.value) == str(local_error.value)
        return
    local = clean(raw, params, as_of)
    cleaned = spark_clean(on_spark, params, as_of)
    assert cleaned.notes == local.notes and local.notes.count("repair") > 0
    got = cleaned.frame.toPandas().sort_values("ID").reset_index(drop=True)
    expected = local.frame.sort_values("ID").reset_index(drop=True)
    assert got["ID"].tolist() == expected["ID"].tolist()
    assert got["other_ids"].tolist() == expected["other_ids"].tolist()
    assert (expected["other_ids"] != "").sum() == (20 if mode == "merge" else 20 + 20 + 5)
