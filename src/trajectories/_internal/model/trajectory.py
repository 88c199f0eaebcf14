"""Trajectory, its steps and metadata, and ruvllm's quality formula (in float32)."""

from __future__ import annotations

import random
import struct
import uuid as uuid_mod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import numpy as np

from ..validate import (
    Embedding,
    check_embedding,
    check_f32,
    check_int,
    check_opt_embedding,
    check_opt_int,
    check_opt_str,
    check_str,
    check_str_map,
    check_str_seq,
    check_unit,
    embeddings_equal,
    f32,
    shown,
)
from .constants import EMPTY_EMBEDDING, U64_MAX
from .jsonable import JSONSerializable
from .outcome import StepOutcome, SuccessOutcome
from .verdict import PartialVerdict, RecoveredVerdict, SuccessVerdict, Verdict

__all__ = [
    "ScoredStep",
    "StepMetadata",
    "Trajectory",
    "TrajectoryId",
    "TrajectoryMetadata",
    "TrajectoryStep",
    "compute_quality",
    "new_trajectory_id",
]


class TrajectoryId(int):
    """An unsigned 64-bit trajectory id; ``str()`` shows it as ``traj-{n}`` like ruvllm."""

    __slots__ = ()

    def __new__(cls, value: int) -> TrajectoryId:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"TrajectoryId must be an int, got {type(value).__name__}: {shown(value)}")
        if not 0 <= value <= U64_MAX:
            raise ValueError(f"TrajectoryId must be an unsigned 64-bit integer, got {shown(value)}")
        return super().__new__(cls, value)

    @classmethod
    def _trusted(cls, value: int) -> TrajectoryId:
        """Internal: an id from an int already known to be in a u64's range, its checks skipped."""
        return int.__new__(cls, value)

    def __str__(self) -> str:
        return f"traj-{int(self)}"

    def __repr__(self) -> str:
        return f"TrajectoryId({int(self)})"


def new_trajectory_id() -> TrajectoryId:
    """A random 63-bit id: unique across processes, and fits OTLP's signed integers."""
    return TrajectoryId(random.getrandbits(63))


