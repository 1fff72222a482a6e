"""`engine: spark` end to end on a real local Spark (local[2]): the same archive as the local
engine, file for file, on the real table and a week later; the same segments and personas with
the model chosen and fitted on a sample; reading where the data is with the local
engine's checks and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from reporter.app.pipeline import SPARK_DRAWS_NO_CONTROL, run
from reporter.app.settings import load_config
from reporter.data import sample
from reporter.data.load import load
from reporter.errors import DataError
from tests.conftest import QUICK, REPO_ROOT, SPARK_TEST_CONF, run_cli, write_config

pytestmark = pytest.mark.spark

WEEK = 7
RULE_EDIT = ("recency > 60  ", "recency > 45  ")  # Churn Risk: more customers flagged
VARYING = {"run_id", "run_date", "data_sha256"}  # differ between any two runs (and engines' hashes)


def project_for(root: Path, engine: str, data: Path, sections: dict | None = None, **spark) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "config" / "personas.yaml").write_text((REPO_ROOT / "config" / "personas.yaml").read_text())
    settings = {"master": "local[2]", "conf": SPARK_TEST_CONF, **spark}  # the fixture's JVM, in a child too
    # Spark draws no control groups yet (issue 35): asked for them (the default share), its brief
    # says so; the local engine is asked for none, so both engines' lists hold the same customers.
    groups = {"control_groups": {"share": 0}} if engine == "local" else {}
    return write_config(root / "config" / "reporter.yaml", source={"path": str(data)}, teams=[],
                        engine=engine, spark=settings, exports={"parquet": True}, **QUICK,
                        **groups, **(sections or {}))


@pytest.mark.slow
def test_spark_runs_archive_and_brief_what_local_runs_do(tmp_path, real_table, spark):
    """The real table, then the same customers a week later with a persona rule edited (a
    scored run with week-over-week changes and customers renamed by the new rule), run by each
    engine: the same files, rows and brief, to 1e-9."""
    week1 = pd.read_csv(real_table, sep=None, engine="python")
    week2 = sample.age(week1, WEEK, seed=7)
    files = [sample.write(table, tmp_path / "data" / f"week{n}.csv") for n, table in ((1, week1), (2, week2))]
    runs = {}
    for engine in ("local", "spark"):
        path = project_for(tmp_path / engine, engine, files[0])
        runs[engine] = [run(load_config(path), data=files[0])]
        personas = path.parent / "personas.yaml"
        personas.write_text(personas.read_text().replace(*RULE_EDIT))
        runs[engine].append(run(load_config(path), data=files[1]))
    for week, rows in enumerate((len(week1), len(week2))):
        local, on_spark = runs["local"][week], runs["spark"][week]
        same_files(local.folder, on_spark.folder)
        same_brief(local.folder, on_spark.folder, (runs["spark"][0].run_id, runs["local"][0].run_id))
        record = json.loads((on_spark.folder / "run.json").read_text())
        assert record["engine"] == "spark" and record["data"]["rows_read"] == rows
    renamed = [json.loads((r[1].folder / "run.json").read_text())["model"]["rule_change"]
               for r in (runs["local"], runs["spark"])]
    assert renamed[1]["flags"] == renamed[0]["flags"] and renamed[1]["moves"] == renamed[0]["moves"]
    assert any(before < after for _, before, after in renamed[0]["flags"])
    local, on_spark = runs["local"][1].brief.changes, runs["spark"][1].brief.changes
    assert local.new_customers > 0 and local.gone_customers > 0
    assert (on_spark.new_customers, on_spark.gone_customers, on_spark.slipped_count) == \
        (local.new_customers, local.gone_customers, local.slipped_count)


# Earlier briefs are graded, and alive probability is scored, by engine: local only so far
# (issue 34): Spark writes no grading.parquet, its brief says so, and everything else must be
# the same.
LOCAL_ONLY_FILES = ("grading.parquet",)
LOCAL_ONLY_COLUMNS = ["p_alive", "purchases_90d", "clv_12m"]


def read_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, dtype=str).drop(columns=["run_id"])
    return frame.drop(columns=[c for c in LOCAL_ONLY_COLUMNS if c in frame])


def files_of(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.csv")
                  if p.name not in LOCAL_ONLY_FILES)


def same_files(local: Path, on_spark: Path) -> None:
    """Every file, cell for cell: p_response and next_campaign.csv too (issue 34: Spark scored
    no propensity)."""
    assert sorted(p.name for p in on_spark.iterdir()) == sorted(p.name for p in local.iterdir()
                                                                if p.name not in LOCAL_ONLY_FILES)
    assert files_of(on_spark) == files_of(local)
    assert "next_campaign.csv" in files_of(local) and "p_response" in read_csv(local / "customers.csv")

    for name in files_of(local):
        pd.testing.assert_frame_equal(read_csv(on_spark / name), read_csv(local / name), obj=name)
    parquet = pd.read_parquet(on_spark / "customers.parquet").sort_values("ID").reset_index(drop=True)
    expected = pd.read_parquet(local / "customers.parquet")
    assert parquet["ID"].tolist() == expected["ID"].tolist()
    assert (parquet["persona"].astype(str) == expected["persona"]).all()


def same_brief(local: Path, on_spark: Path, first_runs: tuple[str, str]) -> None:
    """Equal but for the run ids (the spark archive's first run is named as the local one's)."""
    mine = json.loads((on_spark / "brief.json").read_text().replace(*first_runs))
    theirs = json.loads((local / "brief.json").read_text())
    method = mine["model"].pop("method")
    assert method[:-1] == theirs["model"].pop("method")
    done = "Computed on Spark (local[2]): every customer was scored, named, flagged and counted in Spark"
    fitted = theirs["model"]["decision"].startswith("Fitted")
    assert method[-1] == (f"{done}; k and the model were chosen on all {theirs['customers']:,} customers, "
                          "on the driver." if fitted else f"{done}.")
    for key in VARYING | {"baseline"}:
        mine.pop(key), theirs.pop(key)
    assert theirs["propensity"]["note"] == "" and theirs["propensity"]["next_top"]  # compared below
    assert mine.pop("followup") is None  # earlier briefs are graded on the local engine only
    assert mine.pop("measure_notes") == [SPARK_DRAWS_NO_CONTROL] and theirs.pop("measure_notes") == []
    theirs.pop("followup")
    spark_lifetime, local_lifetime = mine.pop("lifetime"), theirs.pop("lifetime")  # local only
    assert spark_lifetime["personas"] == [] and spark_lifetime["note"].startswith("No alive probability")
    assert spark_lifetime["rule_notes"] == local_lifetime["rule_notes"] or local_lifetime["personas"]
    assert _same(mine, theirs)


def _same(mine, theirs, path="brief") -> bool:
    """Equal, numbers to 1e-9 (sums in another order)."""
    if isinstance(theirs, dict):
        assert mine.keys() == theirs.keys(), path
        return all(_same(mine[k], theirs[k], f"{path}.{k}") for k in theirs)
    if isinstance(theirs, list):
        assert len(mine) == len(theirs), path
        return all(_same(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(zip(mine, theirs, strict=True)))
    if isinstance(theirs, float):
        assert mine == pytest.approx(theirs, rel=1e-9, abs=1e-12), path
        return True
    assert mine == theirs, path
    return True


# Half the customers in the fitting sample, k searched from 2 to 4. A range reaching 5 tests the
# sample's luck, not the engine: on this table both engines choose k = 5, but the fifth segment
# splits differently on every sample (adjusted Rand index 0.59 at 20,000 customers and 30,000).
# A quarter was too few (k = 3 both, but ARI 0.92). The local engine searches all 20,000 (its
# selection_sample_size), as it searches 20,000 of a bigger table.
CUSTOMERS, SAMPLE_ROWS, K_RANGE = 20_000, 10_000, {"k_min": 2, "k_max": 4}


@pytest.mark.slow
def test_spark_fitted_on_a_sample_scores_everyone_as_the_local_engine_fitted_on_all(tmp_path, spark,
                                                                                   compiled_spark_conf):
    """Spark chooses k and fits on a sample of half the customers, then scores everyone:
    the same k, the same personas and segments that agree (adjusted Rand index at least 0.95)
    with the local engine's, chosen and fitted on all of them."""
    from reporter.app.pipeline import StageTimer, _analyse

    data = sample.write(sample.generate(CUSTOMERS, seed=200), tmp_path / "data" / "customers.csv")
    found = {}
    for engine in ("local", "spark"):
        config = load_config(project_for(tmp_path / engine, engine, data, {"segmentation": K_RANGE},
                                         sample_rows=SAMPLE_ROWS, conf=compiled_spark_conf))
        analysed, _ = _analyse(config, None, None, StageTimer(), False, "r")
        found[engine] = analysed
    local, on_spark = found["local"].analysis, found["spark"].analysis
    assert SAMPLE_ROWS * 0.9 < found["spark"].fitted_on_rows < SAMPLE_ROWS * 1.1
    assert not local.segmentation.k_choice.sampled  # the local k search ran on everyone
    assert on_spark.segmentation.k == local.segmentation.k
    assert on_spark.assignment.present == local.assignment.present
    segments = found["spark"].labelled.select("ID", "cluster", "persona").toPandas().set_index("ID")
    segments = segments.loc[local.table.frame["ID"]]
    assert len(segments) == CUSTOMERS
    assert adjusted_rand_score(local.segmentation.labels, segments["cluster"]) >= 0.95
    agree = (segments["persona"].to_numpy() == local.assignment.customer_persona).mean()
    assert agree >= 0.95


