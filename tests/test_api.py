"""`reporter serve` as a client meets it: a real uvicorn process on 127.0.0.1, started as a user
starts it, over an archive made from the real table. Same answers as the brief and as `reporter
assign`, tokens and scopes, a model swapped under load without a failed request, plain errors,
limits, no path traversal, nothing of a customer's in the log, a clean stop on SIGTERM."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter

import pandas as pd
import pytest

from reporter.app.api import swap
from reporter.app.pipeline import run
from reporter.app.settings import load_config
from tests.api_server import ASSIGN, READ, TOKENS, Server, customer_rows
from tests.conftest import QUICK, REPO_ROOT, run_main, write_config


@pytest.fixture(scope="module")
def served(tmp_path_factory, real_table):
    """The real table less 200 held-out customers, run once; the server over its archive."""
    root = tmp_path_factory.mktemp("api")
    text = pd.read_csv(real_table, dtype=str, keep_default_na=False)
    held_out = text.sample(200, random_state=11)
    (root / "data").mkdir()
    text.drop(held_out.index).to_csv(root / "data" / "customers.csv", index=False)
    held_out.to_csv(root / "held_out.csv", index=False)
    (root / "config").mkdir()
    (root / "config" / "personas.yaml").write_text((REPO_ROOT / "config" / "personas.yaml").read_text())
    config = write_config(root / "config" / "reporter.yaml", source={"path": "../data/customers.csv"},
                          **QUICK, teams=[],
                          api={"tokens": TOKENS, "max_batch": 1000, "max_body_kb": 1024})
    first = run(load_config(config))
    server = Server(config)
    yield root, config, first, held_out, server
    if server.process.poll() is None:
        server.stop()


@pytest.mark.server
def test_every_customer_of_the_run_gets_the_brief_s_answer(served):
    root, _, first, _, server = served
    segments = pd.read_csv(first.folder / "segments.csv").set_index("ID")
    control = pd.read_csv(first.folder / "customers.csv").set_index("ID")["control_churn_risk"]
    text = pd.read_csv(root / "data" / "customers.csv", dtype=str, keep_default_na=False)
    customers = customer_rows(text[text["ID"].astype(int).isin(segments.index)])
    with server.client(ASSIGN) as client:
        answers = []
        for start in range(0, len(customers), 1000):
            response = client.post("/v1/assign", json={"customers": customers[start:start + 1000]})
            assert response.status_code == 200, response.text
            assert response.json()["run_id"] == first.run_id
            answers += response.json()["customers"]
        one = client.post("/v1/assign", json=customers[0]).json()
    assert len(answers) == len(segments) > 1800  # 2,240 less 200 held out, duplicates counted once
    for answer in answers:
        row = segments.loc[answer["customer_id"]]
        assert (answer["segment"], answer["persona"]) == (row["cluster"], row["persona"])
        held = bool(control.loc[answer["customer_id"]])  # the run's control group (issue 35)
        assert answer["flags"] == (["churn_risk"] if row["flag_churn_risk"] and not held else [])
        assert answer["control"] == (["churn_risk"] if held else [])
    assert control.sum() > 0
    assert one["customer_id"] == customers[0]["ID"] and one["persona"] == segments.loc[one["customer_id"],
                                                                                        "persona"]


@pytest.mark.server
def test_held_out_customers_get_what_reporter_assign_gives(served, tmp_path):
    """`reporter assign`'s answers are the command's in this process (run_main; its CSV through
    --out, written by the same write_csv as to stdout): the server is the real process here."""
    root, config, _, held_out, server = served
    out = tmp_path / "assigned.csv"
    assigned = run_main("assign", "--config", str(config), "--data", str(root / "held_out.csv"),
                        "--out", str(out))
    assert assigned.returncode == 0, assigned.stderr
    expected = pd.read_csv(out).set_index("ID")
    with server.client(ASSIGN) as client:
        response = client.post("/v1/assign", json={"customers": customer_rows(held_out)})
    assert response.status_code == 200, response.text
    answers = response.json()["customers"]
    assert [a["customer_id"] for a in answers] == held_out["ID"].astype(int).tolist(), "in the order sent"
    for answer in answers:
        row = expected.loc[answer["customer_id"]]
        assert (answer["segment"], answer["persona"]) == (row["cluster"], row["persona"])
        assert answer["rfm"] == {n: int(row[n]) for n in ("r_score", "f_score", "m_score")}


@pytest.mark.server
def test_every_read_endpoint_answers(served):
    _, _, first, _, server = served
    kept = len(pd.read_csv(first.folder / "segments.csv"))
    with server.client(READ) as client:
        assert client.get("/health/live").json() == {"status": "live"}
        assert client.get("/health/ready").json() == {"status": "ready", "run_id": first.run_id}
        meta = client.get("/metadata").json()
        assert meta["run_id"] == first.run_id and meta["model_format"] >= 2 and "income" in meta["features"]
        runs = client.get("/v1/runs").json()["runs"]
        assert [r["run_id"] for r in runs][-1] == first.run_id and runs[-1]["customers"] == kept
        record = client.get(f"/v1/runs/{first.run_id}").json()
        assert record["run_id"] == first.run_id and record["data"]["rows_read"] == 2040
        assert client.get(f"/v1/runs/{first.run_id}/brief.pdf").content.startswith(b"%PDF")
        assert "<html" in client.get(f"/v1/runs/{first.run_id}/brief.html").text.lower()
        csv = client.get(f"/v1/runs/{first.run_id}/customers.csv").text
        assert csv.startswith('"ID",') and len(csv.splitlines()) == kept + 1
        personas = client.get("/v1/personas").json()
        names = [p["name"] for p in personas["personas"]]
        assert "Premium" in names and sum(p["customers"] or 0 for p in personas["personas"]
                                          if p.get("level", "segment") == "segment") == kept
        one = client.get("/v1/customers/5524").json()
        assert one["runs"][0]["run_id"] == first.run_id and one["runs"][0]["persona"]
        assert client.get("/v1/customers/999999999").status_code == 404
        assert client.get("/docs").status_code == 200
        assert "/v1/assign" in client.get("/openapi.json").json()["paths"]


@pytest.mark.server
def test_an_id_merged_into_another_customer_is_found_under_the_id_it_is_counted_as(served):
    """Issue 30: the real table exports 182 people twice under another ID; the clean stage
    counts each under their smallest ID and lists the others in other_ids. GET on such an
    other ID answered 404."""
    first, server = served[2], served[4]
    customers = pd.read_csv(first.folder / "customers.csv", dtype={"other_ids": str},
                            keep_default_na=False).set_index("ID")
    counted = set(pd.read_csv(first.folder / "segments.csv")["ID"])
    kept = customers[customers["other_ids"].ne("")]
    assert len(kept) > 100, "the real table's duplicates are merged"
    kept_id = int(kept.index[0])
    other = int(kept.at[kept_id, "other_ids"].split()[0])
    assert other not in counted and other not in customers.index, "merged away: in no file by itself"
    with server.client(READ) as client:
        merged = client.get(f"/v1/customers/{other}")
        same = client.get(f"/v1/customers/{kept_id}").json()
    assert merged.status_code == 200, merged.text
    answer = merged.json()
    assert answer["customer_id"] == other and answer["merged_into"] == kept_id
    assert answer["runs"][0]["counted_as"] == kept_id and answer["runs"][0]["run_id"] == first.run_id
    assert answer["runs"][0]["persona"] == customers.at[kept_id, "persona"]
    assert answer["runs"][0]["segment"] == customers.at[kept_id, "cluster"]
    assert same["merged_into"] is None and other in same["other_ids"]
    assert [run["persona"] for run in same["runs"]] == [run["persona"] for run in answer["runs"]]


@pytest.mark.server
def test_every_request_names_its_route_in_the_access_log(served):
    """Issue 30: /docs and /openapi.json were logged as route "?"."""
    server = served[4]
    with server.client() as client:
        answers = {path: client.get(path).status_code for path in (
            "/docs", "/openapi.json", "/static/swagger-ui/swagger-ui.css", "/static/nothing-here.js",
            "/no/such/page/5524")}
    assert answers == {"/docs": 200, "/openapi.json": 200, "/static/swagger-ui/swagger-ui.css": 200,
                       "/static/nothing-here.js": 404, "/no/such/page/5524": 404}
    for route, status in (("/docs", 200), ("/openapi.json", 200), ("/static/{path}", 200),
                          ("/static/{path}", 404), ("unknown", 404)):
        server.wait_for_line(lambda line, r=route, s=status: f'"route": "{r}", "status": {s}' in line)
    access = [json.loads(line) for line in server.lines if '"route"' in line]
    assert all(record["route"] != "?" for record in access)
    assert not any("5524" in record["route"] or "nothing-here" in record["route"] for record in access)


@pytest.mark.server
def test_tokens_and_scopes(served):
    server = served[4]
    with server.client() as anonymous:
        refused = anonymous.get("/v1/runs")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert anonymous.get("/health/live").status_code == 200  # a probe needs no token
    with server.client("not-a-token-of-this-server") as stranger:
        assert stranger.get("/v1/runs").status_code == 401
    with server.client(READ) as reader:
        denied = reader.post("/v1/assign", json={"customers": []})
        assert denied.status_code == 403 and "may not assign" in denied.json()["detail"]
    with server.client(ASSIGN) as assigner:
        assert assigner.get("/v1/runs").status_code == 403


@pytest.mark.server
def test_errors_name_the_customer_the_field_and_what_was_expected(served):
    *_, held_out, server = served
    good = customer_rows(held_out.head(3))
    with server.client(ASSIGN) as client:
        broken = client.post("/v1/assign", content=b'{"customers": [', headers={
            "content-type": "application/json"})
        assert broken.status_code == 400 and "not valid JSON (line 1, column 16)" in broken.json()["detail"]
        wrong = [good[0], {**good[1], "Income": "lots", "Recency": -3}, {**good[2], "Colour": "red"}]
        del wrong[0]["Dt_Customer"]
        response = client.post("/v1/assign", json={"customers": wrong})
        assert response.status_code == 422
        problems = response.json()["detail"]
        ids = [customer["ID"] for customer in wrong]
        assert {"customer": 0, "customer_id": ids[0], "field": "Dt_Customer",
                "problem": "missing; expected a date, YYYY-MM-DD"} in problems
        assert {"customer": 1, "customer_id": ids[1], "field": "Income",
                "problem": 'expected a number from 0 to 100,000,000, or null when unknown, got "lots"'} \
            in problems
        assert {"customer": 1, "customer_id": ids[1], "field": "Recency",
                "problem": "expected a whole number from 0 to 100,000,000, got -3"} in problems
        assert any(p["customer"] == 2 and p["field"] == "Colour" for p in problems)
        bad_date = client.post("/v1/assign", json={**good[0], "Dt_Customer": "yesterday"})
        assert bad_date.status_code == 422
        assert "customer 0" in bad_date.text and "Dt_Customer" in bad_date.text
        assert client.post("/v1/assign", json={"customers": []}).status_code == 422
        too_many = client.post("/v1/assign", json={"customers": good * 400})
        assert too_many.status_code == 413 and "the limit is 1,000 (api.max_batch)" in too_many.text
        too_big = client.post("/v1/assign", content=b" " * (1024 * 1024 + 1),
                              headers={"content-type": "application/json"})
        assert too_big.status_code == 413 and "api.max_body_kb" in too_big.text


@pytest.mark.server
@pytest.mark.parametrize("path", [
    "/v1/runs/..%2F..%2Fconfig/brief.html", "/v1/runs/../../etc/passwd", "/v1/runs/%2e%2e/run.json",
    "/v1/runs/{run}/run.json", "/v1/runs/{run}/..%2Frun.json", "/v1/runs/{run}/%2e%2e%2fmodel.json",
    "/v1/runs/{run}%2F..%2F..%2Fconfig/brief.html",
])
def test_no_path_reaches_outside_a_run_s_three_files(served, path):
    first, server = served[2], served[4]
    with server.client(READ) as client:
        response = client.get(path.format(run=first.run_id))
    assert response.status_code in (404, 422), (path, response.status_code)
    assert b"reporter.yaml" not in response.content and b"model_format" not in response.content


@pytest.mark.server
def test_the_log_is_json_and_holds_no_customer_data(served):
    *_, held_out, server = served
    secret = customer_rows(held_out.head(1))[0] | {"ID": 987_654_321, "Income": 123_456.5}
    with server.client(ASSIGN) as client:
        assert client.post("/v1/assign", json=secret).status_code == 200
    with server.client(READ) as client:
        client.get("/v1/customers/987654321")
    server.wait_for_line(lambda line: '"route": "/v1/customers/{customer_id}"' in line)  # the pipe may lag
    lines = list(server.lines)
    records = [json.loads(line) for line in lines]
    assert any(r.get("route") == "/v1/customers/{customer_id}" for r in records)
    assert any(r.get("route") == "/v1/assign" and r["status"] == 200 for r in records)
    assert not any("987654321" in line or "123456" in line for line in lines)


@pytest.mark.server
def test_a_new_run_is_served_under_load_without_a_failed_request(served):
    """Eight clients assign without pause while a refit run is published: every request gets
    an answer, and once the new run is seen the old one never answers again."""
    _, config, first, held_out, server = served
    body = {"customers": customer_rows(held_out.head(5))}
    seen: list[tuple[int, str]] = []
    stop = threading.Event()

    def hammer() -> None:
        with server.client(ASSIGN) as client:
            while not stop.is_set():
                response = client.post("/v1/assign", json=body)
                seen.append((response.status_code, response.json().get("run_id", "")))

    workers = [threading.Thread(target=hammer) for _ in range(8)]
    for worker in workers:
        worker.start()
    try:
        second = run(load_config(config), refit=True)
        with server.client(ASSIGN) as client:
            deadline = time.monotonic() + 120
            while client.post("/v1/assign", json=body).json()["run_id"] != second.run_id:
                assert time.monotonic() < deadline, "the new run was never served"
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    statuses = Counter(status for status, _ in seen)
    assert statuses == Counter({200: len(seen)}), statuses
    order = [run_id for _, run_id in seen]
    assert first.run_id in order and second.run_id in order
    assert first.run_id not in order[order.index(second.run_id) + 8:], "the old model came back"


@pytest.mark.server
def test_without_a_model_it_is_live_not_ready_and_says_why(tmp_path, sample_csv):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "personas.yaml").write_text((REPO_ROOT / "config" / "personas.yaml").read_text())
    config = write_config(tmp_path / "config" / "reporter.yaml", source={"path": str(sample_csv)},
                          api={"tokens": TOKENS})
    server = Server(config)
    try:
        with server.client(ASSIGN) as client:
            assert client.get("/health/live").status_code == 200
            ready = client.get("/health/ready")
            assert ready.status_code == 503 and "no brief of this source" in ready.json()["detail"]
            assert client.post("/v1/assign", json={"customers": [{"ID": 1}]}).status_code in (422, 503)
            assert client.get("/metadata").status_code == 503
    finally:
        assert server.stop() == 0  # SIGTERM: a clean stop
    assert any("Application shutdown complete" in line for line in server.lines)


def test_without_tokens_it_binds_loopback_only(tmp_path, sample_csv):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "personas.yaml").write_text((REPO_ROOT / "config" / "personas.yaml").read_text())
    config = write_config(tmp_path / "config" / "reporter.yaml", source={"path": str(sample_csv)})
    result = run_main("serve", "--config", str(config), "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "binds 0.0.0.0 only with api.tokens set" in result.stderr


def _all_json(lines: list[str]) -> list[dict]:
    """Every line the server wrote to stderr, each parsed as one JSON object."""
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    return records


@pytest.mark.server
def test_numbers_out_of_range_are_refused_per_customer_and_field(served):
    """Counts of 2**63 once wrapped to negative int64s and answered 200; IDs past 2**53 - 1
    (float64's whole numbers) or 2**63 were a 500. Each is a 422 naming the customer (position
    and, when it is valid, ID), the field and the allowed range, as the file checks have it."""
    *_, held_out, server = served
    good = customer_rows(held_out.head(4))
    sent = [{**good[0], "MntWines": 2**63}, {**good[1], "ID": 2**63}, {**good[2], "ID": 2**53 + 1},
            {**good[3], "NumWebVisitsMonth": 2**64, "Year_Birth": 2**63}]
    with server.client(ASSIGN) as client:
        response = client.post("/v1/assign", json={"customers": sent})
        one = client.post("/v1/assign", json={**good[0], "Recency": 10_000_000_000_000_000_000})
    with server.client(READ) as client:
        path_id = client.get(f"/v1/customers/{2**63}")
    assert one.status_code == 422 and one.json()["detail"][0]["field"] == "Recency", one.text
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    counts = "expected a whole number from 0 to 100,000,000"
    ids = "expected a whole number from 0 to 9,007,199,254,740,991"
    assert {"customer": 0, "customer_id": good[0]["ID"], "field": "MntWines",
            "problem": f"{counts}, got {2**63}"} in problems
    assert {"customer": 1, "field": "ID", "problem": f"{ids}, got {2**63}"} in problems
    assert {"customer": 2, "field": "ID", "problem": f"{ids}, got {2**53 + 1}"} in problems
    assert {(p["customer"], p["field"]) for p in problems if p["customer"] == 3} == {
        (3, "NumWebVisitsMonth"), (3, "Year_Birth")}
    assert len(problems) == 5
    assert path_id.status_code == 422 and "from 0 to 9,007,199,254,740,991" in path_id.json()["detail"]
    server.wait_for_line(lambda line: '"route": "/v1/customers/{customer_id}", "status": 422' in line)
    records = _all_json(server.lines)  # no RuntimeWarning from a cast in between
    assert [r["status"] for r in records if r.get("route") == "/v1/assign"][-2:] == [422, 422]


@pytest.mark.server
def test_deep_nesting_is_a_400_that_says_what_is_read(served):
    """990 nested arrays made Python's parser raise RecursionError: a 500. Nesting is counted
    before parsing (strings skipped) and anything past MAX_DEPTH is refused."""
    *_, held_out, server = served
    good = customer_rows(held_out.head(1))[0]
    headers = {"content-type": "application/json"}
    with server.client(ASSIGN) as client:
        answers = [client.post("/v1/assign", content=b'{"customers": ' + b"[" * depth + b"]" * depth + b"}",
                               headers=headers) for depth in (1_000, 100_000)]
        in_a_string = client.post("/v1/assign", json={**good, "Education": "[" * 150})  # text, within the cap
        shallow = client.post("/v1/assign", json={**good, "Education": [[["Graduation"]]]})
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert "levels deep; at most 32 are read" in answer.json()["detail"]
    assert in_a_string.status_code == 200, in_a_string.text  # brackets in text are text
    assert shallow.status_code == 422 and shallow.json()["detail"][0]["field"] == "Education"


@pytest.fixture
def spare(served, tmp_path):
    """A copy of the served archive under another config (same source), to damage freely."""
    root, _, first, _, _ = served
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "personas.yaml").write_text((root / "config" / "personas.yaml").read_text())
    config = write_config(tmp_path / "config" / "reporter.yaml",
                          source={"path": str(root / "data" / "customers.csv")},
                          output={"dir": str(tmp_path / "output")}, teams=[], api={"tokens": TOKENS})
    (tmp_path / "output").mkdir()
    shutil.copytree(first.folder, tmp_path / "output" / first.folder.name)
    return config, tmp_path / "output" / first.folder.name


@pytest.mark.server
def test_a_500_is_one_json_line_with_its_traceback_and_an_access_line(spare):
    """A run's segments.csv damaged on disk makes the customer route fail. The log said
    "Exception in ASGI application" with neither the exception nor an access line."""
    config, folder = spare
    (folder / "segments.csv").write_text("nothing,useful\n1,2\n")
    server = Server(config)
    try:
        with server.client(READ) as client:
            failed = client.get("/v1/customers/5524")
        assert failed.status_code == 500
        assert failed.json() == {"detail": "internal error (KeyError); the server's log has the details"}
        access = server.wait_for_line(lambda line: '"status": 500' in line)
    finally:
        assert server.stop() == 0
    records = _all_json(server.lines)
    (error,) = [r for r in records if r.get("level") == "error"]
    assert error["exception"] == "KeyError" and error["route"] == "/v1/customers/{customer_id}"
    assert error["traceback"].startswith("Traceback (most recent call last):\n")
    assert "explore.py" in error["traceback"] and error["traceback"].endswith("KeyError")
    assert json.loads(access)["route"] == "/v1/customers/{customer_id}"
    assert records.index(error) < records.index(json.loads(access))
    assert not any("5524" in line for line in server.lines)  # the path is not logged


WARN_AND_FAIL = """
import logging, warnings
from reporter.app.logs import LogSettings, setup
setup(LogSettings(format="json"))
with warnings.catch_warnings():
    warnings.simplefilter("always")
    warnings.warn("invalid value encountered in cast", RuntimeWarning, stacklevel=1)