def _check_time(name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}: {shown(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {shown(value)}")
    return value.astimezone(timezone.utc)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


#: ``object.__setattr__`` (frozen classes' fields are set through it); called directly where a
#: Python-level helper per field would cost more than the assignment.
_setattr = object.__setattr__


@dataclass(frozen=True, slots=True, eq=True)
class StepMetadata(JSONSerializable):
    """Optional facts about a step: tool, tokens, model, tags, free-form attributes."""

    tool_used: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    tags: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)

    __hash__ = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        check_opt_str("StepMetadata.tool_used", self.tool_used)
        check_opt_int("StepMetadata.input_tokens", self.input_tokens)
        check_opt_int("StepMetadata.output_tokens", self.output_tokens)
        check_opt_str("StepMetadata.model", self.model)
        _set(self, "tags", check_str_seq("StepMetadata.tags", self.tags))
        _set(self, "attributes", check_str_map("StepMetadata.attributes", self.attributes))

    @classmethod
    def _trusted(
        cls,
        *,
        tool_used: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        model: str | None,
        tags: tuple[str, ...],
        attributes: dict[str, str],
    ) -> StepMetadata:
        """Internal: metadata from values that already hold every invariant ``__post_init__`` checks
        (strings, ints in a u64's range, a tuple of str, a dict of str to str the caller made),
        skipping the checks. The span assembly and the instrumentation build theirs from values
        they sanitised or checked; everything else uses the constructor."""
        m = object.__new__(cls)
        setattr_ = _setattr
        setattr_(m, "tool_used", tool_used)
        setattr_(m, "input_tokens", input_tokens)
        setattr_(m, "output_tokens", output_tokens)
        setattr_(m, "model", model)
        setattr_(m, "tags", tags)
        setattr_(m, "attributes", attributes)
        return m


class ScoredStep(Protocol):
    """What the quality, the verdict rules and the totals read of a step: a :class:`TrajectoryStep`,
    or the instrumentation's record of a step before its TrajectoryStep is built."""

    @property
    def outcome(self) -> StepOutcome: ...

    @property
    def confidence(self) -> float: ...

    @property
    def metadata(self) -> StepMetadata | None: ...


@dataclass(frozen=True, slots=True, eq=False)
class TrajectoryStep(JSONSerializable):
    """One step: what was done, why, how it turned out, how sure, how long it took."""

    index: int
    action: str
    rationale: str
    outcome: StepOutcome
    confidence: float
    latency_ms: int
    timestamp: datetime
    context_embedding: Embedding | None = None
    metadata: StepMetadata | None = None

    def __post_init__(self) -> None:
        check_int("TrajectoryStep.index", self.index)
        check_str("TrajectoryStep.action", self.action)
        check_str("TrajectoryStep.rationale", self.rationale)
        if not isinstance(self.outcome, StepOutcome):
            raise TypeError(
                f"TrajectoryStep.outcome must be a StepOutcome, got {type(self.outcome).__name__}: {shown(self.outcome)}"
            )
        _set(self, "confidence", check_unit("TrajectoryStep.confidence", self.confidence))
        check_int("TrajectoryStep.latency_ms", self.latency_ms)
        _set(self, "timestamp", _check_time("TrajectoryStep.timestamp", self.timestamp))
        _set(self, "context_embedding", check_opt_embedding("TrajectoryStep.context_embedding", self.context_embedding))
        if self.metadata is not None and not isinstance(self.metadata, StepMetadata):
            raise TypeError(f"TrajectoryStep.metadata must be a StepMetadata, got {type(self.metadata).__name__}")

    @classmethod
    def _trusted(
        cls,
        index: int,
        action: str,
        rationale: str,
        outcome: StepOutcome,
        confidence: float,
        latency_ms: int,
        timestamp: datetime,
        context_embedding: Embedding | None,
        metadata: StepMetadata | None,
    ) -> TrajectoryStep:
        """Internal: a step from values that already hold every invariant ``__post_init__``
        checks (confidence a float32 value in [0, 1], an aware UTC timestamp, a checked
        embedding), skipping the checks. The instrumentation and the span assembly build
        one per step from values they validated themselves; everything else uses the constructor.
        """
        step = object.__new__(cls)
        setattr_ = _setattr
        setattr_(step, "index", index)
        setattr_(step, "action", action)
        setattr_(step, "rationale", rationale)
        setattr_(step, "outcome", outcome)
        setattr_(step, "confidence", confidence)
        setattr_(step, "latency_ms", latency_ms)
        setattr_(step, "timestamp", timestamp)
        setattr_(step, "context_embedding", context_embedding)
        setattr_(step, "metadata", metadata)
        return step

    @property
    def quality(self) -> float:
        """``outcome.quality_score × confidence``, in float32 as ruvllm computes it."""
        return f32(np.float32(self.outcome.quality_score) * np.float32(self.confidence))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrajectoryStep):
            return NotImplemented
        return (
            self.index == other.index
            and self.action == other.action
            and self.rationale == other.rationale
            and self.outcome == other.outcome
            and self.confidence == other.confidence
            and self.latency_ms == other.latency_ms
            and self.timestamp == other.timestamp
            and embeddings_equal(self.context_embedding, other.context_embedding)
            and self.metadata == other.metadata
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True, eq=True)
class TrajectoryMetadata(JSONSerializable):
    """Facts about the whole trajectory: who, what kind of request, tokens, models, tools."""

    session_id: str | None = None
    user_id: str | None = None
    request_type: str | None = None
    total_input_tokens: int = 0
    total_output_tokens: int = 0
    models_used: tuple[str, ...] = ()
    tools_invoked: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)

    __hash__ = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        check_opt_str("TrajectoryMetadata.session_id", self.session_id)
        check_opt_str("TrajectoryMetadata.user_id", self.user_id)
        check_opt_str("TrajectoryMetadata.request_type", self.request_type)
        check_int("TrajectoryMetadata.total_input_tokens", self.total_input_tokens)
        check_int("TrajectoryMetadata.total_output_tokens", self.total_output_tokens)
        _set(self, "models_used", check_str_seq("TrajectoryMetadata.models_used", self.models_used))
        _set(self, "tools_invoked", check_str_seq("TrajectoryMetadata.tools_invoked", self.tools_invoked))
        _set(self, "tags", check_str_seq("TrajectoryMetadata.tags", self.tags))
        _set(self, "attributes", check_str_map("TrajectoryMetadata.attributes", self.attributes))

    @classmethod
    def _trusted(
        cls,
        *,
        session_id: str | None,
        user_id: str | None,
        request_type: str | None,
        total_input_tokens: int,
        total_output_tokens: int,
        models_used: tuple[str, ...],
        tools_invoked: tuple[str, ...],
        tags: tuple[str, ...],
        attributes: dict[str, str],
    ) -> TrajectoryMetadata:
        """Internal: like :meth:`StepMetadata._trusted`, for a trajectory's metadata."""
        m = object.__new__(cls)
        setattr_ = _setattr
        setattr_(m, "session_id", session_id)
        setattr_(m, "user_id", user_id)
        setattr_(m, "request_type", request_type)
        setattr_(m, "total_input_tokens", total_input_tokens)
        setattr_(m, "total_output_tokens", total_output_tokens)
        setattr_(m, "models_used", models_used)
        setattr_(m, "tools_invoked", tools_invoked)
        setattr_(m, "tags", tags)
        setattr_(m, "attributes", attributes)
        return m


