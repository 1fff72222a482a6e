"""Reading the customers where they live: 1,000,000 generated customers from the CSV file, a
DuckDB file and a real PostgreSQL server (a throwaway cluster on 127.0.0.1), each read `repeats`
times by `read_customers` in a fresh process (its time and peak memory are its own), all in
one run so the figures compare as ratios.

    python -m benchmarks.sources [--rows 1000000] [--repeats 3]

Writes benchmarks/results/sources.json; `python -m benchmarks --rewrite` puts it in
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, table

CRM_NAMES = {"ID": "customer_id", "Dt_Customer": "joined_on"}


def main(argv: list[str] | None = None, cluster=None) -> dict:
    """`cluster`: a running tests.postgres_server.Cluster to read from (the test suite's own,
    so a test does not start a second one); without it a throwaway cluster is started and
    removed, as `python -m benchmarks.sources` does. The reads are the same either way."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sources", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reporter-bench")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # a JSON SourceParams: read it, report
    args = parser.parse_args(argv)
    if args.child:
        return _child(json.loads(args.child))
    from tests import postgres_server

    args.work.mkdir(parents=True, exist_ok=True)
    csv = table(args.rows, args.work)
    load_before = [round(v, 2) for v in os.getloadavg()]
    duck = _duckdb(csv, args.work / f"customers-{args.rows}.duckdb")
    own = cluster is None
    cluster = postgres_server.start() if own else cluster
    try:
        url = _postgres(cluster, csv, database="crm" if own else f"crm_bench_{os.getpid()}_{args.rows}")
        sources = {
            "CSV file": {"path": str(csv)},
            "DuckDB file": {"url": f"duckdb:///{duck}", "table": "customers"},
            "PostgreSQL (127.0.0.1)": {"url": url, "table": "crm_customers",
                                       "password": postgres_server.PASSWORD,
                                       "columns": list(CRM_NAMES.items())},
        }
        reads = {name: [] for name in sources}
        for _ in range(args.repeats):  # interleaved, so a busy minute hits every source alike
            for name, source in sources.items():
                reads[name].append(_read_in_child(source))
                print(f"{name}: {reads[name][-1]['seconds']:.2f} s, "
                      f"{reads[name][-1]['peak_rss_mib']:.0f} MiB", flush=True)
    finally:
        if own:
            cluster.stop()
    report = {"rows": args.rows, "repeats": args.repeats, "date": time.strftime("%Y-%m-%d"),
              "load_before": load_before, "load_after": [round(v, 2) for v in os.getloadavg()],
              "sources": {name: _summary(runs) for name, runs in reads.items()}}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "sources.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _duckdb(csv: Path, path: Path) -> Path:
    import duckdb

    if not path.is_file():
        with duckdb.connect(str(path)) as connection:  # typed by DuckDB's own CSV sniffing
            connection.execute(f"CREATE TABLE customers AS SELECT * FROM read_csv('{csv}', "
                               "dateformat = '%d-%m-%Y')")
    return path


def _postgres(cluster, csv: Path, database: str = "crm") -> str:
    """The table under a CRM's column names, typed: integers, numeric income, a date."""
    url = cluster.create_database(database)
    header = csv.open(encoding="utf-8").readline().strip().split(",")  # the 22 columns and AcceptedCmp*
    names = [CRM_NAMES.get(c, c.lower()) for c in header]
    kinds = ["date" if c == "Dt_Customer" else "text" if c in ("Education", "Marital_Status")
             else "numeric(12,2)" if c == "Income" else "integer" for c in header]
    with cluster.connect(database) as connection:
        connection.execute("SET DateStyle = 'ISO, DMY'")
        connection.execute("CREATE TABLE crm_customers (" + ", ".join(
            f"{n} {k}" for n, k in zip(names, kinds, strict=True)) + ")")
        with open(csv, "rb") as handle, connection.cursor().copy(
                f"COPY crm_customers ({', '.join(names)}) FROM STDIN (FORMAT csv, HEADER true)") as copy:
            while block := handle.read(1 << 20):
                copy.write(block)
        connection.execute("ANALYZE crm_customers")
    return url


def _read_in_child(source: dict) -> dict:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "benchmarks.sources", "--child", json.dumps(source)],
                          check=True, cwd=ROOT, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "wall_seconds": round(time.perf_counter() - start, 3)}


def _child(source: dict) -> dict:
    from reporter.data.params import SourceParams
    from reporter.data.sources import read_customers

    params = SourceParams(**{**source, "path": Path(source["path"]) if "path" in source else None,
                             "columns": tuple(map(tuple, source.get("columns", ())))})
    start = time.perf_counter()
    raw = read_customers(params)
    result = {"seconds": round(time.perf_counter() - start, 3), "rows": raw.rows_read,
              "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    print(json.dumps(result))
    return result


def _summary(runs: list[dict]) -> dict:
    seconds = sorted(r["seconds"] for r in runs)
    return {"seconds": statistics.median(seconds), "seconds_runs": seconds,
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs), "rows": runs[0]["rows"]}


def markdown(report: dict) -> str:
    """The BENCHMARKS.md section, with each source's time as a ratio to the CSV file's."""
    csv = report["sources"]["CSV file"]["seconds"]
    lines = ["## Reading from a database", "",
             f"`python -m benchmarks.sources` on {report['date']}: {report['rows']:,} generated customers "
             f"read by `read_customers` (the load stage: read, type, check) in a fresh process, "
             f"{report['repeats']} times each, interleaved; medians with fastest–slowest; load average "
             f"{' / '.join(map(str, report['load_before']))} before, "
             f"{' / '.join(map(str, report['load_after']))} after. PostgreSQL is a local server on "
             "127.0.0.1 (a throwaway cluster), read through COPY streamed into Arrow; the peak is "
             "the reading process's whole resident memory (Python, pandas and pyarrow included).", "",
             "| source | seconds | against the CSV file | peak RSS (MiB) |", "|---|---|---|---|"]
    for name, figures in report["sources"].items():
        runs = figures["seconds_runs"]
        lines.append(f"| {name} | {figures['seconds']:.2f} ({runs[0]:.2f}–{runs[-1]:.2f}) | "
                     f"{figures['seconds'] / csv:.2f}x | {figures['peak_rss_mib']:,.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