missing = f"customer {5500 + 24}"  # a value the message would quote
try:
    {}[missing]
except KeyError:
    logging.getLogger("uvicorn.error").exception("Exception in ASGI application\\n")
"""


def test_python_warnings_and_uvicorn_s_own_failures_are_json_log_lines():
    """A RuntimeWarning printed two bare lines into the JSON log, and uvicorn's "Exception in
    ASGI application" lost its exception. In a process of its own: the logging and warnings
    set-up is process-wide, and other tests of this worker leave theirs behind."""
    done = subprocess.run([sys.executable, "-c", WARN_AND_FAIL], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    warned, failed = _all_json(lines)
    assert warned["logger"] == "py.warnings" and warned["level"] == "warning"
    assert "RuntimeWarning: invalid value encountered in cast" in warned["message"]
    assert failed["message"] == "Exception in ASGI application" and failed["exception"] == "KeyError"
    assert "<string>" in failed["traceback"] and "5524" not in lines[1]


def _damaged(folder, run_id: str, model: dict, output) -> None:
    """A copy of the run published under a later run ID with another model.json, renamed into
    the archive in one step as the archive publishes (a server never sees it half-written)."""
    staging = output / f".{run_id}"
    shutil.copytree(folder, staging)
    record = json.loads((staging / "run.json").read_text())
    record["run_id"], record["started_at"] = run_id, f"2099-01-01T{run_id[:2]}:{run_id[2:4]}:00+00:00"
    (staging / "run.json").write_text(json.dumps(record))
    (staging / "model.json").write_text(json.dumps(model))
    staging.rename(output / f"2099-01-01-{run_id}")


def _broken(document: dict, damage: str) -> dict:
    broken = copy.deepcopy(document)
    scorer = broken["model"]["scorer"]
    if damage == "short centres":
        scorer["centres"] = [centre[:-1] for centre in scorer["centres"]]
    elif damage == "cluster 9":
        scorer["segment_of_cluster"][0] = 9
    else:
        scorer["scale_std"] = [0.0] * len(scorer["scale_std"])
    return broken


@pytest.mark.server
def test_a_broken_model_is_never_served_and_ready_says_why(spare, served):
    """A parseable model.json with a centre a dimension short, a cluster numbered 9 or every
    scale 0 was swapped in: ready said ready, then every assign was a 500 or NaN-based. Now
    each is refused (the model in use is kept, /health/ready names the refused run and why);
    with no valid model at all the server is not ready and says why."""
    config, folder = spare
    output, held_out = folder.parent, served[3]
    document = json.loads((folder / "model.json").read_text())
    body = {"customers": customer_rows(held_out.head(3))}
    folder.rename(output / ".original")  # first: an archive whose only run has a broken model
    _damaged(output / ".original", "010000-0001", _broken(document, "scale 0"), output)
    server = Server(config)
    try:
        with server.client(ASSIGN) as client:
            ready = client.get("/health/ready")
            assert ready.status_code == 503, ready.text
            assert ready.json()["rejected"]["run_id"] == "010000-0001"
            assert "scale_std: every scale must be above 0" in ready.json()["detail"]
            assert client.post("/v1/assign", json=body).status_code == 503
            _damaged(output / ".original", "020000-0002", document, output)  # a valid one
            wait_until(lambda: client.get("/health/ready").json().get("run_id") == "020000-0002")
            for number, (damage, reason) in enumerate([
                    ("short centres", "scorer.centres: shape"),
                    ("cluster 9", "scorer.segment_of_cluster: [9,"),
                    ("scale 0", "scale_std: every scale must be above 0")], start=3):
                run_id = f"0{number}0000-000{number}"
                _damaged(output / ".original", run_id, _broken(document, damage), output)
                wait_until(lambda run_id=run_id: client.get("/health/ready").json()
                           .get("rejected", {}).get("run_id") == run_id)
                ready = client.get("/health/ready")
                assert ready.status_code == 200 and ready.json()["status"] == "ready"
                assert ready.json()["run_id"] == "020000-0002"
                assert reason in ready.json()["rejected"]["reason"]
                answer = client.post("/v1/assign", json=body)
                assert answer.status_code == 200 and answer.json()["run_id"] == "020000-0002", answer.text
            _damaged(output / ".original", "090000-0009", document, output)
            wait_until(lambda: client.get("/health/ready").json().get("run_id") == "090000-0009")
            assert "rejected" not in client.get("/health/ready").json()
    finally:
        assert server.stop() == 0
    assert any('"event": "model refused"' in line and "020000-0002" in line for line in server.lines)


def test_the_periodic_look_at_the_archive_is_not_taken_on_a_request(served, monkeypatch):
    """Every few seconds the archive is looked at again (a delivery is recorded inside a run
    folder); a request that finds the look due answers at once with the model in use, and the
    look runs beside it (it held every request up while it read the archive)."""
    archive = swap.Archive(load_config(served[1]))
    first = archive.current()  # the first model is loaded before anything is answered
    assert first is not None
    looked, done, real = [], threading.Event(), swap.find_baseline

    def slow_look(*args, **kwargs):
        looked.append(threading.current_thread().name)
        assert done.wait(60), "the request waited for the look"
        return real(*args, **kwargs)

    monkeypatch.setattr(swap, "find_baseline", slow_look)
    archive._seen = (archive._seen[0], archive._seen[1] - swap.RECHECK_SECONDS - 1)  # due now
    assert archive.current() is first  # answered while the look is still reading
    done.set()
    for thread in [t for t in threading.enumerate() if t.name == "archive-recheck"]:
        thread.join(60)
    assert looked == ["archive-recheck"] and archive.current() is first


def wait_until(condition, timeout: float = 60) -> None:
    """Polls a condition the server will reach (it looks at the archive again at least every
    few seconds): the signal waited for, with a deadline, not a head start."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the server never got there"
        time.sleep(0.2)


def test_the_request_model_is_the_file_schema():
    """Issue 32: POST /v1/assign validates with a pydantic model generated from
    reporter/data/schema.py, so a range changed there changes the API with it: every whole
    column takes its bounds and refuses one past them, Income may be missing or null."""
    from reporter.app.api.requests import Customer, _field_problems
    from reporter.data.schema import COLUMNS, TEXT_COLUMNS, WHOLE_RANGES

    assert set(Customer.model_fields) == set(COLUMNS) | set(WHOLE_RANGES)
    base = {column: "x" if column in TEXT_COLUMNS else 1 for column in COLUMNS}
    base["Dt_Customer"] = "2014-06-29"
    assert _field_problems(base, 0) == []
    for column, (low, high) in WHOLE_RANGES.items():
        assert _field_problems({**base, column: high}, 0) == [], column
        refused = _field_problems({**base, column: high + 1}, 0)
        assert [p["field"] for p in refused] == [column], column
        assert _field_problems({**base, column: low - 1}, 0)[0]["field"] == column
    assert _field_problems({**base, "Income": None}, 0) == []
    assert _field_problems({k: v for k, v in base.items() if k != "Income"}, 0) == []