_FLOAT32 = struct.Struct("<f")
_EXACT_INT = float(1 << 24)


def _round32(value: float) -> float:
    """*value* rounded to the nearest float32 (ties to even), as a Python float."""
    result: float = _FLOAT32.unpack(_FLOAT32.pack(value))[0]
    return result


def compute_quality(steps: Sequence[ScoredStep], verdict: Verdict) -> float:
    """ruvllm's ``compute_quality``, in float32, summing step qualities left to right."""
    if not steps:
        if isinstance(verdict, PartialVerdict):
            return verdict.completion_ratio
        if isinstance(verdict, RecoveredVerdict):
            return verdict.final_quality
        return 1.0 if isinstance(verdict, SuccessVerdict) else 0.0
    # float32 arithmetic without numpy scalars (about 1 µs per operation). Stored scores are the
    # shortest decimals of float32 values, so each is rounded to its float32 first; one +, × or ÷ of
    # two float32 values, done in double precision and rounded once to float32, is exactly the
    # float32 result, because a double carries more than twice float32's 24 bits.
    r = _round32
    total = 0.0
    for s in steps:
        score = s.outcome.quality_score
        score = 1.0 if score == 1.0 else r(score)
        confidence = s.confidence
        # 1.0 and 0.0 are exact in float32, and x × 1.0 is x: the common step needs no rounding there.
        quality = score if confidence == 1.0 else r(score * r(confidence))
        total += quality
        # Whole numbers up to 2**24 are exact in float32 (a run of steps scoring 1.0 or 0.0).
        if not (total.is_integer() and -_EXACT_INT <= total <= _EXACT_INT):
            total = r(total)
    mean = total / len(steps)
    if not (mean.is_integer() and -_EXACT_INT <= mean <= _EXACT_INT):
        mean = r(mean)
    if isinstance(verdict, SuccessVerdict):
        factor = 1.0
    elif isinstance(verdict, PartialVerdict):
        factor = r(0.5 + r(0.5 * r(verdict.completion_ratio)))
    elif isinstance(verdict, RecoveredVerdict):
        factor = r(verdict.final_quality)
    else:
        factor = r(0.3)
    return f32(r(mean * factor))


