"""What an agent calls before acting: the most similar past trajectories and their lessons."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from ..diagnostics import report_internal_error
from ..instrument.recall import record_recall
from ..model.lessons import KeyLesson, embedding_similarity
from ..model.recall import RecalledMemory, lesson_id
from ..model.trajectory import Trajectory
from ..store.base import SimilarHit, TrajectoryStore
from ..store.open import open_store
from ..validate import shown
from .analyze import analyze

__all__ = ["PastExperience", "Recall", "lessons_for"]

_logger = logging.getLogger(__name__)


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
    #: Distilled key lessons whose embedding is similar to the query (best first). They
    #: outlive pruned trajectories, so recall keeps working after ``distill --prune``.
    key_lessons: tuple[KeyLesson, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.experiences or self.key_lessons)


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
        with open_store() as default_store:
            return _recall(default_store, query, k, min_quality, verdict)
    if not isinstance(store, TrajectoryStore):
        raise TypeError(f"store must be a TrajectoryStore, got {type(store).__name__}: {shown(store)}")
    return _recall(store, query, k, min_quality, verdict)


def _recall(store: TrajectoryStore, query: Any, k: int, min_quality: float | None, verdict: str | None) -> Recall:
    start_ns = time.time_ns()
    vec = store.query_embedding(query)
    hits: list[SimilarHit] = store.similar(vec, k, min_quality=min_quality, verdict=verdict)
    experiences = tuple(PastExperience(h.trajectory, h.similarity, analyze(h.trajectory).lessons) for h in hits)
    seen: dict[str, None] = {}
    for e in experiences:
        for lesson in e.lessons:
            seen.setdefault(lesson)
    scored = [(embedding_similarity(vec, kl.embedding), kl) for kl in store.key_lessons()]
    best = sorted((item for item in scored if item[0] > 0.0), key=lambda item: item[0], reverse=True)[:k]
    result = Recall(experiences, tuple(seen), tuple(kl for _, kl in best))
    _record(result, best, query, k, min_quality, verdict, start_ns)
    return result


def _record(
    result: Recall,
    best: list[tuple[float, KeyLesson]],
    query: Any,
    k: int,
    min_quality: float | None,
    verdict: str | None,
    start_ns: int,
) -> None:
    """The memory-search span, and the memories credited to the current trajectory (if any). Never raises."""
    try:
        memories = [RecalledMemory("trajectory", int(e.trajectory.id), e.similarity) for e in result.experiences]
        memories += [RecalledMemory("lesson", lesson_id(kl.content), sim, kl.content) for sim, kl in best]
    except Exception:
        report_internal_error("listing what a recall returned", logger=_logger)
        return
    filters: dict[str, str | float] = {}
    if min_quality is not None:
        filters["min_quality"] = float(min_quality)
    if verdict is not None:
        filters["verdict"] = verdict
    record_recall(
        query_source="text" if isinstance(query, str) else "embedding",
        k=k,
        filters=filters,
        memories=memories,
        rank="similarity",
        query=query if isinstance(query, str) else None,
        start_ns=start_ns,
    )
