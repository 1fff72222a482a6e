"""Same-run A/B of `reporter serve`: this checkout against another (`--vs`, e.g. an extracted
copy of main), each a real server process on 127.0.0.1 over the same archive (one run of the
real table), taking turns, `--rounds` times:

- one client, `--sequential` single-customer requests one after another on one keep-alive
  connection (p50, p95: the server's own time per request);
- `--concurrency` clients posting single customers (p95 under a queue);
- one client posting `--batches` 1,000-customer batches (p95).

Figures are the median of the rounds, with the fastest and slowest. Writes
benchmarks/results/api_ab.json and prints the table BENCHMARKS.md holds.

    python -m benchmarks.api_ab --vs /tmp/main-checkout [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2
import pandas as pd

from benchmarks.api import _load, project
from benchmarks.common import REAL_TABLE, RESULTS, ROOT

ASSIGN = "assign-token-0123456789abcdef"
TOKENS = [{"env": "API_ASSIGN_TOKEN", "scopes": ["assign"]}]
MEASURES = ("sequential_p50_ms", "sequential_p95_ms", "clients_p95_ms", "batch_p95_ms")
CPU = ("server_cpu_single_ms", "server_cpu_batch_ms")  # the server process's own CPU per request


class TreeServer:
    """`reporter serve` of one checkout (its code on PYTHONPATH), ready at its 'listening' line."""

    def __init__(self, tree: Path, config: Path):
        env = {**os.environ, "PYTHONPATH": str(tree), "API_ASSIGN_TOKEN": ASSIGN}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reporter", "serve", "--config", str(config), "--port", "0"],
            cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ready, self.port = threading.Event(), None

        def read() -> None:
            for line in self.process.stderr:
                if '"event": "listening"' in line:
                    self.port = json.loads(line)["port"]
                    ready.set()
        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(timeout=120), f"{tree}: the server never listened"

    def client(self, token: str) -> httpx2.Client:
        return httpx2.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=120,
                            headers={"Authorization": f"Bearer {token}"})

    def cpu_ms(self) -> float | None:
        """The server process's CPU time so far (user + system), where /proc has it: a wall
        time on a shared machine is stretched by others' load, its own CPU much less."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") * 1000

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def sequential(server: TreeServer, bodies: list[dict]) -> list[float]:
    """Milliseconds per request, one after another on one keep-alive connection."""
    times = []
    with server.client(ASSIGN) as client:
        client.post("/v1/assign", json=bodies[0])  # the connection opened, the model loaded
        for body in bodies:
            start = time.perf_counter()
            response = client.post("/v1/assign", json=body)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.text
    return times


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(sorted(values), n=100, method="inclusive")[p - 1]


def one_round(tree: Path, config: Path, customers: list[dict], args) -> dict:
    server = TreeServer(tree, config)
    try:
        singles = [customers[i % len(customers)] for i in range(max(args.sequential, args.singles))]
        cpu = [server.cpu_ms()]
        alone = sequential(server, singles[:args.sequential])
        cpu.append(server.cpu_ms())
        clients = _load(server.client, ASSIGN, singles[:args.singles], args.concurrency)
        batch = {"customers": (customers * (1000 // len(customers) + 1))[:1000]}
        cpu.append(server.cpu_ms())
        batches = sequential(server, [batch] * args.batches)
        cpu.append(server.cpu_ms())
    finally:
        server.stop()
    found = {"sequential_p50_ms": percentile(alone, 50), "sequential_p95_ms": percentile(alone, 95),
             "clients_p95_ms": clients["p95_ms"], "batch_p95_ms": percentile(batches, 95)}
    if None not in cpu:  # the server's CPU per request (a warm-up request each counted in)
        found.update(server_cpu_single_ms=(cpu[1] - cpu[0]) / (args.sequential + 1),
                     server_cpu_batch_ms=(cpu[3] - cpu[2]) / (args.batches + 1))
    return found


def stages(config: Path, customers: list[dict], repeats: int = 20) -> dict:
    """CPU milliseconds per request of each stage of POST /v1/assign in this process (CPU
    time, not wall time: the machine is shared, and other processes' load stretches wall
    time), for one customer and for 1,000."""
    from reporter.app.api.customers import _score
    from reporter.app.api.requests import customers_of, nesting
    from reporter.app.api.swap import Archive
    from reporter.app.params import clean_params
    from reporter.app.settings import load_config

    settings = load_config(config)
    served, cleaning = Archive(settings).current(), clean_params(settings.settings)
    found = {}
    for size in (1, 1000):
        document = customers[0] if size == 1 else {"customers": (customers * 2)[:size]}
        body = json.dumps(document).encode()
        sent, _ = customers_of(json.loads(body), 1000)
        answers = _score(served, sent, cleaning, None)
        steps = {"parse JSON": lambda b=body: json.loads(b), "nesting check": lambda b=body: nesting(b),
                 "field checks": lambda b=body: customers_of(json.loads(b), 1000),
                 "score (typed, features, segments, rules, p_response)":
                     lambda s=sent: _score(served, s, cleaning, None),
                 "answer as JSON": lambda a=answers: json.dumps({"customers": a})}
        found[str(size)] = {name: _cpu_ms(step, repeats if size > 1 else repeats * 10)
                            for name, step in steps.items()}
    found["field checks"] = {k: round(v["field checks"] - v["parse JSON"], 3) for k, v in found.items()}
    return found


def _cpu_ms(step, repeats: int) -> float:
    step()
    start = time.process_time()
    for _ in range(repeats):
        step()
    return round((time.process_time() - start) / repeats * 1000, 3)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_ab", description=__doc__.splitlines()[0])
    parser.add_argument("--vs", type=Path, required=True, help="the other checkout (e.g. main)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--singles", type=int, default=800, help="single requests of the clients")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reporter-bench-api-ab")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--stages-only", action="store_true",
                        help="add the per-stage CPU times to the saved api_ab.json, without the A/B")
    args = parser.parse_args(argv)
    from reporter.app.pipeline import run
    from reporter.app.settings import load_config
    from tests.api_server import customer_rows

    customers = customer_rows(pd.read_csv(REAL_TABLE, dtype=str, keep_default_na=False))
    if args.stages_only:
        report = json.loads((args.results / "api_ab.json").read_text())
        config = args.work / "config" / "reporter.yaml"
        report["stages_cpu_ms"] = stages(config, customers)
        (args.results / "api_ab.json").write_text(json.dumps(report, indent=2) + "\n")
        print(markdown(report))
        return report
    config = project(args.work, REAL_TABLE, TOKENS, 1000)
    run(load_config(config))
    trees = {"before": args.vs.resolve(), "after": ROOT}
    rounds: dict[str, list[dict]] = {name: [] for name in trees}
    load_before = [round(v, 2) for v in os.getloadavg()]
    for _ in range(args.rounds):
        for name, tree in trees.items():  # taking turns: both see the same machine
            rounds[name].append(one_round(tree, config, customers, args))
    report = {"date": time.strftime("%Y-%m-%d"), "rounds": args.rounds, "concurrency": args.concurrency,
              "sequential": args.sequential, "batches": args.batches, "load_before": load_before,
              "load_after": [round(v, 2) for v in os.getloadavg()],
              "figures": {name: {m: _spread([r[m] for r in found]) for m in MEASURES + CPU if m in found[0]}
                          for name, found in rounds.items()},
              "stages_cpu_ms": stages(config, customers)}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "api_ab.json").write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    return report


def _spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "low": round(min(values), 2),
            "high": round(max(values), 2)}