@dataclass(frozen=True, slots=True, eq=False)
class Trajectory(JSONSerializable):
    """A finished (or imported) trajectory: steps, verdict, quality, timing, lessons.

    ``quality`` is stored as given (JSON from elsewhere is accepted as it is); use
    :meth:`compute_quality` to recompute it from the steps and verdict.
    """

    id: TrajectoryId
    uuid: uuid_mod.UUID
    query_embedding: Embedding
    response_embedding: Embedding | None
    steps: tuple[TrajectoryStep, ...]
    verdict: Verdict
    quality: float
    total_latency_ms: int
    started_at: datetime
    completed_at: datetime
    metadata: TrajectoryMetadata = field(default_factory=TrajectoryMetadata)
    lessons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "id", TrajectoryId(self.id))
        if not isinstance(self.uuid, uuid_mod.UUID):
            raise TypeError(f"Trajectory.uuid must be a uuid.UUID, got {type(self.uuid).__name__}: {shown(self.uuid)}")
        _set(self, "query_embedding", check_embedding("Trajectory.query_embedding", self.query_embedding))
        _set(self, "response_embedding", check_opt_embedding("Trajectory.response_embedding", self.response_embedding))
        steps = tuple(self.steps)
        for i, s in enumerate(steps):
            if not isinstance(s, TrajectoryStep):
                raise TypeError(f"Trajectory.steps[{i}] must be a TrajectoryStep, got {type(s).__name__}")
        _set(self, "steps", steps)
        if not isinstance(self.verdict, Verdict):
            raise TypeError(f"Trajectory.verdict must be a Verdict, got {type(self.verdict).__name__}: {shown(self.verdict)}")
        _set(self, "quality", check_f32("Trajectory.quality", self.quality))
        check_int("Trajectory.total_latency_ms", self.total_latency_ms)
        _set(self, "started_at", _check_time("Trajectory.started_at", self.started_at))
        _set(self, "completed_at", _check_time("Trajectory.completed_at", self.completed_at))
        if not isinstance(self.metadata, TrajectoryMetadata):
            raise TypeError(f"Trajectory.metadata must be a TrajectoryMetadata, got {type(self.metadata).__name__}")
        _set(self, "lessons", check_str_seq("Trajectory.lessons", self.lessons))

    @classmethod
    def _trusted(
        cls,
        *,
        id: TrajectoryId,
        uuid: uuid_mod.UUID,
        query_embedding: Embedding,
        response_embedding: Embedding | None,
        steps: tuple[TrajectoryStep, ...],
        verdict: Verdict,
        quality: float,
        total_latency_ms: int,
        started_at: datetime,
        completed_at: datetime,
        metadata: TrajectoryMetadata,
        lessons: tuple[str, ...],
    ) -> Trajectory:
        """Internal: a trajectory from values that already hold every invariant ``__post_init__``
        checks (read-only float32 embeddings, a float32 quality, aware UTC times, model objects),
        skipping the checks. The span assembly, the instrumentation and the JSON fast path build
        theirs from values they sanitised or checked; everything else uses the constructor."""
        t = object.__new__(cls)
        setattr_ = _setattr
        setattr_(t, "id", id)
        setattr_(t, "uuid", uuid)
        setattr_(t, "query_embedding", query_embedding)
        setattr_(t, "response_embedding", response_embedding)
        setattr_(t, "steps", steps)
        setattr_(t, "verdict", verdict)
        setattr_(t, "quality", quality)
        setattr_(t, "total_latency_ms", total_latency_ms)
        setattr_(t, "started_at", started_at)
        setattr_(t, "completed_at", completed_at)
        setattr_(t, "metadata", metadata)
        setattr_(t, "lessons", lessons)
        return t

    @classmethod
    def build(
        cls,
        steps: Iterable[TrajectoryStep],
        verdict: Verdict,
        *,
        started_at: datetime,
        total_latency_ms: int,
        id: int | None = None,
        uuid: uuid_mod.UUID | None = None,
        query_embedding: Any = EMPTY_EMBEDDING,
        response_embedding: Any = None,
        completed_at: datetime | None = None,
        metadata: TrajectoryMetadata | None = None,
        lessons: Sequence[str] = (),
    ) -> Trajectory:
        """Make a completed trajectory whose ``quality`` is computed from steps and verdict."""
        started = _check_time("Trajectory.started_at", started_at)
        if isinstance(steps, (str, bytes)) or not isinstance(steps, Iterable):
            raise TypeError(f"steps must be a sequence of TrajectoryStep, got {type(steps).__name__}")
        step_tuple = tuple(steps)  # once: a generator could not be read twice (here and for the quality)
        return cls(
            id=new_trajectory_id() if id is None else TrajectoryId(id),
            uuid=uuid_mod.uuid4() if uuid is None else uuid,
            query_embedding=query_embedding,
            response_embedding=response_embedding,
            steps=step_tuple,
            verdict=verdict,
            quality=compute_quality(step_tuple, verdict),
            total_latency_ms=total_latency_ms,
            started_at=started,
            completed_at=completed_at if completed_at is not None else started + timedelta(milliseconds=total_latency_ms),
            metadata=metadata if metadata is not None else TrajectoryMetadata(),
            lessons=check_str_seq("lessons", lessons),
        )

    def compute_quality(self) -> float:
        return compute_quality(self.steps, self.verdict)

    @property
    def total_tokens(self) -> int:
        return self.metadata.total_input_tokens + self.metadata.total_output_tokens

    @property
    def step_count(self) -> int:
        return len(self.steps)

    @property
    def step_success_rate(self) -> float:
        """Share of Success steps (0 with no steps), in f32 as ruvllm computes it."""
        if not self.steps:
            return 0.0
        successes = sum(1 for s in self.steps if isinstance(s.outcome, SuccessOutcome))
        return f32(np.float32(successes) / np.float32(len(self.steps)))

    @property
    def avg_confidence(self) -> float:
        """Mean step confidence (0 with no steps), summed left to right in f32 as ruvllm does."""
        if not self.steps:
            return 0.0
        total = np.float32(0.0)
        for s in self.steps:
            total = np.float32(total + np.float32(s.confidence))
        return f32(total / np.float32(len(self.steps)))

    @property
    def is_success(self) -> bool:
        """ruvllm's ``Trajectory::is_success``: Success or *any* RecoveredViaReflection.

        This differs from :attr:`Verdict.is_success`, which needs final_quality >= 0.8.
        """
        return isinstance(self.verdict, (SuccessVerdict, RecoveredVerdict))

    @property
    def is_failure(self) -> bool:
        return self.verdict.is_failure

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trajectory):
            return NotImplemented
        return (
            self.id == other.id
            and self.uuid == other.uuid
            and embeddings_equal(self.query_embedding, other.query_embedding)
            and embeddings_equal(self.response_embedding, other.response_embedding)
            and self.steps == other.steps
            and self.verdict == other.verdict
            and self.quality == other.quality
            and self.total_latency_ms == other.total_latency_ms
            and self.started_at == other.started_at
            and self.completed_at == other.completed_at
            and self.metadata == other.metadata
            and self.lessons == other.lessons
        )

    __hash__ = None  # type: ignore[assignment]
