"""One feature definition, two engines: the Spark features equal the local engine's, to 1e-9,
on a real local Spark (local[2])."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reporter.data import sample
from reporter.data.clean import clean
from reporter.data.features import build_features
from reporter.data.load import load
from reporter.data.params import CleanParams

pyspark = pytest.importorskip("pyspark", reason="PySpark is not installed (the [spark] extra)")


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("reporter-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    yield session
    session.stop()


@pytest.mark.parametrize("campaigns", [True, False], ids=["with campaigns", "without"])
def test_spark_computes_every_feature_as_the_local_engine_does(spark, tmp_path, campaigns):
    from reporter.data.spark import spark_features

    table = sample.generate(3000, seed=12)
    if not campaigns:
        table = table.drop(columns=[c for c in table.columns if c.startswith("AcceptedCmp")])
    raw = load(sample.write(table, tmp_path / "customers.csv"))
    as_of = raw.frame["Dt_Customer"].max().date()
    customers = clean(raw, CleanParams(), as_of)
    local = build_features(customers).frame
    plain = customers.frame.copy()
    plain["Dt_Customer"] = plain["Dt_Customer"].dt.date  # a Spark DATE, as a table would hold
    for column in plain.columns:
        if pd.api.types.is_string_dtype(plain[column]):
            plain[column] = plain[column].astype(object)
    # Spark's names ignore case: the export's Education would clash with the cleaned education
    plain = plain.drop(columns=["other_ids", "Education", "Marital_Status"])
    on_spark = spark_features(spark.createDataFrame(plain), as_of, build_features(customers).rfm)
    got = on_spark.toPandas().set_index("ID").loc[local["ID"]]
    numeric = [c for c in got.columns if c not in ("education", "living_with")]
    assert set(numeric) == set(local.columns) - {"ID", "education", "living_with", "in_fit", "other_ids"}
    np.testing.assert_allclose(got[numeric].to_numpy(dtype=float),
                               local.set_index("ID")[numeric].to_numpy(dtype=float), rtol=0, atol=1e-9)
    assert (got["living_with"].to_numpy() == local["living_with"].to_numpy()).all()


def test_spark_scores_every_customer_as_the_saved_model_does(spark, tmp_path):
    """Fitted by the local engine on a sample; every customer scored in Spark by the model's
    numbers gets the local Scorer's segment."""
    from reporter.data.spark import spark_features
    from reporter.segmentation.params import SegmentParams
    from reporter.segmentation.segment import segment
    from reporter.segmentation.spark import spark_segments

    raw = load(sample.write(sample.generate(4000, seed=31), tmp_path / "customers.csv"))
    as_of = raw.frame["Dt_Customer"].max().date()
    customers = clean(raw, CleanParams(), as_of)
    table = build_features(customers)
    scorer = segment(table, SegmentParams()).scorer
    local = pd.Series(scorer.segments(table.frame), index=table.frame["ID"])
    plain = customers.frame.drop(columns=["other_ids", "Education", "Marital_Status"]).copy()
    plain["Dt_Customer"] = plain["Dt_Customer"].dt.date
    for column in plain.columns:
        if pd.api.types.is_string_dtype(plain[column]):
            plain[column] = plain[column].astype(object)
    scored = spark_segments(scorer, spark_features(spark.createDataFrame(plain), as_of, table.rfm)).toPandas()
    got = scored.set_index("ID")["segment"].loc[local.index]
    assert scorer.k >= 3 and (got.to_numpy() == local.to_numpy()).all()


