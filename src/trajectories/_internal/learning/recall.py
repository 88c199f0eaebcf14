"""What an agent calls before acting: the most similar past trajectories and their lessons,
ranked by similarity and by how runs that recalled them went (learning/effect.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from ..diagnostics import report_internal_error
from ..instrument.recall import record_recall
from ..model.lessons import KeyLesson, embedding_similarity
from ..model.recall import RecalledMemory
from ..model.trajectory import Trajectory
from ..store.base import SimilarHit, TrajectoryStore
from ..store.credit import BASE_KEY, MemoryCredit, MemoryKey
from ..store.open import open_store
from ..validate import check_count, shown
from .analyze import analyze
from .effect import RANKS, Effect, Rank, base_rate, measure

__all__ = ["PastExperience", "PastLesson", "Recall", "lessons_for"]

_logger = logging.getLogger(__name__)

#: With effect ranking, this many candidates per wanted hit compete (at least ``k + 16``).
CANDIDATES_PER_HIT = 4


class _Measured:
    __slots__ = ()
    measure: Effect | None
    similarity: float

    @property
    def uses(self) -> int:
        """How many stored runs recalled this memory."""
        return self.measure.uses if self.measure is not None else 0

    @property
    def successes(self) -> int:
        """How many of those runs succeeded."""
        return self.measure.successes if self.measure is not None else 0

    @property
    def mean_quality(self) -> float | None:
        """Mean quality of those runs (None if none)."""
        return self.measure.mean_quality if self.measure is not None else None

    @property
    def effect(self) -> float:
        """Smoothed success rate when recalled minus the base rate (0 for a memory never used)."""
        return self.measure.effect if self.measure is not None else 0.0

    @property
    def score(self) -> float:
        """The ranking score (the similarity under ``rank="similarity"``)."""
        return self.measure.score if self.measure is not None else self.similarity


@dataclass(frozen=True, slots=True)
class PastExperience(_Measured):
    """One similar past trajectory, how similar it is, the lessons its analysis draws, and how
    the runs that recalled it before went (``uses``, ``successes``, ``mean_quality``, ``effect``)."""

    trajectory: Trajectory
    similarity: float
    lessons: tuple[str, ...]
    measure: Effect | None = None


@dataclass(frozen=True, slots=True)
class PastLesson(_Measured):
    """One distilled key lesson similar to the query, and how the runs that recalled it went."""

    lesson: KeyLesson
    similarity: float
    measure: Effect | None = None


@dataclass(frozen=True, slots=True)
class Recall:
    """The answer of :func:`lessons_for`: experiences best first, and their lessons merged
    (each lesson once, in the order of the experiences)."""

    experiences: tuple[PastExperience, ...]
    lessons: tuple[str, ...]
    #: Distilled key lessons similar to the query (best first), with their record. They outlive
    #: pruned trajectories, so recall keeps working after ``distill --prune``.
    past_lessons: tuple[PastLesson, ...] = ()
    #: The base rate the effects are measured against (success rate of runs that recalled anything).
    base_rate: float = 0.5

    @property
    def key_lessons(self) -> tuple[KeyLesson, ...]:
        """The key lessons of :attr:`past_lessons`, best first."""
        return tuple(p.lesson for p in self.past_lessons)

    @property
    def memories(self) -> tuple[RecalledMemory, ...]:
        """What this recall gave, as the references a trajectory keeps (``metadata.attributes["recalled"]``)."""
        out = [RecalledMemory("trajectory", int(e.trajectory.id), e.similarity) for e in self.experiences]
        out += [RecalledMemory("lesson", p.lesson.id, p.similarity, p.lesson.content) for p in self.past_lessons]
        return tuple(out)

    def __bool__(self) -> bool:
        return bool(self.experiences or self.past_lessons)


def lessons_for(
    query: Any,
    k: int = 5,
    *,
    store: TrajectoryStore | None = None,
    min_quality: float | None = None,
    verdict: str | None = None,
    rank: Rank = "effect",
) -> Recall:
    """The *k* past trajectories most worth recalling for *query* (text or an embedding), their
    lessons, and the *k* best key lessons.

    ``rank="effect"`` (the default) orders by similarity weighted by each memory's measured
    effect: how the stored runs that recalled it went, smoothed toward the base rate (see
    docs/store.md, "The learning loop"); with no feedback yet that is the similarity order.
    ``rank="similarity"`` orders by similarity alone. Failures are included unless filtered out
    (``min_quality=``/``verdict=``): "Avoid: ..." lessons from a failed attempt are often the most
    useful. Without *store*, the default store (``open_store()``) is opened and closed again.

    Inside a trajectory, the recall is recorded (a memory-search span) and the trajectory keeps
    what it was given, so that its outcome credits them when it is stored.
    """
    k = check_count("k", k)
    if rank not in RANKS:
        raise ValueError(f"rank must be one of {', '.join(RANKS)}, got {shown(rank)}")
    if store is None:
        with open_store() as default_store:
            return _recall(default_store, query, k, min_quality, verdict, rank)
    if not isinstance(store, TrajectoryStore):
        raise TypeError(f"store must be a TrajectoryStore, got {type(store).__name__}: {shown(store)}")
    return _recall(store, query, k, min_quality, verdict, rank)


def _recall(store: TrajectoryStore, query: Any, k: int, min_quality: float | None, verdict: str | None, rank: Rank) -> Recall:
    start_ns = time.time_ns()
    vec = store.query_embedding(query)
    pool = k if rank == "similarity" else max(k * CANDIDATES_PER_HIT, k + 16)
    hits: list[SimilarHit] = store.similar(vec, pool, min_quality=min_quality, verdict=verdict)
    scored_lessons = [(embedding_similarity(vec, kl.embedding), kl) for kl in store.key_lessons()]
    candidates = sorted((item for item in scored_lessons if item[0] > 0.0), key=lambda item: item[0], reverse=True)[:pool]
    credit: dict[MemoryKey, MemoryCredit] = {}
    p0 = 0.5
    if rank == "effect" and (hits or candidates):
        keys = [("trajectory", h.id) for h in hits] + [("lesson", kl.id) for _, kl in candidates] + [BASE_KEY]
        credit = store.memory_credit(keys)
        p0 = base_rate(credit.get(BASE_KEY, MemoryCredit()))
    measured = [(h, measure(h.similarity, credit.get(("trajectory", h.id)), p0, rank)) for h in hits]
    measured.sort(key=lambda item: item[1].score, reverse=True)
    experiences = tuple(PastExperience(h.trajectory, h.similarity, analyze(h.trajectory).lessons, m) for h, m in measured[:k])
    seen: dict[str, None] = {}
    for e in experiences:
        for lesson in e.lessons:
            seen.setdefault(lesson)
    lessons = [PastLesson(kl, sim, measure(sim, credit.get(("lesson", kl.id)), p0, rank)) for sim, kl in candidates]
    lessons.sort(key=lambda p: p.score, reverse=True)
    result = Recall(experiences, tuple(seen), tuple(lessons[:k]), p0)
    _record(result, query, k, min_quality, verdict, rank, start_ns)
    return result


def _record(
    result: Recall, query: Any, k: int, min_quality: float | None, verdict: str | None, rank: Rank, start_ns: int
) -> None:
    """The memory-search span, and what the current trajectory (if any) was given. Never raises."""
    try:
        memories = result.memories
    except Exception:
        report_internal_error("listing what a recall returned", logger=_logger)
        return
    filters: dict[str, str | float] = {}
    if min_quality is not None:
        filters["min_quality"] = min_quality
    if verdict is not None:
        filters["verdict"] = verdict
    record_recall(
        query_source="text" if isinstance(query, str) else "embedding",
        k=k,
        filters=filters,
        memories=memories,
        rank=rank,
        query=query if isinstance(query, str) else None,
        start_ns=start_ns,
    )
