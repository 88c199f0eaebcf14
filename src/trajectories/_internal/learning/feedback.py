"""A verdict that arrives after the run (a user's thumbs-down, an evaluator's score), applied to the store."""

from __future__ import annotations

from datetime import datetime

from ..model.feedback import verdict_from_score
from ..model.trajectory import Trajectory
from ..model.verdict import Verdict
from ..store.base import TrajectoryStore
from ..store.open import open_store
from ..validate import check_id, shown

__all__ = ["feedback"]


def feedback(
    id: int,
    verdict: Verdict | float,
    *,
    store: TrajectoryStore | None = None,
    source: str = "api",
    at: datetime | None = None,
) -> Trajectory:
    """Give stored trajectory *id* a later *verdict* (or a score in [0, 1]: 1 success, 0 failure,
    between partial) and return it updated.

    Its quality is recomputed by ruvllm's formula, the verdict it replaces stays in
    ``metadata.attributes["verdict.history"]``, and the credit of what it recalled moves by the
    difference, all in one transaction (``TrajectoryStore.feedback``). Giving the same verdict
    again changes no credit. Without *store*, the default store is opened and closed again.
    """
    check_id("id", id)
    if not isinstance(verdict, Verdict):
        verdict = verdict_from_score(verdict)  # raises TypeError/ValueError naming the score
    if store is None:
        with open_store() as default_store:
            return default_store.feedback(id, verdict, source=source, at=at)
    if not isinstance(store, TrajectoryStore):
        raise TypeError(f"store must be a TrajectoryStore, got {type(store).__name__}: {shown(store)}")
    return store.feedback(id, verdict, source=source, at=at)
