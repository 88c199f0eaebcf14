"""TrajectoryRecorder: build a trajectory step by step without OpenTelemetry.

Timing uses the monotonic clock (a wall-clock jump cannot make a latency negative);
wall-clock time is only read for the timestamps.
"""

from __future__ import annotations

import time
import uuid as uuid_mod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from ..validate import (
    check_embedding,
    check_int,
    check_opt_str,
    check_str,
    check_str_map,
    check_str_seq,
    check_unit,
    shown,
)
from .aggregate import totals
from .cancellation import exception_text, is_cancellation
from .constants import elapsed_ms
from .outcome import StepOutcome
from .trajectory import StepMetadata, Trajectory, TrajectoryId, TrajectoryMetadata, TrajectoryStep, new_trajectory_id
from .verdict import Verdict

__all__ = ["TrajectoryRecorder"]


class TrajectoryRecorder:
    """Records one trajectory: add steps as they happen, then :meth:`complete` it.

    >>> rec = TrajectoryRecorder(query_embedding=[0.1, 0.2], session_id="s-1")
    >>> _ = rec.add_step("search", "need context", StepOutcome.success(), 0.9)
    >>> rec.complete(Verdict.success()).quality
    0.9
    """

    def __init__(
        self,
        query_embedding: Any = (),
        *,
        id: int | None = None,
        uuid: uuid_mod.UUID | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        request_type: str | None = None,
        tags: Sequence[str] = (),
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        self.id: TrajectoryId = new_trajectory_id() if id is None else TrajectoryId(id)
        if uuid is not None and not isinstance(uuid, uuid_mod.UUID):
            raise TypeError(f"uuid must be a uuid.UUID, got {type(uuid).__name__}: {shown(uuid)}")
        self.uuid = uuid if uuid is not None else uuid_mod.uuid4()
        self._query_embedding = check_embedding("query_embedding", query_embedding)
        self._response_embedding: Any = None
        self._session_id = check_opt_str("session_id", session_id)
        self._user_id = check_opt_str("user_id", user_id)
        self._request_type = check_opt_str("request_type", request_type)
        self._tags = list(check_str_seq("tags", tags))
        self._attributes = check_str_map("attributes", attributes or {})
        self._models: list[str] = []
        self._tools: list[str] = []
        self._input_tokens = 0
        self._output_tokens = 0
        self._lessons: list[str] = []
        self._steps: list[TrajectoryStep] = []
        self._started_at = datetime.now(timezone.utc)
        self._start_ns = time.monotonic_ns()
        self._step_start_ns = self._start_ns
        self._completed: Trajectory | None = None

    # ---------------------------------------------------------------- steps

    @property
    def steps(self) -> tuple[TrajectoryStep, ...]:
        return tuple(self._steps)

    def add_step(
        self,
        action: str,
        rationale: str,
        outcome: StepOutcome,
        confidence: float = 1.0,
        *,
        latency_ms: int | None = None,
        context_embedding: Any = None,
        metadata: StepMetadata | None = None,
    ) -> TrajectoryStep:
        """Append a step. Its latency is the time since the previous step (or the start).

        The step's tokens, model and tool (from ``metadata``) count toward the trajectory's totals.
        """
        self._check_open()
        now_ns = time.monotonic_ns()
        step = TrajectoryStep(
            index=len(self._steps),
            action=action,
            rationale=rationale,
            outcome=outcome,
            confidence=confidence,
            latency_ms=elapsed_ms(self._step_start_ns, now_ns) if latency_ms is None else latency_ms,
            timestamp=datetime.now(timezone.utc),
            context_embedding=context_embedding,
            metadata=metadata,
        )
        self._step_start_ns = now_ns
        self._steps.append(step)
        return step

    @contextmanager
    def step(self, action: str, rationale: str = "", *, confidence: float = 1.0) -> Iterator[_StepScope]:
        """Time a block as one step: Success on normal exit, Failure if it raises.

        A cancellation (asyncio, trio or anyio) is ``Skipped{reason: "cancelled"}``, as in the
        instrumentation. The exception is re-raised unchanged. Set ``scope.outcome`` to record
        another outcome.
        """
        self._check_open()
        check_str("action", action)
        check_str("rationale", rationale)
        scope = _StepScope(check_unit("confidence", confidence))
        start_ns = time.monotonic_ns()
        timestamp = datetime.now(timezone.utc)
        try:
            yield scope
        except BaseException as exc:
            if is_cancellation(exc):
                scope.outcome = StepOutcome.skipped("cancelled")
            else:
                scope.outcome = StepOutcome.failure(exception_text(exc))
            raise
        finally:
            end_ns = time.monotonic_ns()
            self._steps.append(
                TrajectoryStep(
                    index=len(self._steps),
                    action=action,
                    rationale=rationale,
                    outcome=scope.outcome,
                    confidence=scope.confidence,
                    latency_ms=elapsed_ms(start_ns, end_ns),
                    timestamp=timestamp,
                )
            )
            self._step_start_ns = end_ns

    # ---------------------------------------------------------------- metadata

    def add_tokens(self, input_tokens: int = 0, output_tokens: int = 0) -> None:
        self._input_tokens += check_int("input_tokens", input_tokens)
        self._output_tokens += check_int("output_tokens", output_tokens)

    def record_model(self, model: str) -> None:
        """A model used outside any step's metadata (listed once, after the steps' models)."""
        self._models.append(check_str("model", model))

    def record_tool(self, tool: str) -> None:
        """A tool used outside any step's metadata (listed once, after the steps' tools)."""
        self._tools.append(check_str("tool", tool))

    def add_tag(self, tag: str) -> None:
        self._tags.append(check_str("tag", tag))

    def set_attribute(self, key: str, value: str) -> None:
        self._attributes[check_str("attribute key", key)] = check_str(f"attribute {key!r}", value)

    def add_lesson(self, lesson: str) -> None:
        self._lessons.append(check_str("lesson", lesson))

    def set_response_embedding(self, embedding: Any) -> None:
        self._response_embedding = check_embedding("response_embedding", embedding)

    # ---------------------------------------------------------------- completion

    def complete(self, verdict: Verdict) -> Trajectory:
        """Finish the trajectory: set the verdict, the end time, the latency and the quality."""
        if not isinstance(verdict, Verdict):
            raise TypeError(f"verdict must be a Verdict, got {type(verdict).__name__}: {shown(verdict)}")
        self._check_open()
        latency_ms = elapsed_ms(self._start_ns, time.monotonic_ns())
        total = totals(
            self._steps,
            input_tokens=self._input_tokens,
            output_tokens=self._output_tokens,
            models=self._models,
            tools=self._tools,
        )
        trajectory = Trajectory.build(
            self._steps,
            verdict,
            id=self.id,
            uuid=self.uuid,
            query_embedding=self._query_embedding,
            response_embedding=self._response_embedding,
            started_at=self._started_at,
            total_latency_ms=latency_ms,
            completed_at=self._started_at + timedelta(milliseconds=latency_ms),
            metadata=TrajectoryMetadata(
                session_id=self._session_id,
                user_id=self._user_id,
                request_type=self._request_type,
                total_input_tokens=total.input_tokens,
                total_output_tokens=total.output_tokens,
                models_used=total.models,
                tools_invoked=total.tools,
                tags=tuple(self._tags),
                attributes=dict(self._attributes),
            ),
            lessons=self._lessons,
        )
        self._completed = trajectory
        return trajectory

    def _check_open(self) -> None:
        if self._completed is not None:
            raise RuntimeError(f"trajectory {self.id} is already complete")


class _StepScope:
    """What a ``with recorder.step(...)`` block may change about its step.

    Both are checked when assigned, so that a bad value fails at the user's own line and
    can never replace, at the end of the block, an exception the block raised.
    """

    __slots__ = ("_confidence", "_outcome")

    def __init__(self, confidence: float) -> None:
        self._confidence = confidence
        self._outcome: StepOutcome = StepOutcome.success()

    @property
    def confidence(self) -> float:
        return self._confidence

    @confidence.setter
    def confidence(self, value: float) -> None:
        self._confidence = check_unit("confidence", value)

    @property
    def outcome(self) -> StepOutcome:
        return self._outcome

    @outcome.setter
    def outcome(self, value: StepOutcome) -> None:
        if not isinstance(value, StepOutcome):
            raise TypeError(f"outcome must be a StepOutcome, got {type(value).__name__}: {shown(value)}")
        self._outcome = value
