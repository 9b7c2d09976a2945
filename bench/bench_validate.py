"""``make bench-validate``: dataset validation over a long interactions table, in chunks against whole tables.

``braid extract`` validates the raw dataset in the launching process before the Beam job starts, so
that process must cope with the longest table. Validation reads each table in chunks
(``data.tables.iter_table``, ``CHUNK_ROWS`` rows) and keeps only the item and user ids; the baseline
is the same checks with every table read whole (``validate_dataset(..., chunk_rows=None)``), which is
how validation read tables before. Each side runs in a fresh process, so its peak resident memory
(``ru_maxrss``) is its own.

The dataset is generated: 50,000 items, 200,000 users and ``--rows`` interactions in Parquet (random
ids, so no problems to report). Writes ``bench/results/validate.md`` and ``validate.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from braidrec.data.tables import CHUNK_ROWS
from braidrec.pipeline.fileutil import write_text_atomic

RESULTS = Path(__file__).parent / "results"
ITEMS, USERS = 50_000, 200_000
# Runs one side in a child process and prints its figures as JSON.
CHILD = """
import json, resource, sys, time
from braidrec.data.validate import validate_dataset
chunk_rows = None if sys.argv[2] == "whole" else int(sys.argv[2])
started = time.perf_counter()
problems = validate_dataset(sys.argv[1], chunk_rows)
print(json.dumps({"seconds": time.perf_counter() - started, "problems": len(problems),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_dataset(root: Path, rows: int, seed: int = 0) -> Path:
    """Writes a valid dataset with ``rows`` interactions under ``root``, in row groups of 1M rows."""
    rng = np.random.default_rng(seed)
    pq.write_table(pa.table({"item_id": [f"i{i}" for i in range(ITEMS)], "title": [f"film {i}" for i in range(ITEMS)]}),
                   root / "items.parquet")
    pq.write_table(pa.table({"user_id": [f"u{i}" for i in range(USERS)], "age": rng.integers(18, 80, USERS)}),
                   root / "users.parquet")
    with pq.ParquetWriter(root / "interactions.parquet", pa.schema([
            ("user_id", pa.string()), ("item_id", pa.string()), ("timestamp", pa.int64()), ("rating", pa.int64())])) as writer:
        for start in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - start)
            writer.write_table(pa.table({
                "user_id": np.char.add("u", rng.integers(0, USERS, n).astype(str)).tolist(),
                "item_id": np.char.add("i", rng.integers(0, ITEMS, n).astype(str)).tolist(),
                "timestamp": rng.integers(1_500_000_000, 1_600_000_000, n), "rating": rng.integers(1, 6, n)}))
    (root / "dataset.yaml").write_text(
        "name: long\n"
        "items: {path: items.parquet, id: item_id, title: title, text: [title]}\n"
        "interactions: {path: interactions.parquet, user: user_id, item: item_id, timestamp: timestamp, weight: rating}\n"
        "users: {path: users.parquet, id: user_id, numeric: [age]}\n")
    return root


def measure(dataset: Path, chunk_rows: str) -> dict:
    """One side's seconds, problems and peak MiB, in a fresh process."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(dataset), chunk_rows], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def write(results: dict) -> None:
    chunked, whole = results["chunked"], results["whole"]
    lines = [
        "# Validation: a long interactions table in chunks against whole tables", "",
        f"`python -m bench.bench_validate --rows {results['rows']}`: {ITEMS:,} items, {USERS:,} users, "
        f"{results['rows']:,} interactions (Parquet), {results['machine']['cpus']} CPUs; each side in a fresh process. "
        "Baseline: the same checks with every table read whole (`chunk_rows=None`).", "",
        "| reading | seconds | peak resident MiB | problems |", "| --- | ---: | ---: | ---: |",
        f"| whole tables | {whole['seconds']:.1f} | {whole['peak_mib']:.0f} | {whole['problems']} |",
        f"| chunks of {results['chunk_rows']:,} rows | {chunked['seconds']:.1f} | {chunked['peak_mib']:.0f} | {chunked['problems']} |",
        "", f"Peak memory: chunks use {results['memory_ratio']:.2f}x the whole-table read's. "
        f"Time: {results['time_ratio']:.2f}x.",
    ]
    RESULTS.mkdir(exist_ok=True)
    write_text_atomic(RESULTS / "validate.json", json.dumps(results, indent=2))
    write_text_atomic(RESULTS / "validate.md", "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="interactions to generate (default 10M)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="braid-bench-validate-") as tmp:
        dataset = make_dataset(Path(tmp), args.rows)
        whole, chunked = measure(dataset, "whole"), measure(dataset, str(CHUNK_ROWS))
    if whole["problems"] or chunked["problems"]:
        raise SystemExit(f"the generated dataset should be valid; problems: whole {whole}, chunked {chunked}")
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "rows": args.rows,
        "chunk_rows": CHUNK_ROWS, "whole": whole, "chunked": chunked,
        "memory_ratio": chunked["peak_mib"] / whole["peak_mib"], "time_ratio": chunked["seconds"] / whole["seconds"],
    }
    write(results)
    print((RESULTS / "validate.md").read_text())


if __name__ == "__main__":
    main()
