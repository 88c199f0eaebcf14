"""The benchmark's bulk path (benchmarks/_bulk.py) writes exactly the rows add_many writes.

The 1M figures of docs/performance.md are measured on stores loaded that way, so they are
only the stores' figures if a bulk-loaded store reads back like one filled by ``add_many``:
same export, same stats, same similarity hits, on both backends.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers.postgres import drop_database, new_database, with_database
from tests.helpers.store import step, traj
from trajectories.model import RootCause, StepOutcome, Trajectory, Verdict
from trajectories.store import SQLiteTrajectoryStore, TrajectoryStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

# The benchmark's loaders and PostgresTrajectoryStore need the postgres extra (psycopg): imported
# in the test, so that `make test` (without the extra) can collect this module and deselect it.
pytestmark = pytest.mark.postgres  # both backends are loaded side by side, as the benchmark does


def sample() -> list[Trajectory]:
    out = []
    for i in range(1, 61):
        verdict = Verdict.failure(RootCause.unknown("x")) if i % 7 == 0 else Verdict.success()
        steps = [step(0, "search"), step(1, f"act\x00{i % 3}", StepOutcome.partial("a", "b"), 0.6)]
        emb = (1.0 + i / 7, 1.0, float(i % 3)) if i % 11 else ()  # no ties; some without an embedding
        out.append(traj(i, steps, verdict, embedding=emb, name=f"agent{i % 4}", session=f"s\x00{i % 2}", user="u"))
    out.append(traj(2**64 - 5, [step(0, "big")], embedding=(1.0, 2.0, 3.0)))  # ids across the u64 range
    return out


def _readback(store: TrajectoryStore) -> tuple[object, ...]:
    exported = [t.to_json() for t in store.iter_all()]
    hits = [(h.id, round(h.similarity, 6)) for h in store.similar([1.0, 1.0, 0.0], k=10)]
    failed = [h.id for h in store.similar([2.0, 1.0, 1.0], k=5, verdict="failure")]
    return exported, store.stats(), hits, failed, store.count()


def test_bulk_loaded_stores_read_back_like_add_many(pg_admin_url: str, tmp_path: Path) -> None:
    from _bulk import PostgresBulk, SQLiteBulk, encode

    from trajectories.store import PostgresTrajectoryStore

    names = [new_database(pg_admin_url), new_database(pg_admin_url)]
    try:
        ts = sample()
        rows = encode(ts)
        assert len(rows.sqlite_rows) == len(rows.pg_rows) == len(ts)
        with (
            SQLiteTrajectoryStore(tmp_path / "bulk.db") as lite_bulk,
            SQLiteTrajectoryStore(tmp_path / "many.db") as lite_many,
            PostgresTrajectoryStore(with_database(pg_admin_url, names[0])) as pg_bulk,
            PostgresTrajectoryStore(with_database(pg_admin_url, names[1])) as pg_many,
        ):
            loader = SQLiteBulk(lite_bulk)
            loader.write(rows.sqlite_rows[:30], rows.sqlite_actions[: 2 * 30])  # two transactions
            loader.write(rows.sqlite_rows[30:], rows.sqlite_actions[2 * 30 :])
            pg_loader = PostgresBulk(pg_bulk)
            pg_loader.write(rows.pg_rows, rows.pg_actions)
            built = pg_loader.index(3, maintenance_work_mem="64MB")
            assert built["index_bytes"] > 0
            lite_many.add_many(ts)
            pg_many.add_many(ts)
            want = _readback(lite_many)
            assert want[4] == len(ts)
            assert _readback(lite_bulk) == want
            pg_want = _readback(pg_many)  # its filter/stat columns cannot hold NUL: the same but for those
            assert _readback(pg_bulk) == pg_want
            assert (pg_want[0], *pg_want[2:]) == (want[0], *want[2:])
            with pytest.raises(ValueError, match="empty store"):
                SQLiteBulk(lite_bulk)
            with pytest.raises(ValueError, match="empty store"):
                PostgresBulk(pg_bulk)
    finally:
        for name in names:
            drop_database(pg_admin_url, name)
