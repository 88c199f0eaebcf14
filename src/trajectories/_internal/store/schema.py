"""The SQLite store's schema, row layout and connection plumbing (kept apart from its operations)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from ..model.trajectory import Trajectory
from .codec import embedding_to_blob, encode_json, to_db_id, to_micros, trajectory_name

__all__ = ["MIGRATIONS", "ROW_COLUMNS", "SCHEMA", "SCHEMA_VERSION", "Connection", "rollback", "row_for"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 4

#: The version-1 schema: every database starts from it, then MIGRATIONS take it to SCHEMA_VERSION.
SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS trajectories (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL,
    name TEXT,
    session_id TEXT,
    user_id TEXT,
    request_type TEXT,
    verdict TEXT NOT NULL,
    quality REAL NOT NULL,
    started_at INTEGER NOT NULL,
    completed_at INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    step_count INTEGER NOT NULL,
    json TEXT NOT NULL,
    embedding BLOB NOT NULL,
    dim INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trajectories_uuid ON trajectories (uuid);
CREATE INDEX IF NOT EXISTS trajectories_started ON trajectories (started_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS trajectories_name ON trajectories (name);
CREATE INDEX IF NOT EXISTS trajectories_session ON trajectories (session_id);
CREATE INDEX IF NOT EXISTS trajectories_user ON trajectories (user_id);
CREATE INDEX IF NOT EXISTS trajectories_seq ON trajectories (seq);
CREATE TABLE IF NOT EXISTS step_actions (
    trajectory_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    action TEXT NOT NULL,
    PRIMARY KEY (trajectory_id, idx)
);
CREATE TABLE IF NOT EXISTS tombstones (id INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_seq ON tombstones (seq);
CREATE TABLE IF NOT EXISTS compressed (original_id INTEGER PRIMARY KEY, compressed_at INTEGER NOT NULL, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS key_lessons (content TEXT PRIMARY KEY, score REAL NOT NULL, json TEXT NOT NULL);
"""

#: MIGRATIONS[v] takes a database at schema version v to v + 1 (run in the opening transaction).
MIGRATIONS: dict[int, list[str]] = {
    # 2: indexes for the verdict/quality filters and for stats()' most frequent actions.
    1: [
        "CREATE INDEX IF NOT EXISTS trajectories_verdict ON trajectories (verdict, quality)",
        "CREATE INDEX IF NOT EXISTS step_actions_action ON step_actions (action)",
    ],
    # 3: the tally of spans that belonged to no trajectory, by reason (add_span_counts).
    2: ["CREATE TABLE IF NOT EXISTS span_counts (reason TEXT PRIMARY KEY, n INTEGER NOT NULL)"],
    # 4: credit of recalled memories (store/credit.py): totals per memory, each run's contribution,
    # and which lesson took the credit of one that distillation merged away.
    3: [
        "CREATE TABLE IF NOT EXISTS memory_credit (kind TEXT NOT NULL, id INTEGER NOT NULL, uses INTEGER NOT NULL,"
        " successes INTEGER NOT NULL, quality_sum REAL NOT NULL, PRIMARY KEY (kind, id))",
        "CREATE TABLE IF NOT EXISTS credit_given (trajectory_id INTEGER PRIMARY KEY, success INTEGER NOT NULL,"
        " quality REAL NOT NULL, memories TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS lesson_alias (from_id INTEGER PRIMARY KEY, to_id INTEGER NOT NULL)",
    ],
}

ROW_COLUMNS = (
    "id, uuid, name, session_id, user_id, request_type, verdict, quality, started_at, completed_at,"
    " input_tokens, output_tokens, step_count, json, embedding, dim, seq"
)


def row_for(t: Trajectory) -> tuple[Any, ...]:
    emb = t.query_embedding
    return (
        to_db_id(int(t.id)),
        str(t.uuid),
        trajectory_name(t),
        t.metadata.session_id,
        t.metadata.user_id,
        t.metadata.request_type,
        t.verdict.kind,
        float(t.quality),
        to_micros(t.started_at),
        to_micros(t.completed_at),
        t.metadata.total_input_tokens,
        t.metadata.total_output_tokens,
        len(t.steps),
        encode_json(t),
        embedding_to_blob(emb),
        int(emb.size),
    )


class Connection:
    """One thread's connection. The thread-local holds the only strong reference, so when
    the thread ends the holder is collected and the connection closed: short-lived threads
    do not pile up open connections. (sqlite3.Connection itself cannot be weakly referenced.)"""

    __slots__ = ("__weakref__", "conn", "file_id")

    def __init__(self, conn: sqlite3.Connection, file_id: tuple[int, int] | None = None) -> None:
        self.conn = conn
        #: (device, inode) of the database file when the connection opened it.
        self.file_id = file_id

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error:  # pragma: no cover - closing twice, or mid-statement in another thread
            logger.debug("error closing a SQLite connection", exc_info=True)

    def __del__(self) -> None:
        self.close()


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back without hiding the error that caused it (ROLLBACK fails if SQLite already did)."""
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        logger.debug("ROLLBACK failed", exc_info=True)
