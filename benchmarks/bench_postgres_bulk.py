"""``bench_postgres.py --bulk``: similar() at sizes add_many cannot load in a benchmark's time (1M rows).

Both stores get the same rows through benchmarks/_bulk.py; the queries, the clustered
embeddings and the recall measure are bench_postgres.py's. Each store is queried from its own
fresh process (``bench_postgres.py --reader``), so the resident memory it reports is what a
reading process of that store holds.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_postgres as bp
import numpy as np
import numpy.typing as npt
from _bulk import BulkTimes, PostgresBulk, SQLiteBulk, encode

from trajectories.store import PostgresTrajectoryStore, SQLiteTrajectoryStore

EFS = (40, 100, 200)
CHUNK = 10_000


def memory() -> dict[str, float]:
    """This process's resident set now and at its peak, in MiB (Linux /proc)."""
    out: dict[str, float] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return {"rss_mib": out.get("VmRSS", 0.0), "peak_rss_mib": out.get("VmHWM", 0.0)}


def reader(target: str, inputs: Path) -> dict[str, Any]:
    """Run the queries against one store, in this (fresh) process; figures and RSS."""
    data = np.load(inputs)
    qs, warm = data["qs"], data["warm"]
    truth = [set(map(int, row)) for row in data["truth"]]
    truth_failed = [set(map(int, row)) for row in data["truth_failed"]]
    out: dict[str, Any] = {"rss_before_mib": memory()["rss_mib"]}
    if target.startswith("sqlite:"):
        with SQLiteTrajectoryStore(target.removeprefix("sqlite:")) as lite:
            t = time.perf_counter()
            lite.similar(qs[0], k=10)  # loads the index (the matrix) once
            out["index_load_s"] = time.perf_counter() - t
            out["after_load"] = memory()
            out["similar"] = bp.queries(lite, None, qs, truth, None)
            out["similar_failure"] = bp.queries(lite, None, qs, truth_failed, "failure")
    else:
        for ef in EFS:
            with PostgresTrajectoryStore(target, ef_search=ef) as pg:
                for q in warm:  # the same warm-up for every setting: the first would pay for a cold cache
                    pg.similar(q, k=10)
                out[f"similar_ef{ef}"] = bp.queries(pg, None, qs, truth, None)
                out[f"similar_failure_ef{ef}"] = bp.queries(pg, None, qs, truth_failed, "failure")
    out["end"] = memory()
    return out


