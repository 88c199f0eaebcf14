"""Bulk loading for the 1M-row benchmark: rows exactly as the stores write them, written fast.

``add_many`` is the right path for an application (it upserts, keeps PostgreSQL's HNSW index
up to date row by row and lets many writers share a database), but it loads 100 000 rows into
PostgreSQL in about 16 minutes on this machine. For a fresh benchmark database this module
writes the same rows the stores write:

- PostgreSQL: ``COPY ... (FORMAT BINARY)`` straight into ``trajectories`` and
  ``trajectory_step_actions`` (the database is fresh: nothing to upsert), then the HNSW index
  built once over all rows, with ``maintenance_work_mem`` large enough to hold the graph and
  ``max_parallel_maintenance_workers`` set, then ``ANALYZE``.
- SQLite: ``executemany`` in large transactions through the store's own write transaction (so
  the sequence number the similarity index syncs on is kept as ``add_many`` keeps it).

Each trajectory's JSON (the costly part, ~0.7 ms) is encoded once for both stores; the first
row of every chunk is checked against the stores' own row encoders (``row_for`` and the
PostgreSQL ``_row``), so a change of either encoding fails the benchmark instead of measuring
rows the store would not write. Internal to the benchmarks: not an API.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trajectories._internal.store import postgres as pgmod
from trajectories._internal.store.codec import embedding_to_blob, encode_json, to_db_id, to_micros, trajectory_name
from trajectories._internal.store.postgres_schema import ensure_vector_index
from trajectories._internal.store.schema import ROW_COLUMNS, row_for
from trajectories.model import Trajectory
from trajectories.store import PostgresTrajectoryStore, SQLiteTrajectoryStore

__all__ = ["BulkTimes", "PostgresBulk", "SQLiteBulk", "encode"]


@dataclass
class BulkTimes:
    """Seconds spent, per phase, summed over all chunks."""

    encode_s: float = 0.0
    sqlite_s: float = 0.0
    pg_copy_s: float = 0.0
    rows: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Encoded:
    sqlite_rows: list[tuple[Any, ...]]
    sqlite_actions: list[tuple[int, int, str]]
    pg_rows: list[tuple[Any, ...]]
    pg_actions: list[tuple[int, int, str]]


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and np.array_equal(x, y)):
                return False
        elif x != y:
            return False
    return True


def encode(ts: Sequence[Trajectory]) -> Encoded:
    """The rows of *ts* for both stores, with one JSON encoding per trajectory."""
    out = Encoded([], [], [], [])
    text = pgmod._text
    for n, t in enumerate(ts):
        js = encode_json(t)
        db_id = to_db_id(int(t.id))
        emb = t.query_embedding
        name, session, user, rtype = trajectory_name(t), t.metadata.session_id, t.metadata.user_id, t.metadata.request_type
        common = (t.verdict.kind, float(t.quality))
        tokens = (t.metadata.total_input_tokens, t.metadata.total_output_tokens, len(t.steps))
        lite: tuple[Any, ...] = (
            db_id,
            str(t.uuid),
            name,
            session,
            user,
            rtype,
            *common,
            to_micros(t.started_at),
            to_micros(t.completed_at),
        )
        lite += (*tokens, js, embedding_to_blob(emb), int(emb.size))
        pg_emb, pg_dim = pgmod._embedding_param(t)
        pg: tuple[Any, ...] = (
            db_id,
            t.uuid,
            text(name),
            text(session),
            text(user),
            text(rtype),
            *common,
            t.started_at,
            t.completed_at,
        )
        pg += (*tokens, js, pg_emb, pg_dim)
        if n == 0:  # the stores' own encoders: the rows must be theirs
            if not _same(lite, row_for(t)):
                raise AssertionError("bulk SQLite row differs from SQLiteTrajectoryStore's row_for()")
            if not _same(pg, pgmod._row(t)):
                raise AssertionError("bulk PostgreSQL row differs from PostgresTrajectoryStore's _row()")
        out.sqlite_rows.append(lite)
        out.pg_rows.append(pg)
        for k, s in enumerate(t.steps):
            out.sqlite_actions.append((db_id, k, s.action))
            out.pg_actions.append((db_id, k, text(s.action) or ""))
    return out


class SQLiteBulk:
    """Rows into a fresh SQLite store, one write transaction per :meth:`write` call."""

    def __init__(self, store: SQLiteTrajectoryStore) -> None:
        if store.count():
            raise ValueError("bulk loading needs an empty store")
        self.store = store

    def write(self, rows: Iterable[tuple[Any, ...]], actions: Iterable[tuple[int, int, str]]) -> None:
        placeholders = ", ".join("?" * 17)

        def work(conn: sqlite3.Connection, seq: int) -> None:
            conn.executemany(f"INSERT INTO trajectories ({ROW_COLUMNS}) VALUES ({placeholders})", ((*r, seq) for r in rows))
            conn.executemany("INSERT INTO step_actions (trajectory_id, idx, action) VALUES (?, ?, ?)", actions)

        self.store._write(work)


class PostgresBulk:
    """Rows into a fresh PostgreSQL store by binary COPY, without the HNSW index (built by :meth:`index`)."""

    def __init__(self, store: PostgresTrajectoryStore) -> None:
        if store.count():
            raise ValueError("bulk loading needs an empty store")
        self.store = store

    def write(self, rows: Sequence[tuple[Any, ...]], actions: Sequence[tuple[int, int, str]]) -> None:
        def work(conn: Any) -> None:
            with conn.cursor() as cur:
                with cur.copy(f"COPY trajectories ({pgmod._COLUMN_LIST}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(pgmod._COPY_TYPES)
                    for r in rows:
                        copy.write_row(r)
                with cur.copy("COPY trajectory_step_actions (trajectory_id, idx, action) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["int8", "int4", "text"])
                    for a in actions:
                        copy.write_row(a)

        self.store._run("write to", work)

    def index(self, dim: int, *, maintenance_work_mem: str = "4GB", workers: int = 1) -> dict[str, float]:
        """Build the HNSW index of *dim* (the store's own ``ensure_vector_index``) and ANALYZE."""
        import psycopg

        out: dict[str, float] = {}
        with psycopg.connect(self.store._dsn, autocommit=True) as conn:
            conn.execute(f"SET maintenance_work_mem = '{maintenance_work_mem}'")
            conn.execute(f"SET max_parallel_maintenance_workers = {int(workers)}")
            t = time.perf_counter()
            ensure_vector_index(conn, dim)
            out["index_build_s"] = time.perf_counter() - t
            t = time.perf_counter()
            conn.execute("ANALYZE trajectories")
            conn.execute("ANALYZE trajectory_step_actions")
            out["analyze_s"] = time.perf_counter() - t
            row = conn.execute(
                "SELECT pg_relation_size(%s), pg_total_relation_size('trajectories')", (f"trajectories_hnsw_{dim}",)
            ).fetchone()
            assert row is not None
            out["index_bytes"], out["table_total_bytes"] = float(row[0]), float(row[1])
        with self.store._lock:
            self.store._dims.add(dim)
        return out
