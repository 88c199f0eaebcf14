"""Loading many trajectories at once: a new dimension's HNSW index built once, after the load.

``add_many`` on the PostgreSQL store keeps the HNSW index of each embedding dimension up to date
row by row (a few hundred rows/s), which is right for ``serve`` but slow for a back-fill:
building the index once over all rows is several times faster. :func:`bulk_load` writes
through the store's own ``add_many`` (the same rows, upserts and transactions) but, for a
dimension that has no index yet, creates none until the load ends; then it builds it (with
``maintenance_work_mem`` if given) and runs ``ANALYZE``. A dimension that already has an index
keeps it and is updated row by row (drop it first to rebuild it: ``DROP INDEX
trajectories_hnsw_384``). The SQLite store has nothing to defer (its index is each reader's
in-memory matrix): there ``bulk_load`` is ``add_many``.

While the load runs, ``similar()`` over a deferred dimension is exact and unindexed (correct,
slower on a large table); the index build itself holds a lock that makes other writers wait.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from ..exceptions import StoreError
from ..model.trajectory import Trajectory
from ..validate import shown
from .base import TrajectoryStore

__all__ = ["BulkLoad", "bulk_load"]

logger = logging.getLogger(__name__)

_MEMORY = re.compile(r"[1-9][0-9]*\s*(kB|MB|GB|TB)?")


def _postgres_store(store: TrajectoryStore) -> Any:
    """*store* if it is a PostgresTrajectoryStore, else None (without importing psycopg for SQLite)."""
    try:
        from .postgres import PostgresTrajectoryStore
    except ImportError:  # no postgres extra: it cannot be one
        return None
    return store if isinstance(store, PostgresTrajectoryStore) else None


class BulkLoad:
    """What :func:`bulk_load` returns: call :meth:`add_many` for each batch, then leave the ``with``
    block (or call :meth:`finish`) to build the deferred indexes. ``built`` maps each dimension
    whose index was built to the seconds it took; ``kept`` holds the dimensions that already had one."""

    def __init__(self, store: TrajectoryStore, *, maintenance_work_mem: str | None = None) -> None:
        if not isinstance(store, TrajectoryStore):
            raise TypeError(f"store must be a TrajectoryStore, got {type(store).__name__}: {shown(store)}")
        if maintenance_work_mem is not None and (
            not isinstance(maintenance_work_mem, str) or not _MEMORY.fullmatch(maintenance_work_mem.strip())
        ):
            raise ValueError(
                "maintenance_work_mem must be a PostgreSQL memory size such as '2GB' or '512MB', "
                f"got {shown(maintenance_work_mem)}"
            )
        self.store = store
        self.maintenance_work_mem = maintenance_work_mem.strip() if maintenance_work_mem else None
        self.built: dict[int, float] = {}
        self.kept: set[int] = set()
        self._pg = _postgres_store(store)
        self._deferred: set[int] = set()
        self._finished = False

    def add_many(self, trajectories: Iterable[Trajectory]) -> int:
        """``store.add_many(trajectories)``; on PostgreSQL, a dimension without an index gets none yet."""
        if self._finished:
            raise StoreError("this bulk load is finished; start another with bulk_load(store)")
        if self._pg is None:
            return self.store.add_many(trajectories)
        if isinstance(trajectories, Trajectory):
            raise TypeError("trajectories must be an iterable of Trajectory; use add() for one")
        batch = list(trajectories)
        from .postgres import _embedding_param
        from .postgres_schema import HNSW_MAX_DIM

        pg = self._pg
        with pg._lock:
            for t in batch:
                if not isinstance(t, Trajectory):
                    continue  # add_many raises the TypeError that names it
                dim = _embedding_param(t)[1]
                if not 0 < dim <= HNSW_MAX_DIM or dim in self._deferred:
                    continue
                if dim in pg._dims:
                    self.kept.add(dim)
                else:  # the store then believes the index exists and does not create it
                    self._deferred.add(dim)
                    pg._dims.add(dim)
        return self.store.add_many(batch)

    def finish(self) -> dict[int, float]:
        """Build the deferred indexes (once; later calls return ``built``)."""
        if self._finished:
            return self.built
        self._finished = True
        if self._pg is None or not self._deferred:
            return self.built
        import psycopg

        from .postgres_schema import ensure_vector_index

        pg = self._pg
        pending = sorted(self._deferred)
        try:
            with psycopg.connect(pg._dsn, **pg._connect_kwargs) as conn:  # its own: the settings die with it
                if self.maintenance_work_mem:
                    conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (self.maintenance_work_mem,))
                for dim in pending:
                    t = time.perf_counter()
                    ensure_vector_index(conn, dim)
                    self.built[dim] = time.perf_counter() - t
                    logger.info("built the HNSW index of dimension %d in %.1f s", dim, self.built[dim])
                conn.execute("ANALYZE trajectories")
        except psycopg.Error as exc:
            with pg._lock:  # a later add_many creates what is missing
                pg._dims.difference_update(d for d in pending if d not in self.built)
            raise StoreError(f"index trajectory database {pg.url} failed: {pg._describe(exc)}") from None
        return self.built

    def __enter__(self) -> BulkLoad:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None:
            self.finish()
            return
        try:  # what was written is committed: index it anyway, but let the original error through
            self.finish()
        except StoreError as failure:
            logger.warning("after a failed bulk load, the deferred HNSW indexes could not be built: %s", failure)


def bulk_load(store: TrajectoryStore, *, maintenance_work_mem: str | None = None) -> BulkLoad:
    """Load many trajectories into *store*, building a new embedding dimension's HNSW index once at the end::

        with bulk_load(store, maintenance_work_mem="2GB") as load:
            for batch in batches:
                load.add_many(batch)
        print(load.built)  # {384: 41.2}: dimension -> seconds building its index

    Same rows and semantics as ``store.add_many`` (each call one transaction; adding a trajectory
    again replaces it). *maintenance_work_mem* is PostgreSQL's memory for the index build, for
    this build only (the graph of 1M × 384 needs about 2 GB to build fast); ignored by SQLite.
    """
    return BulkLoad(store, maintenance_work_mem=maintenance_work_mem)
