"""The PostgreSQL store's schema, its versioned migrations and its per-dimension HNSW indexes.

Embeddings live in one ``vector`` column *without* a dimension (pgvector allows that), so
trajectories embedded by different models sit side by side. An HNSW index needs a fixed
dimension, so there is one partial expression index per dimension:
``USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dim = 384``; a query of
dimension d says ``WHERE dim = d ORDER BY embedding::vector(d) <=> q`` and uses it.
Indexes are created the first time a dimension is written (HNSW takes at most 2000
dimensions: larger ones are searched exactly, without an index).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors, sql

from ..exceptions import SchemaVersionError, StoreError

_Conn = psycopg.Connection[Any]

__all__ = [
    "HNSW_MAX_DIM",
    "SCHEMA_VERSION",
    "TABLE_LESSONS",
    "ensure_schema",
    "ensure_vector_index",
    "indexed_dimensions",
]

SCHEMA_VERSION = 3

#: The largest dimension pgvector's HNSW indexes a ``vector`` of.
HNSW_MAX_DIM = 2000

TABLE_LESSONS = "trajectory_key_lessons"

#: pg_advisory_xact_lock keys (any bigint; these spell "trajsch" and "trajidx").
_SCHEMA_LOCK = 0x7472616A736368
_INDEX_LOCK = 0x7472616A696478

_V1 = [
    "CREATE TABLE trajectories_schema_version (version integer NOT NULL)",
    """CREATE TABLE trajectories (
        id bigint PRIMARY KEY,
        uuid uuid NOT NULL,
        name text,
        session_id text,
        user_id text,
        request_type text,
        verdict text NOT NULL,
        quality double precision NOT NULL,
        started_at timestamptz NOT NULL,
        completed_at timestamptz NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        step_count integer NOT NULL,
        json text NOT NULL,
        embedding vector,
        dim integer NOT NULL
    )""",
    "CREATE INDEX trajectories_uuid ON trajectories (uuid)",
    "CREATE INDEX trajectories_started ON trajectories (started_at DESC, id DESC)",
    "CREATE INDEX trajectories_name ON trajectories (name)",
    "CREATE INDEX trajectories_session ON trajectories (session_id)",
    "CREATE INDEX trajectories_user ON trajectories (user_id)",
    "CREATE INDEX trajectories_verdict ON trajectories (verdict, quality)",
    """CREATE TABLE trajectory_step_actions (
        trajectory_id bigint NOT NULL REFERENCES trajectories (id) ON DELETE CASCADE,
        idx integer NOT NULL,
        action text NOT NULL,
        PRIMARY KEY (trajectory_id, idx)
    )""",
    "CREATE INDEX trajectory_step_actions_action ON trajectory_step_actions (action)",
    "CREATE TABLE trajectory_compressed (original_id bigint PRIMARY KEY, compressed_at timestamptz NOT NULL, json text NOT NULL)",
    "CREATE TABLE trajectory_key_lessons (content text PRIMARY KEY, score double precision NOT NULL, json text NOT NULL)",
]

#: MIGRATIONS[v] takes a database at version v to v + 1.
MIGRATIONS: dict[int, list[str]] = {
    # 2: the tally of spans that belonged to no trajectory, by reason (add_span_counts).
    1: ["CREATE TABLE IF NOT EXISTS trajectory_span_counts (reason text PRIMARY KEY, n bigint NOT NULL)"],
    # 3: credit of recalled memories (store/credit.py): totals per memory, each run's contribution,
    # and which lesson took the credit of one that distillation merged away.
    2: [
        "CREATE TABLE IF NOT EXISTS trajectory_memory_credit (kind text NOT NULL, id bigint NOT NULL, uses bigint NOT NULL,"
        " successes bigint NOT NULL, quality_sum double precision NOT NULL, PRIMARY KEY (kind, id))",
        "CREATE TABLE IF NOT EXISTS trajectory_credit_given (trajectory_id bigint PRIMARY KEY, success boolean NOT NULL,"
        " quality double precision NOT NULL, memories text NOT NULL)",
        "CREATE TABLE IF NOT EXISTS trajectory_lesson_alias (from_id bigint PRIMARY KEY, to_id bigint NOT NULL)",
    ],
}


def _ensure_extension(conn: _Conn) -> None:
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
        return
    try:
        with conn.transaction():  # a savepoint: the failure must not abort the schema transaction
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except (errors.InsufficientPrivilege, errors.FeatureNotSupported, errors.UndefinedFile) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            "the PostgreSQL database has no pgvector extension and this role may not create it "
            f"({detail}); have a superuser run: CREATE EXTENSION vector;"
        ) from None


def ensure_schema(conn: _Conn, where: str, *, create: bool = True) -> int:
    """Create or migrate the schema in one transaction under an advisory lock (so that two
    processes opening a fresh database at once do not collide); returns the version found.
    ``create=False``: a database without the tables is a StoreError, and nothing is created."""
    with conn.transaction():
        exists = conn.execute("SELECT to_regclass('trajectories_schema_version')").fetchone()
        if not create and (exists is None or exists[0] is None):
            raise StoreError(f"no trajectory store in {where} (it is not created by a command that only reads)")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        _ensure_extension(conn)
        exists = conn.execute("SELECT to_regclass('trajectories_schema_version')").fetchone()
        found = 0
        if exists is not None and exists[0] is not None:
            row = conn.execute("SELECT max(version) FROM trajectories_schema_version").fetchone()
            found = int(row[0]) if row is not None and row[0] is not None else 0
        if found > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"trajectory database {where} has schema version {found}, newer than this version of "
                f"trajectories understands ({SCHEMA_VERSION}); upgrade the package"
            )
        if found == SCHEMA_VERSION:
            return found
        if found == 0:
            for statement in _V1:
                conn.execute(statement)
            conn.execute("INSERT INTO trajectories_schema_version (version) VALUES (1)")
            version = 1
        else:
            version = found
        while version < SCHEMA_VERSION:
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            version += 1
            conn.execute("UPDATE trajectories_schema_version SET version = %s", (version,))
        return found


def indexed_dimensions(conn: _Conn) -> set[int]:
    rows = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'trajectories' AND indexname LIKE 'trajectories\\_hnsw\\_%%'"
    ).fetchall()
    out: set[int] = set()
    for (name,) in rows:
        tail = str(name).rsplit("_", 1)[-1]
        if tail.isdigit():
            out.add(int(tail))
    return out


def ensure_vector_index(conn: _Conn, dim: int, *, m: int = 16, ef_construction: int = 64) -> None:
    """Create the HNSW index for dimension *dim* unless it exists (serialised by an advisory
    lock: concurrent ``CREATE INDEX IF NOT EXISTS`` of one name can fail in PostgreSQL)."""
    if not 0 < dim <= HNSW_MAX_DIM:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INDEX_LOCK,))
        conn.execute(
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {name} ON trajectories USING hnsw ((embedding::vector({dim})) vector_cosine_ops)"
                " WITH (m = {m}, ef_construction = {efc}) WHERE dim = {dim}"
            ).format(
                name=sql.Identifier(f"trajectories_hnsw_{dim}"),
                dim=sql.Literal(dim),
                m=sql.Literal(m),
                efc=sql.Literal(ef_construction),
            )
        )
