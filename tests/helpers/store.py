"""Small hand-built trajectories for the store, learning and CLI tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from trajectories import attributes
from trajectories.model import StepMetadata, StepOutcome, Trajectory, TrajectoryMetadata, TrajectoryStep, Verdict

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def step(
    index: int,
    action: str,
    outcome: StepOutcome | None = None,
    confidence: float = 1.0,
    *,
    parent: int | None = None,
    tool: str | None = None,
    latency_ms: int = 10,
) -> TrajectoryStep:
    attrs = {attributes.STEP_PARENT_ATTRIBUTE: str(parent)} if parent is not None else {}
    return TrajectoryStep(
        index=index,
        action=action,
        rationale=f"why {action}",
        outcome=outcome if outcome is not None else StepOutcome.success(),
        confidence=confidence,
        latency_ms=latency_ms,
        timestamp=T0 + timedelta(milliseconds=index),
        metadata=StepMetadata(tool_used=tool, attributes=attrs) if attrs or tool else None,
    )


def traj(
    id: int,
    steps: Sequence[TrajectoryStep] = (),
    verdict: Verdict | None = None,
    *,
    embedding: Any = (1.0, 0.0, 0.0),
    name: str | None = None,
    session: str | None = None,
    user: str | None = None,
    request_type: str | None = None,
    started: datetime | None = None,
    latency_ms: int = 100,
    lessons: Sequence[str] = (),
    tokens: tuple[int, int] = (0, 0),
    tools: Sequence[str] = (),
) -> Trajectory:
    attrs = {attributes.TRAJECTORY_NAME_ATTRIBUTE: name} if name else {}
    return Trajectory.build(
        list(steps),
        verdict if verdict is not None else Verdict.success(),
        id=id,
        started_at=started if started is not None else T0 + timedelta(seconds=id % 1_000_000),
        total_latency_ms=latency_ms,
        query_embedding=list(embedding),
        metadata=TrajectoryMetadata(
            session_id=session,
            user_id=user,
            request_type=request_type,
            total_input_tokens=tokens[0],
            total_output_tokens=tokens[1],
            tools_invoked=tuple(tools),
            attributes=attrs,
        ),
        lessons=lessons,
    )
