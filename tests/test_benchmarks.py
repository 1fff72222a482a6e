"""The benchmark harness on a tiny table, so `make bench` cannot rot. Times are not asserted:
they are measured in benchmarks/ and published in BENCHMARKS.md."""

from __future__ import annotations

import json

import pytest

from benchmarks.suite import STAGE_GROUPS, main


@pytest.mark.e2e  # whole runs, each in a child process (benchmarks.child)
def test_the_harness_runs_end_to_end_on_a_tiny_table(tmp_path):
    report = main(["--sizes", "400", "--repeats", "1", "--naive-max", "400", "--quality-rows", "400",
                   "--no-real", "--quick", "--work", str(tmp_path / "work"),
                   "--results", str(tmp_path / "results"), "--markdown", str(tmp_path / "BENCHMARKS.md")])
    saved = json.loads((tmp_path / "results" / "suite.json").read_text())
    assert saved == json.loads(json.dumps(report))
    (entry,) = saved["runs"]
    assert entry["rows"] == 400
    assert entry["fit"]["model_action"] == "fitted" and entry["scored"]["model_action"] == "scored"
    assert entry["rules"]["model_action"] == "scored", "a rules change renames, it does not refit"
    assert entry["refit"]["model_action"] == "refitted", "the drifted week refits"
    assert "assess" in entry["refit"]["stages"] and "assess" not in entry["rules"]["stages"]
    for run in (entry["fit"], entry["scored"], entry["rules"], entry["refit"]):
        assert run["customers"] == 400 and run["peak_rss_mib"] > 50 and run["pdf_bytes"] > 10_000
        assert run["wall_seconds"] > sum(run["stages"].values()) - run["stages"]["startup"]
    assert {"segment", "pdf", "archive", "startup"} <= set(entry["fit"]["stages"])
    assert "assess" not in entry["scored"]["stages"]  # scoring skips the k search and refits
    (naive,) = saved["naive"]
    assert naive["rows"] == 400 and naive["naive_seconds"] > 0  # ratios of times, not asserted
    assert naive["ratio"] == round(naive["naive_seconds"] / entry["fit"]["stages"]["segment"], 1)
    assert naive["whole_ratio"] == round(naive["naive_seconds"] / entry["fit"]["wall_seconds"], 1)
    (quality,) = saved["quality"]
    assert quality["fast_k"] == quality["exact_k"] and quality["difference"] == 0  # exact below 5,000
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "| 400 |" in text and "Against the naive reference" in text
    assert all(group in text for group in STAGE_GROUPS)
    assert "## Targets" in text and "400 generated: fast k = exact k" in text
    assert "| 400 | rules |" in text and "| 400 | refit |" in text
    warm = entry["scored_warm"]
    assert len(warm["wall_runs"]) == 1 and warm["wall_seconds"] > 0
    assert "Under `reporter schedule` a run is forked from a warm process" in text
    assert "1,000,000: drift refit under 25 s | not in this report | **no** |" in text
    rewritten = main(["--rewrite", "--results", str(tmp_path / "results"),
                      "--markdown", str(tmp_path / "again.md")])
    assert rewritten == saved and (tmp_path / "again.md").read_text() == text


def test_the_stage_profile_names_functions_per_stage_and_survives_a_rewrite(tmp_path):
    from benchmarks import profile

    results, page = tmp_path / "results", tmp_path / "BENCHMARKS.md"
    report = profile.main(["--rows", "300", "--top", "3", "--quick", "--work", str(tmp_path / "work"),
                           "--results", str(results), "--markdown", str(page)])
    assert set(report["weeks"]) == {"fit", "scored"}
    fit = report["weeks"]["fit"]
    assert {"load", "segment", "assess", "pdf"} <= set(fit) and "assess" not in report["weeks"]["scored"]
    assert all(len(entry["functions"]) == 3 for entry in fit.values() if entry["seconds"] > 0.05)
    # The own-time leaders of the PDF stage vary run to run among the renderer's libraries.
    renderer = ("weasyprint", "fontTools", "tinycss2", "pydyf", "cssselect2", "html5lib", "pyphen")
    assert any(part in f["function"] for f in fit["pdf"]["functions"] for part in renderer), fit["pdf"]
    text = page.read_text()
    assert "## Profile" in text and "| segment |" in text and "**scored week**" in text
    empty = {"machine": {"cores": 2, "memory_gib": 1, "python": "3", "date": "today"}, "repeats": 3,
             "runs": [], "naive": [], "quality": []}
    (results / "suite.json").write_text(json.dumps(empty))
    main(["--rewrite", "--results", str(results), "--markdown", str(page)])
    assert "## Whole runs" in page.read_text() and "**fit week**" in page.read_text()


