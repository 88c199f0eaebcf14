"""Store throughput and similarity-search latency, and the ratio to a per-query table scan.

    PYTHONPATH=src python benchmarks/bench_store.py [N] [DIM]

The "scan" is what the cached index avoids: reading every row's embedding BLOB from SQLite
and computing cosine similarities on each query.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone

import numpy as np

from trajectories.model import StepOutcome, Trajectory, TrajectoryStep, Verdict
from trajectories.store import SQLiteTrajectoryStore


def make(i: int, emb: np.ndarray) -> Trajectory:
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    steps = [TrajectoryStep(j, f"action{j}", "why", StepOutcome.success(), 0.9, 5, t0) for j in range(3)]
    return Trajectory.build(
        steps, Verdict.success(), id=i, uuid=uuid.uuid4(), started_at=t0, total_latency_ms=15, query_embedding=emb
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    dim = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    rng = np.random.default_rng(0)
    embs = rng.standard_normal((n, dim)).astype(np.float32)
    ts = [make(i + 1, embs[i]) for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        store = SQLiteTrajectoryStore(os.path.join(d, "bench.db"))
        t = time.perf_counter()
        for k in range(0, n, 1000):
            store.add_many(ts[k : k + 1000])
        add_s = time.perf_counter() - t
        t = time.perf_counter()
        for x in ts[:200]:
            store.add(x)  # one transaction each (re-adds: replaced)
        single_ms = (time.perf_counter() - t) / 200 * 1000
        q = rng.standard_normal(dim).astype(np.float32)
        t = time.perf_counter()
        store.similar(q, k=5)
        load_ms = (time.perf_counter() - t) * 1000
        reps = 50
        t = time.perf_counter()
        for _ in range(reps):
            store.similar(q, k=5)
        query_ms = (time.perf_counter() - t) / reps * 1000
        conn = store._conn()
        t = time.perf_counter()
        for _ in range(5):
            rows = conn.execute("SELECT id, embedding FROM trajectories").fetchall()
            m = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
            sims = (m @ q) / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
            np.argpartition(-sims, 5)[:5]
        scan_ms = (time.perf_counter() - t) / 5 * 1000
        store.close()
    print(f"{n} trajectories x {dim} dims")
    print(f"add_many (1000 per transaction): {n / add_s:,.0f} trajectories/s")
    print(f"add (one transaction each):      {single_ms:.2f} ms")
    print(f"first similar() (loads index):   {load_ms:.0f} ms")
    print(f"similar(k=5), cached index:      {query_ms:.2f} ms")
    print(f"per-query table scan:            {scan_ms:.2f} ms  (index is {scan_ms / query_ms:.1f}x faster)")


if __name__ == "__main__":
    main()