def test_spark_profiles_equal_the_local_engine_s(spark, tmp_path):
    """Sizes, shares, means, lifts and the words drawn from them, summed in Spark."""
    from reporter.data.spark import spark_features
    from reporter.segmentation.profile import profile
    from reporter.segmentation.spark import spark_profile

    raw = load(sample.write(sample.generate(3000, seed=5), tmp_path / "customers.csv"))
    as_of = raw.frame["Dt_Customer"].max().date()
    customers = clean(raw, CleanParams(), as_of)
    table = build_features(customers)
    labels = (table.frame["income"] > table.frame["income"].median()).astype(int).to_numpy() \
        + 2 * (table.frame["recency"] > 50).astype(int).to_numpy()
    local = profile(table, labels)
    plain = customers.frame.drop(columns=["other_ids", "Education", "Marital_Status"]).copy()
    plain["Dt_Customer"] = plain["Dt_Customer"].dt.date
    plain["group"] = labels
    for column in plain.columns:
        if pd.api.types.is_string_dtype(plain[column]):
            plain[column] = plain[column].astype(object)
    features = spark_features(spark.createDataFrame(plain), as_of, table.rfm)
    features = features.join(spark.createDataFrame(plain[["ID", "group"]]), "ID")
    summed = spark_profile(features, "group")
    assert [g.key for g in summed.groups] == [g.key for g in local.groups]
    for mine, theirs in zip(summed.groups, local.groups, strict=True):
        assert (mine.size, mine.traits, mine.summary) == (theirs.size, theirs.traits, theirs.summary)
        assert mine.share == pytest.approx(theirs.share, rel=1e-12)
        assert mine.spend_share == pytest.approx(theirs.spend_share, rel=1e-9)
        for name, value in theirs.means.items():
            assert mine.means[name] == pytest.approx(value, rel=1e-9, abs=1e-9), name


def test_a_missing_java_or_pyspark_is_one_line_saying_what_to_install(monkeypatch, tmp_path):
    from reporter import spark_session
    from reporter.errors import EnvironmentProblem

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


def test_spark_names_and_flags_every_customer_as_the_local_engine_does(spark, tmp_path):
    """The shipped personas.yaml: thresholds summed in Spark (means, exact percentiles) equal
    the local population's, and every customer's persona and flags are the local ones."""
    from reporter.data.spark import spark_features
    from reporter.personas.rulebook import all_conditions, assign, read_rulebook
    from reporter.personas.rules import Population
    from reporter.personas.spark import population_for, spark_personas
    from reporter.segmentation.params import SegmentParams
    from reporter.segmentation.profile import profile
    from reporter.segmentation.segment import segment
    from reporter.segmentation.spark import spark_segments
    from tests.conftest import REPO_ROOT

    raw = load(sample.write(sample.generate(4000, seed=44), tmp_path / "customers.csv"))
    as_of = raw.frame["Dt_Customer"].max().date()
    customers = clean(raw, CleanParams(), as_of)
    table = build_features(customers)
    fitted = segment(table, SegmentParams())
    rulebook = read_rulebook(REPO_ROOT / "config" / "personas.yaml")
    local = assign(rulebook, profile(table, fitted.labels), table, fitted.labels)
    plain = customers.frame.drop(columns=["other_ids", "Education", "Marital_Status"]).copy()
    plain["Dt_Customer"] = plain["Dt_Customer"].dt.date
    for column in plain.columns:
        if pd.api.types.is_string_dtype(plain[column]):
            plain[column] = plain[column].astype(object)
    features = spark_features(spark.createDataFrame(plain), as_of, table.rfm)
    population = population_for(rulebook, features)
    frozen = Population(table.frame).freeze(all_conditions(rulebook))
    assert population.means == pytest.approx(frozen.means, rel=1e-12)
    assert population.percentiles == pytest.approx(frozen.percentiles, rel=1e-12)
    scored = spark_segments(fitted.scorer, features).join(features, "ID")
    named = spark_personas(rulebook, local.cluster_persona, scored, population).toPandas()
    named = named.set_index("ID").loc[table.frame["ID"]]
    assert (named["persona"].to_numpy() == np.asarray(local.customer_persona)).all()
    for name, flagged in local.flags.items():
        column = "flag_" + "_".join(name.lower().split())
        assert (named[column].to_numpy() == flagged.astype(int)).all(), name
    assert any(flagged.any() for flagged in local.flags.values())