def test_spark_reads_a_hive_folder_s_newest_snapshot_and_a_spark_table(tmp_path, spark):
    from reporter.spark.source import SparkSourceParams, read_spark_customers

    table = sample.generate(600, seed=9)
    older = table.assign(Income=table["Income"] + 1)
    for snapshot, frame in (("2024-06-23", older), ("2024-06-30", table)):
        folder = tmp_path / "lake" / f"snapshot={snapshot}"
        folder.mkdir(parents=True)
        frame.rename(columns={"ID": "customer_id"}).to_parquet(folder / "part-0.parquet")
    read = read_spark_customers(spark, SparkSourceParams(location=str(tmp_path / "lake"),
                                                         columns=(("ID", "customer_id"),),
                                                         as_of_column="snapshot"))
    local = load(sample.write(table, tmp_path / "customers.csv")).frame
    got = read.frame.toPandas().sort_values("ID").reset_index(drop=True)
    assert read.rows_read == 600 and got["Income"].equals(local["Income"])
    assert read.origin.snapshot == "2024-06-30"
    spark.createDataFrame(table.astype({"Income": "float64"})).createOrReplaceTempView("crm_customers")
    viewed = read_spark_customers(spark, SparkSourceParams(table="crm_customers"))
    assert viewed.rows_read == 600 and viewed.origin.label == "table crm_customers"


