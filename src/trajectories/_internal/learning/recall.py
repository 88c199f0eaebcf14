"""What an agent calls before acting: the most similar past trajectories and their lessons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..store.base import SimilarHit, TrajectoryStore
from ..trajectory import Trajectory
from .analyze import analyze

__all__ = ["PastExperience", "Recall", "lessons_for"]


@dataclass(frozen=True, slots=True)
class PastExperience:
    """One similar past trajectory, how similar it is, and the lessons its analysis draws."""

    trajectory: Trajectory
    similarity: float
    lessons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recall:
    """The answer of :func:`lessons_for`: experiences best first, and their lessons merged
    (each lesson once, in the order of the experiences)."""

    experiences: tuple[PastExperience, ...]
    lessons: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.experiences)


def lessons_for(
    query: Any,
    k: int = 5,
    *,
    store: TrajectoryStore | None = None,
    min_quality: float | None = None,
    verdict: str | None = None,
) -> Recall:
    """The *k* past trajectories most similar to *query* (text or an embedding) and their lessons.

    Failures are included unless filtered out (``min_quality=``/``verdict=``): "Avoid: ..."
    lessons from a failed attempt are often the most useful. Without *store*, the default
    store (``open_store()``) is opened and closed again.
    """
    if store is None:
        from ..store.sqlite import SQLiteTrajectoryStore

        with SQLiteTrajectoryStore() as default_store:
            return _recall(default_store.similar(query, k, min_quality=min_quality, verdict=verdict))
    if not isinstance(store, TrajectoryStore):
        raise TypeError(f"store must be a TrajectoryStore, got {type(store).__name__}: {store!r}")
    return _recall(store.similar(query, k, min_quality=min_quality, verdict=verdict))


def _recall(hits: list[SimilarHit]) -> Recall:
    experiences = tuple(PastExperience(h.trajectory, h.similarity, analyze(h.trajectory).lessons) for h in hits)
    seen: dict[str, None] = {}
    for e in experiences:
        for lesson in e.lessons:
            seen.setdefault(lesson)
    return Recall(experiences, tuple(seen))