GOALS = {"sequential_p95_ms": 5, "clients_p95_ms": 20, "batch_p95_ms": 50}
LABELS = {"sequential_p50_ms": "1 client, 1 customer: p50", "sequential_p95_ms": "1 client, 1 customer: p95",
          "clients_p95_ms": "8 clients, 1 customer: p95", "batch_p95_ms": "1 client, 1,000 customers: p95",
          "server_cpu_single_ms": "server CPU per request, 1 customer",
          "server_cpu_batch_ms": "server CPU per request, 1,000 customers"}


def _loaded(report: dict) -> bool:
    return max(report["load_before"][0], report["load_after"][0]) > 3  # 2 cores: more is a queue


def markdown(report: dict) -> str:
    before, after = report["figures"]["before"], report["figures"]["after"]

    def cell(found: dict) -> str:
        return f"{found['median']} ({found['low']}–{found['high']})"

    lines = ["## The API before and after the array path", "",
             f"`python -m benchmarks.api_ab --vs <main checkout>` on {report['date']}: `reporter serve` "
             "of main and of this checkout, real server processes on 127.0.0.1 over the same archive "
             f"(one run of the real table), taking turns {report['rounds']} times; medians of the rounds "
             f"with fastest–slowest. One client: {report['sequential']} single-customer requests one after "
             f"another on one keep-alive connection, and {report['batches']} requests of 1,000 customers; "
             f"{report['concurrency']} clients posting single customers. Load average "
             f"{' / '.join(map(str, report['load_before']))} before, "
             f"{' / '.join(map(str, report['load_after']))} after (the machine is shared)."
             + (" **Measured under load**: the wall times are stretched many times over; the server "
                "CPU rows are the steadier comparison." if _loaded(report) else ""), "",
             "| request (ms) | before (main) | after | after / before | goal |", "|---|---|---|---|---|"]
    for measure in (*MEASURES, *(m for m in CPU if m in before and m in after)):
        goal = GOALS.get(measure)
        verdict = "" if goal is None else \
            f"< {goal} ms: {'met' if after[measure]['median'] < goal else '**not met**'}"
        ratio = after[measure]["median"] / before[measure]["median"]
        lines.append(f"| {LABELS[measure]} | {cell(before[measure])} | {cell(after[measure])} "
                     f"| {ratio:.3f}x | {verdict} |")
    found = report.get("stages_cpu_ms")
    if found:
        lines += ["", "Where a request's time goes on the array path (CPU ms per request in one process, "
                  "`stages()`: CPU time, which other processes' load stretches less than wall time):", "",
                  "| stage | 1 customer | 1,000 customers |", "|---|---|---|"]
        for name in found["1"]:
            shown = {k: found["field checks"][k] if name == "field checks" else found[k][name]
                     for k in ("1", "1000")}
            lines.append(f"| {name} | {shown['1']} | {shown['1000']} |")
        # "field checks" of a size includes parsing; its net time is found["field checks"]
        totals = {k: round(sum(found[k].values()) - found[k]["field checks"] + found["field checks"][k], 1)
                  for k in ("1", "1000")}
        largest = max(found["1000"], key=lambda name: found["field checks"]["1000"] if name == "field checks"
                      else found["1000"][name])
        lines += ["", f"The server's own CPU per request is about {totals['1']} ms for one customer and "
                  f"{totals['1000']} ms for 1,000 (uvicorn, HTTP and the access log come on top); the "
                  "clients (httpx2, in one process on the same two cores) add their own CPU to every "
                  "wall time above, and the load average stretches them. Of a batch's CPU, the largest "
                  f"stage is \"{largest}\"."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
