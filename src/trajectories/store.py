"""Keep trajectories and find them again: SQLite by default, cosine similarity over query embeddings.

See docs/store.md. ``open_store()`` opens the embedded default (``./trajectories.db``, or
``$TRAJECTORIES_DB``); every backend implements :class:`TrajectoryStore`.
"""

from __future__ import annotations

from ._internal.exceptions import CorruptTrajectoryError, StoreError, TrajectoryNotFoundError
from ._internal.store.base import DEFAULT_DB_PATH, ENV_DB, SimilarHit, StoreStats, TrajectoryFilter, TrajectoryStore
from ._internal.store.open import open_store
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
