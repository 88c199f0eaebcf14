"""Keep trajectories and find them again: SQLite by default, cosine similarity over query embeddings.

See docs/store.md. ``open_store()`` opens the embedded default (``./trajectories.db``, or
``$TRAJECTORIES_DB``); every backend implements :class:`TrajectoryStore`.
"""

from __future__ import annotations

import os

from ._internal.embedding import Embedder
from ._internal.store.base import (
    DEFAULT_DB_PATH,
    ENV_DB,
    CorruptTrajectoryError,
    SimilarHit,
    StoreError,
    StoreStats,
    TrajectoryFilter,
    TrajectoryNotFoundError,
    TrajectoryStore,
)
from ._internal.store.overview import GroupStat, ModelTokens, StoreOverview, TimeBucket
from ._internal.store.sink import StoreSink
from ._internal.store.sqlite import SQLiteTrajectoryStore

__all__ = [
    "DEFAULT_DB_PATH",
    "ENV_DB",
    "CorruptTrajectoryError",
    "GroupStat",
    "ModelTokens",
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
    "open_store",
]


def open_store(
    path: str | os.PathLike[str] | None = None, *, embedder: Embedder | None = None, create: bool = True
) -> TrajectoryStore:
    """Open (creating if needed) the store at *path*, else ``$TRAJECTORIES_DB``, else ``./trajectories.db``.

    ``create=False`` opens only an existing store (:class:`StoreError` if there is none)."""
    return SQLiteTrajectoryStore(path, embedder=embedder, create=create)