def test_bad_input_on_spark_gets_the_local_engine_s_message(tmp_path, spark):
    """Found in any batch, worded as the local engine words it; the row is named by its ID."""
    from reporter.spark.source import SparkSourceParams, read_spark_customers

    table = sample.generate(300, seed=4).astype({"Income": "object"})
    table.loc[200, "Income"] = "58k"
    path = tmp_path / "customers.csv"
    table.to_csv(path, index=False)
    with pytest.raises(DataError) as local:
        load(path)
    with pytest.raises(DataError) as on_spark:
        read_spark_customers(spark, SparkSourceParams(location=str(path)))
    customer = table.loc[200, "ID"]
    assert str(on_spark.value) == str(local.value).replace("line 202", f"ID {customer}")
    missing = sample.write(sample.generate(300, seed=4).drop(columns=["Recency"]), tmp_path / "short.csv")
    with pytest.raises(DataError) as local_missing:
        load(missing)
    with pytest.raises(DataError) as spark_missing:
        read_spark_customers(spark, SparkSourceParams(location=str(missing)))
    assert str(spark_missing.value) == str(local_missing.value)


def test_reporter_run_on_spark_stops_on_bad_data_in_one_line_and_archives_nothing(tmp_path):
    table = sample.generate(300, seed=4).astype({"Dt_Customer": "object"})
    table.loc[17, "Dt_Customer"] = "not a date"
    data = sample.write(table, tmp_path / "data" / "customers.csv")
    config = project_for(tmp_path, "spark", data)
    result = run_cli("run", "--config", str(config))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Dt_Customer" in lines[0] and f"ID {table.loc[17, 'ID']}" in lines[0]
    assert "Traceback" not in result.stderr and "py4j" not in result.stderr.lower()
    assert not (tmp_path / "output").exists() or not any((tmp_path / "output").iterdir())
