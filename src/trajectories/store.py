"""Keep trajectories and find them again: SQLite by default, PostgreSQL + pgvector for many machines.

See docs/store.md. ``open_store()`` opens the embedded default (``./trajectories.db``, or
``$TRAJECTORIES_DB``), or a ``postgresql://`` URL; every backend implements :class:`TrajectoryStore`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._internal.exceptions import CorruptTrajectoryError, StoreError, TrajectoryNotFoundError
from ._internal.store.base import DEFAULT_DB_PATH, ENV_DB, SimilarHit, StoreStats, TrajectoryFilter, TrajectoryStore
from ._internal.store.bulk import BulkLoad, bulk_load
from ._internal.store.credit import BASE_KEY, MemoryCredit, MemoryKey
from ._internal.store.open import open_store
from ._internal.store.overview import GroupStat, ModelTokens, StoreOverview, TimeBucket
from ._internal.store.sink import StoreSink
from ._internal.store.sqlite import SQLiteTrajectoryStore
from ._internal.store.url import redact_url

if TYPE_CHECKING:
    from ._internal.store.postgres import PostgresTrajectoryStore

__all__ = [
    "BASE_KEY",
    "DEFAULT_DB_PATH",
    "ENV_DB",
    "BulkLoad",
    "CorruptTrajectoryError",
    "GroupStat",
    "MemoryCredit",
    "MemoryKey",
    "ModelTokens",
    "PostgresTrajectoryStore",
    "SQLiteTrajectoryStore",
    "SimilarHit",
    "StoreError",
    "StoreOverview",
    "StoreSink",
    "StoreStats",
    "TimeBucket",
    "TrajectoryFilter",
    "TrajectoryNotFoundError",
    "TrajectoryStore",
    "bulk_load",
    "open_store",
    "redact_url",
]


def __getattr__(name: str) -> Any:
    """``PostgresTrajectoryStore`` is imported on first use: it needs the postgres extra (psycopg, pgvector)."""
    if name == "PostgresTrajectoryStore":
        from ._internal.store.postgres import PostgresTrajectoryStore

        return PostgresTrajectoryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
