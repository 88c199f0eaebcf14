"""``open_store``: the store a path (or, later, a URL) names, opened with the right backend."""

from __future__ import annotations

import os

from ..embedding import Embedder
from .base import TrajectoryStore
from .sqlite import SQLiteTrajectoryStore

__all__ = ["open_store"]


def open_store(
    path: str | os.PathLike[str] | None = None, *, embedder: Embedder | None = None, create: bool = True
) -> TrajectoryStore:
    """Open (creating if needed) the store at *path*, else ``$TRAJECTORIES_DB``, else ``./trajectories.db``.

    ``create=False`` opens only an existing store (:class:`StoreError` if there is none)."""
    return SQLiteTrajectoryStore(path, embedder=embedder, create=create)
