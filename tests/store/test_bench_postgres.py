"""benchmarks/bench_postgres.py runs (``--quick``: tiny sizes, no figures worth reading), so it cannot rot.

It uses the test session's server (``$TRAJECTORIES_BENCH_POSTGRES_URL``). No timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_bench_postgres_quick_runs_every_section(pg_admin_url: str, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    docs = tmp_path / "performance.md"
    docs.write_text("# Performance\n\nbefore\n<!-- bench-postgres:start -->\nold\n<!-- bench-postgres:end -->\nafter\n")
    env = {**os.environ, "TRAJECTORIES_BENCH_POSTGRES_URL": pg_admin_url, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_postgres.py"), "--quick", "--json", str(out), "--docs", str(docs)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    assert (r["n"], r["dim"]) == (2000, 32)
    for key in ("sqlite_insert", "pg_insert"):
        assert r[key]["single_per_s"] > 0
        assert r[key]["batched_per_s"] > 0
    for key in ("numpy_exact", "sqlite_similar", "pg_similar_ef40", "pg_similar_ef100", "pg_similar_failure_ef100"):
        assert 0.0 <= r[key]["recall_at_10"] <= 1.0
    assert r["numpy_exact"]["recall_at_10"] == 1.0  # the floor is the truth itself
    assert [s["processes"] for s in r["serve"]] == [1, 2, 4]
    assert all(s["stored"] == s["trajectories"] == 100 for s in r["serve"])
    text = docs.read_text()
    assert "old" not in text
    assert text.startswith("# Performance\n\nbefore\n<!-- bench-postgres:start -->\n")
    assert text.endswith("<!-- bench-postgres:end -->\nafter\n")
    assert "PostgreSQL HNSW, `ef_search=100` (default)" in text


@pytest.mark.postgres
def test_bench_postgres_bulk_quick_runs_every_section(pg_admin_url: str, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    docs = tmp_path / "performance.md"
    docs.write_text("# Performance\n\n<!-- bench-postgres:start -->\nkept\n<!-- bench-postgres:end -->\n")
    env = {**os.environ, "TRAJECTORIES_BENCH_POSTGRES_URL": pg_admin_url, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_postgres.py"),
            "--bulk",
            "--quick",
            "--json",
            str(out),
            "--docs",
            str(docs),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())
    assert (r["n"], r["dim"], r["sqlite_count"], r["pg_count"]) == (2000, 32, 2000, 2000)
    assert r["load"]["rows"] == 2000
    assert r["numpy_exact"]["recall_at_10"] == 1.0
    assert r["sqlite"]["similar"]["recall_at_10"] == 1.0  # the SQLite store is exact
    assert r["sqlite"]["similar_failure"]["recall_at_10"] == 1.0
    for ef in (40, 100, 200):
        assert 0.0 < r["pg"][f"similar_ef{ef}"]["recall_at_10"] <= 1.0
    assert r["pg_index"]["index_bytes"] > 0
    assert r["sqlite"]["after_load"]["rss_mib"] > 0
    text = docs.read_text()
    assert "kept" in text  # the insert/serve block is another one
    assert "<!-- bench-postgres-bulk:start -->" in text
    assert "PostgreSQL HNSW, `ef_search=100` (default)" in text.split("<!-- bench-postgres-bulk:start -->")[1]
