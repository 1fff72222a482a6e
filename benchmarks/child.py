"""One whole `reporter run` in a fresh process, reporting its own figures as JSON.

    python -m benchmarks.child --config CFG --data CSV --out RESULT.json

A fresh process per run, so peak memory (`ru_maxrss` of this process) belongs to this run
alone and Python start-up is paid as a user pays it. The parent measures the wall time.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

STARTED = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    imported = time.perf_counter()
    from reporter.app.pipeline import run
    from reporter.app.settings import load_config

    imports = time.perf_counter() - imported
    result = run(load_config(args.config), data=args.data)
    record = json.loads((result.folder / "run.json").read_text())
    args.out.write_text(json.dumps({
        "stages": result.timings,
        "imports_seconds": round(imports, 3),
        "in_process_seconds": round(time.perf_counter() - STARTED, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "pdf_bytes": result.pdf.stat().st_size,
        "k": result.brief.model.k,
        "silhouette": record["silhouette"],
        "model_action": record["model"]["action"],
        "customers": result.brief.customers,
    }))


if __name__ == "__main__":
    main()
