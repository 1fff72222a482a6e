"""The model life cycle: saved with each run, scored the next week, refitted on drift, age or
request, aligned with the model it replaces, held when a refit falls short; `reporter assign`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reporter.app.cli import main
from reporter.data import sample
from reporter.model.artefact import MODEL_FILE, read_model
from reporter.model.drift import Baseline, Drift, DriftRow, measure, psi
from reporter.model.lifecycle import Evidence, Verdict, decide
from reporter.model.params import ModelParams
from reporter.segmentation.align import align
from tests.conftest import QUICK, REPO_ROOT, new_project, run_folders, write_config


def _run(project: Path, *extra: str) -> dict:
    """One in-process `reporter run`; returns the new run's run.json."""
    before = set(run_folders(project / "output"))
    code = main(["run", "--config", str(project / "config" / "reporter.yaml"), *extra])
    assert code == 0
    (folder,) = set(run_folders(project / "output")) - before
    return json.loads((folder / "run.json").read_text()) | {"folder": folder}


def _personas(record: dict) -> pd.Series:
    return pd.read_csv(record["folder"] / "customers.csv", index_col="ID")["persona"]


@pytest.fixture(scope="module")
def week_one(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("weeks")
    return sample.write(sample.generate(1000, seed=21), folder / "week1.csv")


@pytest.fixture(scope="module")
def week_one_briefed(tmp_path_factory, sample_csv, week_one) -> Path:
    """A project like `project` (the same reporter.yaml, byte for byte) after its first
    `reporter run --data week1.csv`: made once for the module, as eleven tests start so."""
    root = tmp_path_factory.mktemp("week-one-briefed")
    new_project(root, sample_csv)
    _run(root, "--data", str(week_one))
    return root / "output"


def _first_week(project: Path, week_one_briefed: Path) -> dict:
    """This project's first run of week one (the module's, copied in: a copy takes
    milliseconds, a run seconds); its run.json as `_run` returns it."""
    assert (project / "config" / "reporter.yaml").read_bytes() == \
        (week_one_briefed.parent / "config" / "reporter.yaml").read_bytes()
    shutil.copytree(week_one_briefed, project / "output")
    (folder,) = run_folders(project / "output")
    return json.loads((folder / "run.json").read_text()) | {"folder": folder}


def test_next_week_is_scored_with_the_saved_model_and_personas_hold(project, week_one, tmp_path,
                                                                   week_one_briefed):
    # the same source: next week's export lands in the same folder
    week_two = sample.write(sample.age(pd.read_csv(week_one), days=7, seed=3),
                            week_one.parent / f"{tmp_path.name}-week2.csv")
    first = _first_week(project, week_one_briefed)
    second = _run(project, "--data", str(week_two))
    assert first["model"]["action"] == "fitted"
    assert second["model"]["action"] == "scored"
    assert second["model"]["fitted_in_run"] == first["run_id"]
    assert second["model"]["drift"]["recency"]["psi"] > 0  # the week did change the data
    before, after = _personas(first), _personas(second)
    continuing = before.index.intersection(after.index)
    moved = float((before[continuing] != after[continuing]).mean())
    assert len(continuing) > 950 and moved < 0.05, moved
    assert "Scored with the model fitted on" in (second["folder"] / "brief.html").read_text()


def test_shifted_income_and_spend_trip_the_drift_gate(project, week_one, tmp_path, week_one_briefed):
    table = pd.read_csv(week_one)
    spend = [c for c in table.columns if c.startswith("Mnt")]
    shifted = table.assign(Income=(table["Income"] * 1.6).round(), **{c: table[c] * 2 for c in spend})
    drifted = sample.write(shifted, week_one.parent / f"{tmp_path.name}-drifted.csv")
    _first_week(project, week_one_briefed)
    second = _run(project, "--data", str(drifted))
    model = second["model"]
    assert model["action"] == "refitted" and "drift in" in model["reason"]
    assert model["drift"]["total_spending"]["verdict"] == "refit"
    html = (second["folder"] / "brief.html").read_text()
    assert "Refitted on this week&#39;s data: drift in" in html and "Drift since the model" in html


def test_a_week_whose_p_response_moved_is_refitted_like_a_feature_drift(project, week_one, tmp_path,
                                                                       week_one_briefed):
    """Issue 34: p_response was not watched for drift. Every customer now answered the earlier
    campaigns (AcceptedCmp1-5, not a drift feature): the features hold still, p_response moves."""
    table = pd.read_csv(week_one)
    answered = table.assign(**{c: 1 for c in table.columns if c.startswith("AcceptedCmp")})
    moved = sample.write(answered, week_one.parent / f"{tmp_path.name}-answered.csv")
    first = _first_week(project, week_one_briefed)
    document = json.loads((first["folder"] / MODEL_FILE).read_text())
    assert "p_response" in document["model"]["baseline"]["edges"]
    second = _run(project, "--data", str(moved))
    model = second["model"]
    assert model["action"] == "refitted" and "drift in p_response" in model["reason"]
    assert model["drift"]["p_response"]["verdict"] == "refit"
    assert {name for name, row in model["drift"].items() if row["verdict"] != "stable"} == {"p_response"}
    assert "<td>p response</td>" in (second["folder"] / "brief.html").read_text()

    for kept in ("edges", "shares"):  # a model.json saved before predictions were watched
        del document["model"]["baseline"][kept]["p_response"]
    (tmp_path / "older").mkdir()
    (tmp_path / "older" / MODEL_FILE).write_text(json.dumps(document))
    older = read_model(tmp_path / "older").model
    assert older is not None and "p_response" not in older.baseline.edges


def test_refit_with_another_seed_is_aligned_to_the_same_personas(project, week_one, week_one_briefed):
    first = _first_week(project, week_one_briefed)
    write_config(project / "config" / "reporter.yaml", source={"path": str(week_one)},
                 **QUICK, segmentation={"seed": 7})
    second = _run(project, "--refit")
    assert second["model"]["action"] == "refitted"
    assert second["model"]["reason"] == "asked for with --refit"
    assert second["model"]["alignment"]["kept"]
    before, after = _personas(first), _personas(second)
    assert float((before == after[before.index]).mean()) >= 0.95
    segments_before = pd.read_csv(first["folder"] / "segments.csv", index_col="ID")["cluster"]
    segments_after = pd.read_csv(second["folder"] / "segments.csv", index_col="ID")["cluster"]
    assert float((segments_before == segments_after[segments_before.index]).mean()) >= 0.95


def test_a_refit_below_the_quality_bar_keeps_the_previous_model(project, week_one, week_one_briefed):
    first = _first_week(project, week_one_briefed)
    write_config(project / "config" / "reporter.yaml", source={"path": str(week_one)},
                 **QUICK, model={"min_silhouette": 0.95})
    second = _run(project, "--refit")
    assert second["model"]["action"] == "held"
    assert "silhouette" in second["model"]["reason"]
    assert second["model"]["fitted_in_run"] == first["run_id"]
    html = (second["folder"] / "brief.html").read_text()
    assert re.search(r'class="banner" role="alert"><strong>Model held: the new model', html)
    assert (_personas(first) == _personas(second)).all()


def test_an_old_model_is_refitted(project, week_one, week_one_briefed):
    first = _first_week(project, week_one_briefed)
    later = pd.Timestamp(first["as_of"]) + pd.Timedelta(days=29)
    second = _run(project, "--data", str(week_one), "--as-of", f"{later:%Y-%m-%d}")
    assert second["model"]["action"] == "refitted"
    assert second["model"]["reason"] == "the model is 29 days old (refit every 4 weeks)"


def test_a_pickled_model_of_the_first_format_is_refitted_never_opened(project, week_one, week_one_briefed):
    first = _first_week(project, week_one_briefed)
    (first["folder"] / MODEL_FILE).write_text(json.dumps({"format_version": 1, "k": 5}))
    (first["folder"] / "model.joblib").write_bytes(b"not a pickle: it must never be opened")
    second = _run(project, "--data", str(week_one))
    assert second["model"]["action"] == "fitted"
    assert "old pickled format, which this version never loads" in second["model"]["reason"]


def test_a_model_written_with_another_scikit_learn_still_scores(project, week_one, week_one_briefed):
    """The artefact is numbers: the library versions it names are a record, not a lock."""
    first = _first_week(project, week_one_briefed)
    path = first["folder"] / MODEL_FILE
    document = json.loads(path.read_text())
    document["model"]["versions"]["scikit-learn"] = "0.24.2"
    path.write_text(json.dumps(document))
    second = _run(project, "--data", str(week_one))
    assert second["model"]["action"] == "scored"
    assert (_personas(first) == _personas(second)).all()


def test_no_file_of_a_run_is_a_pickle(project, week_one, week_one_briefed):
    folder = _first_week(project, week_one_briefed)["folder"]
    pickle_opcodes = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
    for path in folder.rglob("*"):
        if path.is_file():
            assert path.read_bytes()[:2] not in pickle_opcodes, f"{path.name} is a pickle"
            assert path.suffix not in {".joblib", ".pkl", ".pickle"}


def test_model_file_is_documented_and_read_back(project, week_one, week_one_briefed):
    record = _first_week(project, week_one_briefed)
    folder = record["folder"]
    document = json.loads((folder / MODEL_FILE).read_text())
    spec = (REPO_ROOT / "docs" / "reference" / "model-format.md").read_text()
    keys = {*document, *document["about"], *document["model"], *document["model"]["scorer"]}
    for key in keys:
        assert f"`{key}`" in spec, f"model.json key {key} is not documented in docs/reference/model-format.md"
    loaded = read_model(folder)
    assert loaded.model is not None and loaded.model.fitted_in_run == record["run_id"]
    assert document["about"]["k"] == record["k"] == loaded.model.k
    assert document["about"]["segment_personas"] == {
        str(c): p for c, p in loaded.model.cluster_persona.items()}
    assert MODEL_FILE in set(record["exports"])
    segments = pd.read_csv(folder / "segments.csv", index_col="ID")["cluster"]
    assert record["k"] == segments.nunique()


def test_assign_scores_a_held_out_tenth_of_the_real_table_like_the_full_run(project, real_table, tmp_path):
    write_config(project / "config" / "reporter.yaml", source={"path": str(real_table)},
                 **QUICK)
    record = _run(project)
    text = pd.read_csv(real_table, dtype=str, keep_default_na=False)  # every value as written
    held_out = text.sample(frac=0.1, random_state=4)
    batch = tmp_path / "batch.csv"
    held_out.to_csv(batch, index=False)
    out = tmp_path / "assigned.csv"
    code = main(["assign", "--config", str(project / "config" / "reporter.yaml"), "--data", str(batch),
                 "--out", str(out)])
    assert code == 0
    assigned = pd.read_csv(out, index_col="ID")
    full = pd.read_csv(record["folder"] / "customers.csv", dtype={"other_ids": str},
                       keep_default_na=False)
    # the full run counts a person exported twice once, under the first ID; assign answers every ID
    alias = {int(other): kept for kept, others in zip(full["ID"], full["other_ids"], strict=True)
             for other in others.split()}
    full = full.set_index("ID").loc[[alias.get(i, i) for i in assigned.index]]
    assert len(assigned) == len(held_out) == 224
    columns = ["persona", "cluster", *[c for c in full.columns if c.startswith("flag_")]]
    assert (assigned[columns].to_numpy() == full[columns].to_numpy()).all()
    lines = out.read_text().splitlines()
    assert lines[0].endswith(',"run_id","as_of"') and lines[1].endswith(f',"{record["run_id"]}","2014-06-29"')
    assert not any(".0," in line for line in lines[1:]), "integers stay integers"


def test_assign_without_a_model_is_a_clear_error(project, week_one, capsys):
    code = main(["assign", "--config", str(project / "config" / "reporter.yaml"),
                 "--data", str(week_one)])
    assert code == 2
    message = capsys.readouterr().err.strip()
    assert "no brief of this customer source with a model has been delivered yet" in message
    assert "reporter run" in message


def test_alignment_recovers_renumbered_clusters_and_reports_new_and_dissolved():
    rng = np.random.default_rng(0)
    old = rng.integers(0, 4, 1000)
    permutation = np.array([2, 0, 3, 1])
    same = align(permutation[old], old, 4, 4, spend=rng.random(1000))
    assert np.array_equal(same.segment_of_cluster[permutation[old]], old)
    assert same.new == () and same.dissolved == ()
    split = np.where((old == 3) & (rng.random(1000) < 0.3), 4, old)  # a third of segment 3 splits off
    grown = align(split, old, 5, 4, spend=rng.random(1000))
    assert np.array_equal(grown.segment_of_cluster[:4], [0, 1, 2, 3]) and grown.new == (4,)
    merged = np.where(old == 2, 1, old)  # segments 1 and 2 merge
    shrunk = align(np.where(merged == 3, 2, merged), old, 3, 4, spend=rng.random(1000))
    assert shrunk.dissolved in ((1,), (2,))


def test_psi_is_zero_for_the_same_data_and_large_for_a_shift():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({name: rng.gamma(2, 100, 5000) for name in
                          ("income", "total_spending", "recency", "total_purchases", "web_visits")})
    personas = rng.choice(["A", "B"], 5000)
    baseline = Baseline.of(frame, personas)
    same = measure(baseline, frame, personas, ModelParams())
    assert same.worst.psi == pytest.approx(0, abs=1e-9) and not same.trips
    shifted = measure(baseline, frame.assign(income=frame["income"] * 2), personas, ModelParams())
    assert shifted.trips and shifted.worst.name == "income"
    p = rng.beta(2, 8, 5000)  # a prediction is kept and watched as the features are
    watched = Baseline.of(frame, personas, predictions={"p_response": p})
    assert measure(watched, frame, personas, ModelParams(), predictions={"p_response": p}).worst.psi \
        == pytest.approx(0, abs=1e-9)
    moved = measure(watched, frame, personas, ModelParams(), predictions={"p_response": p ** 0.5})
    assert moved.trips and moved.worst.name == "p_response"
    older = measure(baseline, frame, personas, ModelParams(), predictions={"p_response": p ** 0.5})
    assert "p_response" not in {row.name for row in older.rows}  # a baseline without it
    assert psi(np.array([0.5, 0.5]), np.array([0.6, 0.4])) == pytest.approx(
        0.1 * np.log(1.2) - 0.1 * np.log(0.8))


POLICY = ModelParams(refit_every_days=28, refit_every="4 weeks", psi_refit=0.25)
SAVED = Evidence(has_model=True, can_hold=True, age_days=7)


def _drift(value: float, verdict: str) -> Drift:
    row = DriftRow("income", value, verdict)
    return Drift((row,), row)


@pytest.mark.parametrize(("evidence", "action", "reason"), [
    (Evidence(), "fit", "no saved model in the archive yet"),
    (Evidence(problem="unreadable"), "fit", "unreadable"),
    (SAVED, "score", ""),
    (Evidence(has_model=True, forced=True), "refit", "asked for with --refit"),
    (Evidence(has_model=True, problem="format 9"), "refit", "format 9"),
    (Evidence(has_model=True, settings_changed=True), "refit",
     "the segmentation settings changed since the model was fitted"),
    (Evidence(has_model=True, age_days=28), "refit", "the model is 28 days old (refit every 4 weeks)"),
    (Evidence(has_model=True, age_days=27, drift=_drift(0.2, "watch")), "score", ""),
    (Evidence(has_model=True, drift=_drift(0.31, "refit")), "refit",
     "drift in income (PSI 0.31) is above 0.25"),
])
def test_decide_before_a_refit(evidence, action, reason):
    assert decide(evidence, POLICY) == Verdict(action, reason)


@pytest.mark.parametrize(("can_hold", "problems", "action", "reason"), [
    (True, (), "refit", ""),
    (True, ("silhouette 0.05 is below 0.10",), "hold", "silhouette 0.05 is below 0.10"),
    (False, ("a", "b"), "refit", "below the quality bar (a; b), but no earlier model to keep"),
])
def test_decide_after_a_refit(can_hold, problems, action, reason):
    evidence = Evidence(has_model=can_hold, can_hold=can_hold, forced=True, refit_problems=problems)
    assert decide(evidence, POLICY) == Verdict(action, reason)


def test_a_scored_week_never_imports_scikit_learn(project, week_one, week_one_briefed):
    """Most weeks score with the saved model: NumPy alone, so scikit-learn's second of imports
    is paid only by the weeks that fit. The fit week is the module's (copied in), pointed at by
    the config as a scheduled run reads it; the scored week in a fresh interpreter, where
    nothing has imported scikit-learn before it."""
    assert _first_week(project, week_one_briefed)["model"]["action"] == "fitted"
    config = write_config(project / "config" / "reporter.yaml", source={"path": str(week_one)},
                          **QUICK)
    probe = ("import sys; from reporter.app.pipeline import run; from reporter.app.settings import "
             f"load_config; r = run(load_config({str(config)!r})); "
             "print(r.brief.model.decision.split(':')[0].split(' ')[0], 'sklearn' in sys.modules)")
    scored = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=600)
    assert scored.stdout.split() == ["Scored", "False"], scored.stderr


def test_a_data_folder_reached_through_a_link_finds_its_model(project, week_one, tmp_path):
    """A shared folder mounted through a symbolic link: the run records the resolved folder,
    and `reporter assign` (which knows only the config) must find that run's model."""
    linked = tmp_path / "linked"
    linked.symlink_to(week_one.parent, target_is_directory=True)
    write_config(project / "config" / "reporter.yaml", source={"path": str(linked / week_one.name)},
                 **QUICK)
    record = _run(project)
    assert record["data"]["source_key"] == str(week_one.parent.resolve())
    out = tmp_path / "assigned.csv"
    assert main(["assign", "--config", str(project / "config" / "reporter.yaml"), "--data",
                 str(week_one), "--out", str(out)]) == 0
    assert f'"{record["run_id"]}"' in out.read_text().splitlines()[1]