def run_reader(target: str, inputs: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(bp.ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, str(Path(__file__).with_name("bench_postgres.py")), "--reader", target, "--input", str(inputs)]
    done = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_bulk(n: int, dim: int, n_queries: int, *, workers: int = 1, maintenance_work_mem: str = "4GB") -> dict[str, Any]:
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((1000, dim)).astype(np.float32)
    embs = bp.clustered(rng, n, dim, centers)
    qs = bp.clustered(rng, n_queries, dim, centers)
    warm = bp.clustered(rng, 30, dim, centers)
    unit = embs / np.linalg.norm(embs, axis=1, keepdims=True)
    failures = (np.arange(1, n + 1) % 10) == 0

    def exact(q: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_] | None = None) -> list[int]:
        scores = unit @ (q / np.linalg.norm(q))
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        top = np.argpartition(-scores, 10)[:10]
        return [int(i) + 1 for i in top[np.argsort(-scores[top])]]

    res: dict[str, Any] = {"n": n, "dim": dim, "queries": n_queries, "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    truth = [exact(q) for q in qs]
    truth_failed = [exact(q, failures) for q in qs]
    res["numpy_exact"] = bp.queries(None, exact, qs, [set(t) for t in truth], None)
    res["numpy_matrix_mib"] = unit.nbytes / 2**20
    bp.note(f"truth computed; bulk loading {n:,} trajectories into both stores")
    times = BulkTimes()
    with tempfile.TemporaryDirectory(prefix="trajectories-bench-bulk-") as tmp, bp.server() as admin:
        db = Path(tmp) / "bench.db"
        url = bp.database(admin, "bench_bulk")
        inputs = Path(tmp) / "queries.npz"
        np.savez(inputs, qs=qs, warm=warm, truth=np.asarray(truth), truth_failed=np.asarray(truth_failed))
        with SQLiteTrajectoryStore(db) as lite, PostgresTrajectoryStore(url) as pg:
            lite_bulk, pg_bulk = SQLiteBulk(lite), PostgresBulk(pg)
            for start in range(0, n, CHUNK):
                t = time.perf_counter()
                ts = [bp.make(i + 1, embs[i]) for i in range(start, min(n, start + CHUNK))]
                rows = encode(ts)
                del ts
                t1 = time.perf_counter()
                lite_bulk.write(rows.sqlite_rows, rows.sqlite_actions)
                t2 = time.perf_counter()
                pg_bulk.write(rows.pg_rows, rows.pg_actions)
                t3 = time.perf_counter()
                times.encode_s += t1 - t
                times.sqlite_s += t2 - t1
                times.pg_copy_s += t3 - t2
                times.rows += len(rows.pg_rows)
                if times.rows % 100_000 == 0 or times.rows == n:
                    bp.note(
                        f"{times.rows:,} rows: encode {times.encode_s:.0f} s, SQLite {times.sqlite_s:.0f} s, "
                        f"PostgreSQL COPY {times.pg_copy_s:.0f} s"
                    )
            res["load"] = {
                "encode_s": times.encode_s,
                "sqlite_s": times.sqlite_s,
                "pg_copy_s": times.pg_copy_s,
                "rows": times.rows,
            }
            res["sqlite_count"], res["pg_count"] = lite.count(), pg.count()
            bp.note(f"PostgreSQL: HNSW index build (maintenance_work_mem={maintenance_work_mem}, workers={workers})")
            res["pg_index"] = pg_bulk.index(dim, maintenance_work_mem=maintenance_work_mem, workers=workers)
            res["pg_index"]["maintenance_work_mem"] = maintenance_work_mem
            res["pg_index"]["workers"] = workers
            bp.note(f"index built in {res['pg_index']['index_build_s']:.0f} s")
        del embs
        res["sqlite_file_bytes"] = sum(p.stat().st_size for p in Path(tmp).glob("bench.db*"))
        bp.note("SQLite: a reading process")
        res["sqlite"] = run_reader(f"sqlite:{db}", inputs)
        bp.note("PostgreSQL: a reading process")
        res["pg"] = run_reader(url, inputs)
    return res


def bulk_table(r: dict[str, Any]) -> str:
    n, dim, load, idx = r["n"], r["dim"], r["load"], r["pg_index"]
    lite, pg = r["sqlite"], r["pg"]
    gib = 2**30
    lines = [
        f"{n:,} trajectories × {dim} dimensions (3 steps each), {r['queries']} queries, {r['machine']}, loaded by the "
        "benchmark's bulk path (`make bench-postgres-1m`; benchmarks/_bulk.py): the rows `add_many` writes, by binary "
        "`COPY` into PostgreSQL with the HNSW index built afterwards, and by `executemany` in transactions of "
        f"{CHUNK:,} rows into SQLite. PostgreSQL 18 + pgvector 0.8, default settings except for the index build "
        f"(`maintenance_work_mem = {idx['maintenance_work_mem']}`, `max_parallel_maintenance_workers = {idx['workers']}`); "
        "HNSW `m = 16, ef_construction = 64`.",
        "",
        "| loading | seconds | rows/s |",
        "|---|---:|---:|",
        f"| encoding the trajectories (JSON, once for both stores) | {load['encode_s']:.0f} | {n / load['encode_s']:,.0f} |",
        f"| SQLite: `executemany` | {load['sqlite_s']:.0f} | {n / load['sqlite_s']:,.0f} |",
        f"| PostgreSQL: binary `COPY`, no HNSW index | {load['pg_copy_s']:.0f} | {n / load['pg_copy_s']:,.0f} |",
        f"| PostgreSQL: `CREATE INDEX ... USING hnsw` over all rows | {idx['index_build_s']:.0f} | "
        f"{n / idx['index_build_s']:,.0f} |",
        "",
        f"On disk: the SQLite file {r['sqlite_file_bytes'] / gib:.1f} GiB; PostgreSQL's table with its indexes "
        f"{idx['table_total_bytes'] / gib:.1f} GiB, of which the HNSW index {idx['index_bytes'] / gib:.2f} GiB. "
        f"The SQLite store's first `similar()` in a process loads its matrix: {lite['index_load_s']:.1f} s.",
        "",
        '| `similar(k=10)` | p50 | p99 | recall@10 | with `verdict="failure"` (10 % of rows): p50 | p99 | recall@10 |',
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def row(name: str, a: dict[str, float], b: dict[str, float] | None) -> str:
        tail = f"{b['p50_ms']:.2f} ms | {b['p99_ms']:.2f} ms | {b['recall_at_10']:.3f}" if b else "– | – | –"
        return f"| {name} | {a['p50_ms']:.2f} ms | {a['p99_ms']:.2f} ms | {a['recall_at_10']:.3f} | {tail} |"

    lines.append(row("exact numpy (the floor: matrix in memory, no store)", r["numpy_exact"], None))
    lines.append(row("SQLite store (exact, in-memory matrix)", lite["similar"], lite["similar_failure"]))
    for ef in EFS:
        default = " (default)" if ef == 100 else ""
        lines.append(row(f"PostgreSQL HNSW, `ef_search={ef}`{default}", pg[f"similar_ef{ef}"], pg[f"similar_failure_ef{ef}"]))
    lines += [
        "",
        "| resident memory of one reading process | after its first `similar()` | peak |",
        "|---|---:|---:|",
        f"| SQLite store | {lite['after_load']['rss_mib']:,.0f} MiB | {lite['end']['peak_rss_mib']:,.0f} MiB |",
        "| PostgreSQL store (the client; the server's memory is shared by all clients) | – "
        f"| {pg['end']['peak_rss_mib']:,.0f} MiB |",
        f"| exact numpy: the normalised float32 matrix alone | {r['numpy_matrix_mib']:,.0f} MiB | – |",
    ]
    return "\n".join(lines)
