"""Distillation (ruvllm's ``MemoryDistiller``): many trajectories into key lessons and compressed forms.

Rules from REASONINGBANK.md §5. Our decisions where the crate loses data: too few
trajectories is an error that changes nothing; trajectories that are not compressed (quality
below the threshold, or younger than ``min_age_seconds``) are kept as they are; compressed
ones are kept too unless the caller asks to prune them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from ..outcome import FailureVerdict, RecoveredVerdict, Verdict
from ..store.base import TrajectoryStore
from ..trajectory import Trajectory, TrajectoryId
from ..validate import Embedding, check_embedding, check_float, check_int
from .analyze import PatternCategory

__all__ = [
    "CompressedTrajectory",
    "DistillConfig",
    "DistillError",
    "DistillResult",
    "KeyLesson",
    "MemoryDistiller",
    "distill",
    "infer_category",
]

#: Progress callback: (done, total).
Progress = Callable[[int, int], None]


class DistillError(ValueError):
    """Distillation was not possible (too few trajectories); nothing was changed."""


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def infer_category(trajectory: Trajectory) -> PatternCategory:
    """The category distillation files a trajectory under (ruvllm's ``infer_category``)."""
    if isinstance(trajectory.verdict, RecoveredVerdict):
        return PatternCategory.Reflection
    if isinstance(trajectory.verdict, FailureVerdict):
        return PatternCategory.ErrorRecovery
    request = (trajectory.metadata.request_type or "").lower()
    if "code" in request:
        return PatternCategory.CodeGeneration
    if "research" in request:
        return PatternCategory.Research
    if trajectory.metadata.tools_invoked:
        return PatternCategory.ToolUse
    return PatternCategory.General


@dataclass(frozen=True, slots=True)
class DistillConfig:
    """Distillation settings; defaults are ruvllm's."""

    min_quality_threshold: float = 0.4
    max_lessons: int = 100
    min_trajectories: int = 100
    deduplicate_lessons: bool = True
    dedup_similarity_threshold: float = 0.85
    min_age_seconds: float = 86_400.0

    def __post_init__(self) -> None:
        check_float("min_quality_threshold", self.min_quality_threshold)
        check_int("max_lessons", self.max_lessons)
        check_int("min_trajectories", self.min_trajectories)
        if not isinstance(self.deduplicate_lessons, bool):
            raise TypeError(f"deduplicate_lessons must be a bool, got {self.deduplicate_lessons!r}")
        check_float("dedup_similarity_threshold", self.dedup_similarity_threshold)
        if check_float("min_age_seconds", self.min_age_seconds) < 0:
            raise ValueError(f"min_age_seconds must be >= 0, got {self.min_age_seconds!r}")


@dataclass(frozen=True, slots=True, eq=False)
class CompressedTrajectory:
    """What is left of a trajectory after distillation: no steps, its key facts and lessons."""

    original_id: int
    key_embedding: Embedding
    verdict: Verdict
    quality: float
    preserved_lessons: tuple[str, ...]
    action_summary: tuple[str, ...]
    original_timestamp: datetime
    compressed_at: datetime
    original_step_count: int
    category: PatternCategory

    @classmethod
    def from_trajectory(cls, trajectory: Trajectory, *, now: datetime | None = None) -> CompressedTrajectory:
        return cls(
            original_id=int(trajectory.id),
            key_embedding=trajectory.query_embedding,
            verdict=trajectory.verdict,
            quality=trajectory.quality,
            preserved_lessons=trajectory.lessons,
            action_summary=tuple(s.action for s in trajectory.steps if s.outcome.is_success)[:5],
            original_timestamp=trajectory.started_at,
            compressed_at=now or datetime.now(timezone.utc),
            original_step_count=len(trajectory.steps),
            category=infer_category(trajectory),
        )

    def to_trajectory(self) -> Trajectory:
        """ruvllm's ``from_compressed``: the original id, key embedding, verdict, quality and lessons,
        no steps; it keeps the original start time (our decision; Rust resets it)."""
        import uuid

        return Trajectory(
            id=TrajectoryId(self.original_id),
            uuid=uuid.uuid4(),
            query_embedding=self.key_embedding,
            response_embedding=None,
            steps=(),
            verdict=self.verdict,
            quality=self.quality,
            total_latency_ms=0,
            started_at=self.original_timestamp,
            completed_at=self.original_timestamp,
            lessons=self.preserved_lessons,
        )

    def to_dict(self) -> dict[str, Any]:
        from ..serde import to_dict

        return {
            "original_id": self.original_id,
            "key_embedding": [float(x) for x in self.key_embedding.tolist()],
            "verdict": to_dict(self.verdict),
            "quality": self.quality,
            "preserved_lessons": list(self.preserved_lessons),
            "action_summary": list(self.action_summary),
            "original_timestamp": _iso(self.original_timestamp),
            "compressed_at": _iso(self.compressed_at),
            "original_step_count": self.original_step_count,
            "category": self.category.name,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompressedTrajectory:
        from ..serde import from_dict

        return cls(
            original_id=int(data["original_id"]),
            key_embedding=check_embedding("key_embedding", data["key_embedding"]),
            verdict=from_dict(Verdict, data["verdict"]),  # type: ignore[type-abstract]
            quality=float(data["quality"]),
            preserved_lessons=tuple(data["preserved_lessons"]),
            action_summary=tuple(data["action_summary"]),
            original_timestamp=_parse_time(data["original_timestamp"]),
            compressed_at=_parse_time(data["compressed_at"]),
            original_step_count=int(data["original_step_count"]),
            category=PatternCategory.parse(data["category"]),
        )


@dataclass(frozen=True, slots=True, eq=False)
class KeyLesson:
    """A lesson distilled from one or more trajectories, with how often and how well it was seen."""

    content: str
    embedding: Embedding
    source_trajectory_ids: tuple[int, ...]
    observation_count: int
    category: PatternCategory
    importance: float
    success_rate: float
    avg_quality: float
    example_actions: tuple[str, ...]
    tags: tuple[str, ...]
    created_at: datetime
    last_observed: datetime

    @property
    def score(self) -> float:
        """Ranking score: importance × ln(1 + observations)."""
        return self.importance * math.log1p(self.observation_count)

    def to_dict(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "embedding": [float(x) for x in self.embedding.tolist()],
            "source_trajectory_ids": list(self.source_trajectory_ids),
            "observation_count": self.observation_count,
            "category": self.category.name,
            "importance": self.importance,
            "success_rate": self.success_rate,
            "avg_quality": self.avg_quality,
            "example_actions": list(self.example_actions),
            "tags": list(self.tags),
            "created_at": _iso(self.created_at),
            "last_observed": _iso(self.last_observed),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyLesson:
        return cls(
            content=str(data["content"]),
            embedding=check_embedding("embedding", data["embedding"]),
            source_trajectory_ids=tuple(int(i) for i in data["source_trajectory_ids"]),
            observation_count=int(data["observation_count"]),
            category=PatternCategory.parse(data["category"]),
            importance=float(data["importance"]),
            success_rate=float(data["success_rate"]),
            avg_quality=float(data["avg_quality"]),
            example_actions=tuple(data["example_actions"]),
            tags=tuple(data["tags"]),
            created_at=_parse_time(data["created_at"]),
            last_observed=_parse_time(data["last_observed"]),
        )


@dataclass(slots=True)
class _Lesson:
    """A lesson while it is being gathered (KeyLesson is frozen)."""

    content: str
    embedding: Embedding
    category: PatternCategory
    source_ids: list[int]
    success_rate: float
    avg_quality: float
    example_actions: list[str]
    tags: list[str]
    created_at: datetime
    last_observed: datetime
    importance: float = 0.5
    observations: int = 1

    @property
    def score(self) -> float:
        return self.importance * math.log1p(self.observations)

    def merge(self, other: _Lesson) -> None:
        self.observations += other.observations
        n = self.observations
        w1, w2 = (n - other.observations) / n, other.observations / n
        self.importance = self.importance * w1 + other.importance * w2
        self.success_rate = self.success_rate * w1 + other.success_rate * w2
        self.avg_quality = self.avg_quality * w1 + other.avg_quality * w2
        for i in other.source_ids:
            if i not in self.source_ids:
                self.source_ids.append(i)
        for a in other.example_actions:
            if a not in self.example_actions and len(self.example_actions) < 10:
                self.example_actions.append(a)
        self.last_observed = max(self.last_observed, other.last_observed)

    def freeze(self) -> KeyLesson:
        return KeyLesson(
            content=self.content,
            embedding=self.embedding,
            source_trajectory_ids=tuple(self.source_ids),
            observation_count=self.observations,
            category=self.category,
            importance=self.importance,
            success_rate=self.success_rate,
            avg_quality=self.avg_quality,
            example_actions=tuple(self.example_actions),
            tags=tuple(self.tags),
            created_at=self.created_at,
            last_observed=self.last_observed,
        )


def content_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the lower-cased whitespace-separated word sets."""
    wa, wb = set(a.lower().split()), set(b.lower().split())
    union = len(wa | wb)
    return 0.0 if union == 0 else len(wa & wb) / union


def embedding_similarity(a: Embedding, b: Embedding) -> float:
    """Cosine similarity; 0 when either is empty or zero or their dimensions differ."""
    if a.size == 0 or a.size != b.size:
        return 0.0
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b)) / (na * nb)


@dataclass(frozen=True, slots=True)
class DistillResult:
    """What a distillation produced, and what it left alone."""

    compressed: tuple[CompressedTrajectory, ...]
    key_lessons: tuple[KeyLesson, ...]
    trajectories_processed: int
    kept_ids: tuple[int, ...]
    pruned_ids: tuple[int, ...] = ()
    category_summary: dict[str, int] = field(default_factory=dict)
    processing_time_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "trajectories_processed": self.trajectories_processed,
            "compressed": len(self.compressed),
            "kept": len(self.kept_ids),
            "pruned": len(self.pruned_ids),
            "key_lessons": [
                {"content": k.content, "observations": k.observation_count, "importance": k.importance} for k in self.key_lessons
            ],
            "category_summary": dict(self.category_summary),
            "processing_time_ms": self.processing_time_ms,
        }


class MemoryDistiller:
    """Distils a batch of trajectories (pure: it reads them and returns a result)."""

    def __init__(self, config: DistillConfig | None = None) -> None:
        if config is not None and not isinstance(config, DistillConfig):
            raise TypeError(f"config must be a DistillConfig, got {type(config).__name__}: {config!r}")
        self.config = config or DistillConfig()

    def distill(
        self, trajectories: Sequence[Trajectory], *, now: datetime | None = None, progress: Progress | None = None
    ) -> DistillResult:
        start = time.monotonic()
        cfg = self.config
        now = now or datetime.now(timezone.utc)
        if len(trajectories) < cfg.min_trajectories:
            raise DistillError(
                f"need at least {cfg.min_trajectories} trajectories to distil, got {len(trajectories)}; nothing was changed"
            )
        compressed: list[CompressedTrajectory] = []
        kept: list[int] = []
        lessons: dict[str, _Lesson] = {}
        summary: dict[str, int] = {}
        total = len(trajectories)
        for n, t in enumerate(trajectories, 1):
            if t.quality >= cfg.min_quality_threshold:
                compressed.append(CompressedTrajectory.from_trajectory(t, now=now))
            else:
                kept.append(int(t.id))
            for lesson in self._lessons_of(t, now):
                existing = lessons.get(lesson.content)
                if existing is None:
                    lessons[lesson.content] = lesson
                else:
                    existing.merge(lesson)
            cat = str(infer_category(t))
            summary[cat] = summary.get(cat, 0) + 1
            if progress is not None and (n % 100 == 0 or n == total):
                progress(n, total)
        ranked = sorted(lessons.values(), key=lambda item: item.score, reverse=True)
        if cfg.deduplicate_lessons:
            ranked = self._deduplicate(ranked)
        ranked = ranked[: cfg.max_lessons]
        return DistillResult(
            compressed=tuple(compressed),
            key_lessons=tuple(item.freeze() for item in ranked),
            trajectories_processed=total,
            kept_ids=tuple(kept),
            category_summary=summary,
            processing_time_ms=int((time.monotonic() - start) * 1000),
        )

    def _lessons_of(self, t: Trajectory, now: datetime) -> Iterable[_Lesson]:
        def make(content: str, importance: float = 0.5) -> _Lesson:
            return _Lesson(
                content=content,
                embedding=t.query_embedding,
                category=infer_category(t),
                source_ids=[int(t.id)],
                success_rate=1.0 if t.is_success else 0.0,
                avg_quality=t.quality,
                example_actions=[s.action for s in t.steps if s.outcome.is_success][:3],
                tags=list(t.metadata.tags),
                created_at=now,
                last_observed=t.completed_at,
                importance=importance,
            )

        for content in t.lessons:
            yield make(content)
        if t.is_success:
            actions = [s.action for s in t.steps if s.outcome.is_success][:3]
            if actions:
                yield make("Successful pattern: " + " -> ".join(actions))
        if isinstance(t.verdict, FailureVerdict):
            yield make(f"Avoid: {t.verdict.cause}", 0.8)
        if isinstance(t.verdict, RecoveredVerdict):
            yield make(f"Recovery possible after {t.verdict.reflection_attempts} attempts via reflection", 0.9)

    def _deduplicate(self, lessons: list[_Lesson]) -> list[_Lesson]:
        """Drop near-duplicates (0.6 × word Jaccard + 0.4 × embedding cosine > threshold), merging
        each into the kept lesson whose words are most similar."""
        out: list[_Lesson] = []
        threshold = self.config.dedup_similarity_threshold
        for lesson in lessons:
            dup = any(
                0.6 * content_similarity(lesson.content, e.content) + 0.4 * embedding_similarity(lesson.embedding, e.embedding)
                > threshold
                for e in out
            )
            if not dup:
                out.append(lesson)
            else:
                best = max(out, key=lambda e: content_similarity(lesson.content, e.content))
                best.merge(lesson)
        return out


def distill(
    store: TrajectoryStore,
    config: DistillConfig | None = None,
    *,
    prune: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> DistillResult:
    """Distil the trajectories in *store* that are older than ``config.min_age_seconds``.

    Compressed trajectories and key lessons are saved in the store (key lessons replace the
    previous set). Nothing is lost: every original stays unless ``prune=True``, which deletes
    exactly the originals that were compressed, in the same transaction. Too few old
    trajectories raises :class:`DistillError` and leaves the store unchanged.
    """
    if not isinstance(store, TrajectoryStore):
        raise TypeError(f"store must be a TrajectoryStore, got {type(store).__name__}: {store!r}")
    if not isinstance(prune, bool):
        raise TypeError(f"prune must be a bool, got {prune!r}")
    distiller = MemoryDistiller(config)
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(seconds=distiller.config.min_age_seconds)
    candidates = [t for t in store.iter_all() if t.started_at <= cutoff]
    if len(candidates) < distiller.config.min_trajectories:
        raise DistillError(
            f"need at least {distiller.config.min_trajectories} trajectories older than "
            f"{distiller.config.min_age_seconds:g} s to distil, found {len(candidates)}; nothing was changed"
        )
    result = distiller.distill(candidates, now=now, progress=progress)
    pruned = tuple(c.original_id for c in result.compressed) if prune else ()
    store.save_distillation(result.compressed, result.key_lessons, prune_ids=pruned)
    return DistillResult(
        compressed=result.compressed,
        key_lessons=result.key_lessons,
        trajectories_processed=result.trajectories_processed,
        kept_ids=result.kept_ids,
        pruned_ids=pruned,
        category_summary=result.category_summary,
        processing_time_ms=result.processing_time_ms,
    )
