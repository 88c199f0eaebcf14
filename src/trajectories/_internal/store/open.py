"""Open the store a location names: a ``postgresql://`` URL, else a SQLite file path."""

from __future__ import annotations

import os

from ..embedding import Embedder
from ..exceptions import StoreError
from .base import TrajectoryStore, resolve_db_path
from .sqlite import SQLiteTrajectoryStore
from .url import is_postgres_url

__all__ = ["open_store"]


def open_store(
    path: str | os.PathLike[str] | None = None, *, embedder: Embedder | None = None, create: bool = True
) -> TrajectoryStore:
    """Open (creating if needed) the store at *path*, else ``$TRAJECTORIES_DB``, else ``./trajectories.db``.

    ``postgresql://user:password@host/db`` (or ``postgres://``) opens the PostgreSQL store
    (needs ``pip install 'trajectories[postgres]'``); anything else is a SQLite file.
    ``create=False`` opens only an existing store (:class:`StoreError` if there is none).
    """
    location = resolve_db_path(path)
    if is_postgres_url(location):
        try:
            from .postgres import PostgresTrajectoryStore
        except ImportError as exc:
            raise StoreError(
                f"a postgresql:// store needs the postgres extra: pip install 'trajectories[postgres]' ({exc.name} is missing)"
            ) from None
        return PostgresTrajectoryStore(location, embedder=embedder, create=create)
    return SQLiteTrajectoryStore(location, embedder=embedder, create=create)
