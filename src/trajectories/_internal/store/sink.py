"""The exporter sink that writes assembled trajectories into a store."""

from __future__ import annotations

from collections.abc import Sequence

from ..export.late import LateVerdict
from ..model.feedback import verdict_history
from ..model.trajectory import Trajectory
from ..validate import shown
from .base import TrajectoryStore

__all__ = ["StoreSink"]


class StoreSink:
    """The exporter sink that writes each trajectory into *store* (``TrajectoryExporter([StoreSink(store)])``).

    ``send`` raises when the write fails: the exporter counts and logs a failing sink and
    retries the trajectory or writes it to its dead-letter file, so nothing is lost silently.
    Re-delivery is harmless because adding is idempotent on the trajectory id. The store
    belongs to the caller: ``close()`` does not close it.
    """

    __slots__ = ("store",)

    name = "store"

    def __init__(self, store: TrajectoryStore) -> None:
        if not isinstance(store, TrajectoryStore):
            raise TypeError(f"store must be a TrajectoryStore, got {type(store).__name__}: {shown(store)}")
        self.store = store

    def send(self, trajectory: Trajectory) -> None:
        self.store.add(trajectory)

    def send_many(self, trajectories: Sequence[Trajectory]) -> None:
        """Write a batch in one transaction (for callers that have one)."""
        self.store.add_many(trajectories)

    def send_feedback(self, late: LateVerdict) -> None:
        """Apply a late verdict (an evaluation result that arrived after its trajectory) with the
        store's ``feedback``: the trajectory is found by its id when the span carried one, else by
        its uuid (the trace id). Raises :class:`TrajectoryNotFoundError` when it is not stored (the
        exporter retries, then counts it), and whatever the store raises when it fails. The same
        verdict from the same source again (a re-sent span) changes nothing."""
        store = self.store
        t = store.get(late.trajectory_id) if late.trajectory_id is not None else store.get_by_uuid(late.uuid)
        history = verdict_history(t)
        if t.verdict == late.verdict and history and history[-1].get("source") == late.source:
            return
        store.feedback(int(t.id), late.verdict, source=late.source, at=late.at)

    def flush(self) -> None:
        """Nothing is buffered: every ``send`` is committed before it returns."""

    def close(self) -> None:
        """The store belongs to the caller, who closes it."""

    def __repr__(self) -> str:
        return f"StoreSink({self.store!r})"
