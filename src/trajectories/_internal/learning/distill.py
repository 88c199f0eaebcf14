"""Distillation (ruvllm's ``MemoryDistiller``): many trajectories into key lessons and compressed forms.

Rules from REASONINGBANK.md §5. Our decisions where the crate loses data: too few
trajectories is an error that changes nothing; trajectories that are not compressed (quality
below the threshold, or younger than ``min_age_seconds``) are kept as they are; compressed
ones are kept too unless the caller asks to prune them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..exceptions import DistillError
from ..model.lessons import (
    CompressedTrajectory,
    KeyLesson,
    LessonDraft,
    content_similarity,
    embedding_similarity,
    infer_category,
)
from ..model.trajectory import Trajectory
from ..model.verdict import FailureVerdict, RecoveredVerdict
from ..store.base import TrajectoryStore
from ..validate import check_float, check_int, shown

__all__ = ["DistillConfig", "DistillError", "DistillResult", "MemoryDistiller", "distill"]

#: Progress callback: (done, total).
Progress = Callable[[int, int], None]


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
            raise TypeError(f"deduplicate_lessons must be a bool, got {shown(self.deduplicate_lessons)}")
        check_float("dedup_similarity_threshold", self.dedup_similarity_threshold)
        if check_float("min_age_seconds", self.min_age_seconds) < 0:
            raise ValueError(f"min_age_seconds must be >= 0, got {shown(self.min_age_seconds)}")


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
            raise TypeError(f"config must be a DistillConfig, got {type(config).__name__}: {shown(config)}")
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
        lessons: dict[str, LessonDraft] = {}
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

    def _lessons_of(self, t: Trajectory, now: datetime) -> Iterable[LessonDraft]:
        def make(content: str, importance: float = 0.5) -> LessonDraft:
            return LessonDraft(
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

    def _deduplicate(self, lessons: list[LessonDraft]) -> list[LessonDraft]:
        """Drop near-duplicates (0.6 × word Jaccard + 0.4 × embedding cosine > threshold), merging
        each into the kept lesson whose words are most similar."""
        out: list[LessonDraft] = []
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
        raise TypeError(f"store must be a TrajectoryStore, got {type(store).__name__}: {shown(store)}")
    if not isinstance(prune, bool):
        raise TypeError(f"prune must be a bool, got {shown(prune)}")
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
