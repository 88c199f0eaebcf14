"""What distillation produces: compressed trajectories and key lessons, and how lessons are compared.

Part of the model (the store keeps them, learning makes them), so that neither the store nor
the learning code has to import the other.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..validate import Embedding, check_embedding
from .category import PatternCategory
from .recall import lesson_id
from .serde import from_dict, to_dict
from .trajectory import Trajectory, TrajectoryId
from .verdict import FailureVerdict, RecoveredVerdict, Verdict

__all__ = [
    "CompressedTrajectory",
    "KeyLesson",
    "LessonDraft",
    "content_similarity",
    "embedding_similarity",
    "infer_category",
]


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
    #: Ids of the lessons distillation merged into this one (their recall credit moved here).
    merged_from: tuple[int, ...] = ()

    @property
    def id(self) -> int:
        """The lesson's stable id (:func:`lesson_id` of its text): what recall and credit name it by."""
        return lesson_id(self.content)

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
            **({"merged_from": list(self.merged_from)} if self.merged_from else {}),
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
            merged_from=tuple(int(i) for i in data.get("merged_from", ())),
        )


@dataclass(slots=True)
class LessonDraft:
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
    #: Texts of other lessons merged into this one (distillation's deduplication).
    merged: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return self.importance * math.log1p(self.observations)

    def merge(self, other: LessonDraft) -> None:
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
        for content in (other.content, *other.merged):
            if content != self.content and content not in self.merged:
                self.merged.append(content)

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
            merged_from=tuple(lesson_id(c) for c in self.merged),
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
