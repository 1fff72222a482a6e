"""A bounded load test of `reporter serve` on 127.0.0.1: single-customer and 1,000-customer
assign requests from `concurrency` client threads, latency percentiles and requests per second.
It stops by itself after the requests are done. The server is a real `reporter serve` process
over an archive of one run on the real table; the clients run on the same machine (2 cores
here), so the figures include their share of the CPU.

    python -m benchmarks.api [--singles 2000] [--batches 60] [--concurrency 8]

Writes benchmarks/results/api.json; `python -m benchmarks --rewrite` puts it in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import yaml

from benchmarks.common import REAL_TABLE, RESULTS, ROOT, quickened


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api", description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=2000, help="single-customer requests")
    parser.add_argument("--batches", type=int, default=60, help="1,000-customer requests")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--data", type=Path, default=REAL_TABLE)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reporter-bench-api")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true",
                        help="the test suite's analysis settings for the run it serves (the harness "
                             "checked; the requests are timed the same way)")
    args = parser.parse_args(argv)
    from reporter.app.pipeline import run
    from reporter.app.settings import load_config
    from tests.api_server import ASSIGN, TOKENS, Server, customer_rows

    config = project(args.work, args.data, TOKENS, args.batch_size, args.quick)
    run(load_config(config))
    customers = customer_rows(pd.read_csv(args.data, dtype=str, keep_default_na=False))
    batch = {"customers": (customers * (args.batch_size // len(customers) + 1))[:args.batch_size]}
    load_before = [round(v, 2) for v in os.getloadavg()]
    server = Server(config)
    try:
        alone = _load(server.client, ASSIGN, customers[:min(200, args.singles)], 1)  # no queue
        singles = _load(server.client, ASSIGN, [customers[i % len(customers)] for i in range(args.singles)],
                        args.concurrency)
        batches = _load(server.client, ASSIGN, [batch] * args.batches, args.concurrency)
    finally:
        server.stop()
    report = {"date": time.strftime("%Y-%m-%d"), "concurrency": args.concurrency,
              "load_before": load_before, "load_after": [round(v, 2) for v in os.getloadavg()],
              "single_alone": alone, "single": singles,
              "batch": {**batches, "customers_per_request": args.batch_size}}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "api.json").write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    return report


def project(work: Path, data: Path, tokens: list[dict], batch_size: int, quick: bool = False) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    (work / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "personas.yaml", work / "config" / "personas.yaml")
    document = yaml.safe_load((ROOT / "config" / "reporter.yaml").read_text())
    document.update(output={"dir": str(work / "output")}, teams=[],
                    api={"tokens": tokens, "max_batch": batch_size, "max_body_kb": 8192})
    document["source"]["path"] = str(data)
    if quick:
        quickened(document)
    (work / "config" / "reporter.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return work / "config" / "reporter.yaml"


def _load(client_for, token: str, bodies: list, concurrency: int) -> dict:
    """Every body posted once, by `concurrency` threads taking the next one as they finish."""
    latencies: list[float] = []
    failures = 0
    lock, queue = threading.Lock(), iter(bodies)

    def worker() -> None:
        nonlocal failures
        with client_for(token) as client:
            while True:
                with lock:
                    body = next(queue, None)
                if body is None:
                    return
                start = time.perf_counter()
                response = client.post("/v1/assign", json=body)
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    latencies.append(elapsed)
                    failures += response.status_code != 200

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"requests": len(latencies), "failures": failures, "seconds": round(wall, 2),
            "per_second": round(len(latencies) / wall, 1),
            "p50_ms": round(cuts[49], 1), "p95_ms": round(cuts[94], 1), "p99_ms": round(cuts[98], 1)}


def markdown(report: dict) -> str:
    single, batch = report["single"], report["batch"]
    size = batch["customers_per_request"]
    lines = ["## The API under load", "",
             f"`python -m benchmarks.api` on {report['date']}: a `reporter serve` process on 127.0.0.1 "
             f"over one run of the real table, {report['concurrency']} client threads on the same "
             "2-core machine posting to `/v1/assign` until every request was answered (it stops by "
             f"itself); load average {' / '.join(map(str, report['load_before']))} before, "
             f"{' / '.join(map(str, report['load_after']))} after.", "",
             "| requests | customers each | p50 (ms) | p95 (ms) | p99 (ms) | requests/s | customers/s "
             "| failed | goal |", "|---|---|---|---|---|---|---|---|---|",
             f"| {single['requests']:,} | 1 | {single['p50_ms']} | {single['p95_ms']} | {single['p99_ms']} "
             f"| {single['per_second']} | {single['per_second']:,.0f} | {single['failures']} | p95 < 10 ms: "
             f"{'met' if single['p95_ms'] < 10 else '**not met**'} |",
             f"| {batch['requests']:,} | {size:,} | {batch['p50_ms']} | {batch['p95_ms']} "
             f"| {batch['p99_ms']} | {batch['per_second']} | {batch['per_second'] * size:,.0f} "
             f"| {batch['failures']} | "
             f"p95 < 80 ms: {'met' if batch['p95_ms'] < 80 else '**not met**'} |", ""]
    alone = report.get("single_alone")
    if alone:
        lines += [f"One client alone (no queue), {alone['requests']:,} single-customer requests: p50 "
                  f"{alone['p50_ms']} ms, p95 {alone['p95_ms']} ms: the server's own time per request. "
                  f"Eight clients on two cores queue behind each other, so their latency is that time "
                  "times the queue.", ""]
    lines += [f"These figures are of {report['date']}. Since the array path (docs/operations/api.md, "
              "\"How fast\"), a request of up to 10,000 customers is scored from the saved model's "
              "numbers with NumPy alone, not by the weekly run's table path; the next section compares "
              "it with main in the same run. Scoring runs in a worker thread, one request at a time, so "
              "health checks and reads are answered while a batch is scored."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
