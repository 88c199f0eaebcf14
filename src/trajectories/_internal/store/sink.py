"""The exporter sink that writes assembled trajectories into a store."""

from __future__ import annotations

from collections.abc import Sequence

from ..trajectory import Trajectory
from .base import TrajectoryStore

__all__ = ["StoreSink"]


class StoreSink:
    """Writes each batch the exporter delivers into *store*, in one transaction.

    It raises when the write fails: the exporter counts and logs a failing sink and retries
    or dead-letters its trajectories, so nothing is lost silently. Re-delivery is harmless
    because adding is idempotent on the trajectory id.
    """

    __slots__ = ("store",)

    def __init__(self, store: TrajectoryStore) -> None:
        if not isinstance(store, TrajectoryStore):
            raise TypeError(f"store must be a TrajectoryStore, got {type(store).__name__}: {store!r}")
        self.store = store

    def __call__(self, trajectories: Sequence[Trajectory]) -> None:
        self.store.add_many(trajectories)

    def deliver(self, trajectories: Sequence[Trajectory]) -> None:
        self.store.add_many(trajectories)

    def close(self) -> None:
        """Nothing to release: the store belongs to the caller, who closes it."""

    def __repr__(self) -> str:
        return f"StoreSink({self.store!r})"
