"""bulk_load(): the rows and semantics of add_many, with PostgreSQL's new HNSW indexes built once at
the end. Every test runs against both backends (the ``store``/``location`` fixtures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.serde import golden_files
from tests.helpers.store import step, traj
from trajectories.model import RootCause, Trajectory, Verdict
from trajectories.store import StoreError, TrajectoryStore, bulk_load, open_store

SRC = str(Path(__file__).resolve().parents[2] / "src")
FAIL = Verdict.failure(RootCause.unknown("x"))


def hnsw_dimensions(location: str) -> set[int] | None:
    """The dimensions with an HNSW index (PostgreSQL), None for SQLite (it has none)."""
    if not location.startswith("postgresql"):
        return None
    import psycopg

    from trajectories._internal.store.postgres_schema import indexed_dimensions

    with psycopg.connect(location) as conn:
        return indexed_dimensions(conn)


def sample() -> list[Trajectory]:
    rng = np.random.default_rng(5)
    embs = rng.standard_normal((200, 3)).astype(np.float32)
    out = [
        traj(i + 1, [step(0, "search"), step(1, f"act{i % 3}")], FAIL if i % 5 == 0 else None, embedding=embs[i], name="a")
        for i in range(200)
    ]
    out += [traj((1 << 64) - 1, embedding=(1.0, 2.0)), traj(1 << 63, embedding=())]  # another dimension, none
    return out


def exact_top(ts: list[Trajectory], q: list[float], k: int, *, failed_only: bool = False) -> list[int]:
    qv = np.asarray(q, dtype=np.float64)
    scored = []
    for t in ts:
        e = np.asarray(t.query_embedding, dtype=np.float64)
        if e.size != qv.size or (failed_only and t.verdict.kind != "failure"):
            continue
        scored.append((-float(e @ qv / (np.linalg.norm(e) * np.linalg.norm(qv))), int(t.id)))
    return [i for _, i in sorted(scored)[:k]]


def test_bulk_load_reads_back_like_add_many(store: TrajectoryStore, location: str) -> None:
    ts = sample()
    with bulk_load(store) as load:
        assert load.add_many(ts[:120]) == 120
        if location.startswith("postgresql"):
            assert hnsw_dimensions(location) == set()  # deferred: no index while loading
        assert load.add_many(iter(ts[120:])) == len(ts) - 120
        replaced = traj(1, [step(0, "again")], embedding=ts[0].query_embedding, name="a")
        assert load.add_many([replaced]) == 1  # adding again replaces, as add_many does
        hits = store.similar([1.0, 0.0, 0.0], k=5)  # exact while unindexed: still right
        assert [h.id for h in hits] == exact_top(ts, [1.0, 0.0, 0.0], 5)
    ts[0] = replaced
    if location.startswith("postgresql"):
        assert set(load.built) == {2, 3}
        assert hnsw_dimensions(location) == {2, 3}
    else:
        assert load.built == {}
    assert load.kept == set()
    assert store.count() == len(ts)
    by_time = sorted(ts, key=lambda t: (t.started_at, int(t.id)))
    assert [t.to_json() for t in store.iter_all()] == [t.to_json() for t in by_time]
    assert store.stats().top_actions[:3] == [("search", 199), ("act1", 67), ("act0", 66)]  # traj-1 replaced
    for q in ([1.0, 0.0, 0.0], [0.0, -1.0, 0.5], [0.3, 0.3, -2.0]):  # through the index now
        assert [h.id for h in store.similar(q, k=10)] == exact_top(ts, q, 10)
        assert [h.id for h in store.similar(q, k=10, verdict="failure")] == exact_top(ts, q, 10, failed_only=True)
    assert [h.id for h in store.similar([1.0, 0.0], k=3)] == [(1 << 64) - 1]


def test_an_indexed_dimension_is_kept_and_a_new_one_still_indexed_by_add_many(store: TrajectoryStore, location: str) -> None:
    with bulk_load(store) as first:
        first.add_many([traj(1, embedding=(1.0, 0.0, 0.0))])
    with bulk_load(store) as second:
        second.add_many([traj(2, embedding=(0.0, 1.0, 0.0))])
    assert second.built == {}
    if location.startswith("postgresql"):
        assert second.kept == {3}  # it had an index: updated row by row
    store.add_many([traj(3, embedding=(1.0, 0.0, 0.0, 0.0))])  # outside a bulk load: indexed as ever
    if location.startswith("postgresql"):
        assert hnsw_dimensions(location) == {3, 4}
    assert [h.id for h in store.similar([0.0, 1.0, 0.1], k=1)] == [2]


def test_a_failed_index_build_is_a_store_error_and_add_many_indexes_later(store: TrajectoryStore, location: str) -> None:
    load = bulk_load(store, maintenance_work_mem="1kB")  # a size PostgreSQL refuses (at least 1MB)
    load.add_many([traj(1, embedding=(1.0, 0.0, 0.0))])
    if location.startswith("postgresql"):
        with pytest.raises(StoreError, match="maintenance_work_mem"):
            load.finish()
        assert hnsw_dimensions(location) == set()
        store.add_many([traj(2, embedding=(0.0, 1.0, 0.0))])  # the store knows the index is missing
        assert hnsw_dimensions(location) == {3}
    else:
        assert load.finish() == {}  # nothing to build: the setting is PostgreSQL's
    assert store.count() == 2 if location.startswith("postgresql") else store.count() == 1
    with pytest.raises(StoreError, match="finished"):
        load.add_many([traj(3)])


def test_bad_arguments(store: TrajectoryStore) -> None:
    with pytest.raises(TypeError, match="store must be a TrajectoryStore"):
        bulk_load("trajectories.db")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maintenance_work_mem"):
        bulk_load(store, maintenance_work_mem="lots")
    with bulk_load(store) as load:
        with pytest.raises(TypeError, match="iterable of Trajectory"):
            load.add_many(traj(1))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"trajectories\[1\]"):
            load.add_many([traj(1), "nope"])  # type: ignore[list-item]
    assert store.count() == 0  # the bad batch wrote nothing


def _run(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TRAJECTORIES_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "trajectories", *args], capture_output=True, text=True, env=env, input=stdin, timeout=120
    )


def test_cli_import_bulk(location: str) -> None:
    lines = [Trajectory.from_json(p.read_text(encoding="utf-8")).to_json() for p in golden_files()]
    text = "\n".join(lines) + "\n"
    out = _run("--db", location, "import", "-", "--bulk", "--index-memory", "64MB", stdin=text)
    assert out.returncode == 0, out.stderr
    assert f"imported {len(lines)} trajectories" in out.stderr
    with open_store(location) as store:
        assert store.count() == len(lines)
        assert [t.to_json() for t in store.iter_all()] == [
            t.to_json() for t in sorted((Trajectory.from_json(x) for x in lines), key=lambda t: (t.started_at, int(t.id)))
        ]
    if location.startswith("postgresql"):
        assert "built the HNSW index of dimension 4 in" in out.stderr
        assert hnsw_dimensions(location) == {4}
        again = _run("--db", location, "import", "-", "--bulk", stdin=text)
        assert again.returncode == 0, again.stderr
        assert "dimension 4 already had an HNSW index" in again.stderr
    bad = _run("--db", location, "import", "-", "--index-memory", "1GB", stdin=text)
    assert bad.returncode == 2
    assert "--index-memory is for the index build of --bulk" in bad.stderr