def test_the_database_reads_are_measured_against_the_csv_file(tmp_path, postgres):
    """A real PostgreSQL cluster and a DuckDB file, each read in a fresh process. The cluster
    is the session's (`postgres`), not a second one started by the benchmark: the reads, the
    table and the report are the same; only initdb and start-up are not paid twice."""
    from benchmarks import sources

    results = tmp_path / "results"
    report = sources.main(["--rows", "300", "--repeats", "1", "--work", str(tmp_path / "work"),
                           "--results", str(results)], cluster=postgres)
    assert set(report["sources"]) == {"CSV file", "DuckDB file", "PostgreSQL (127.0.0.1)"}
    assert all(figures["rows"] == 300 and figures["peak_rss_mib"] > 50
               for figures in report["sources"].values())
    empty = {"machine": {"cores": 2, "memory_gib": 1, "python": "3", "date": "today"}, "repeats": 3,
             "runs": [], "naive": [], "quality": []}
    (results / "suite.json").write_text(json.dumps(empty))
    main(["--rewrite", "--results", str(results), "--markdown", str(tmp_path / "B.md")])
    text = (tmp_path / "B.md").read_text()
    assert "## Reading from a database" in text and "| PostgreSQL (127.0.0.1) |" in text
    assert "| CSV file |" in text and "1.00x" in text


@pytest.mark.server  # a real `reporter serve` (tests/api_server.py)
def test_the_api_load_test_stops_by_itself_and_reports_percentiles(tmp_path, sample_csv):
    """--quick: the served run is made with the suite's settings (3 stability refits, no
    method comparison); the server, the requests and the percentiles are what is checked."""
    from benchmarks import api

    report = api.main(["--singles", "12", "--batches", "2", "--batch-size", "50", "--concurrency", "3",
                       "--quick", "--data", str(sample_csv), "--work", str(tmp_path / "work"),
                       "--results", str(tmp_path / "results")])
    assert report["single"]["requests"] == 12 and report["batch"]["requests"] == 2
    assert report["single"]["failures"] == 0 and report["batch"]["failures"] == 0
    assert 0 < report["single"]["p50_ms"] <= report["single"]["p95_ms"] <= report["single"]["p99_ms"]
    assert "## The API under load" in api.markdown(report)


def test_the_app_page_views_are_timed_cold_and_cached(tmp_path):
    """--quick: the run the pages show is made with the suite's settings (3 stability refits,
    no method comparison); every page is still viewed cold and cached twice."""
    from benchmarks import app

    report = app.main(["--rows", "300", "--repeats", "2", "--quick", "--work", str(tmp_path / "work"),
                       "--results", str(tmp_path / "results")])
    assert set(report["pages"]) == set(app.PAGES)
    assert all(len(p["first"]["runs"]) == 2 and len(p["cached"]["runs"]) == 2
               for p in report["pages"].values())
    text = app.markdown(report)
    assert "## The app on a large source" in text and "| Rule workshop |" in text


@pytest.mark.slow
@pytest.mark.spark  # in child processes: its own JVM, not the session's
def test_the_two_engines_are_timed_side_by_side_with_the_jvm_s_memory(tmp_path):
    """A fit week by each engine in a fresh process: stages, the driver's and the JVM's peaks."""
    from benchmarks import spark

    results = tmp_path / "results"
    report = spark.main(["--rows", "500", "--repeats", "1", "--quick", "--work", str(tmp_path / "work"),
                         "--results", str(results)])
    size = report["sizes"]["500"]["engines"]
    assert size["spark"]["jvm_mib"] > 200 > size["spark"]["driver_mib"] / 10
    assert size["spark"]["stages"]["spark"] > 0 and "spark" not in size["local"]["stages"]
    assert {"load", "clean", "score", "exports"} <= set(size["spark"]["stages"])
    empty = {"machine": {"cores": 2, "memory_gib": 1, "python": "3", "date": "today"}, "repeats": 3,
             "runs": [], "naive": [], "quality": []}
    (results / "suite.json").write_text(json.dumps(empty))
    main(["--rewrite", "--results", str(results), "--markdown", str(tmp_path / "B.md")])
    text = (tmp_path / "B.md").read_text()
    assert "## The Spark engine" in text and "### 500 customers" in text and "| score (s) |" in text
