"""``trajectory(...)``, ``current_trajectory()``, ``current_step()``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace

from .context import CURRENT_STEP, CURRENT_TRAJECTORY
from .step_handle import StepHandle
from .trajectory_handle import TrajectoryHandle

__all__ = ["current_step", "current_trajectory", "trajectory"]


def trajectory(
    name: str,
    *,
    query: str | None = None,
    query_embedding: Any = None,
    session_id: str | None = None,
    user_id: str | None = None,
    request_type: str | None = None,
    tags: Sequence[str] = (),
    attributes: Mapping[str, str] | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> TrajectoryHandle:
    """Record a trajectory: ``with trajectory("answer") as t:`` or ``async with``.

    The root span starts when the block is entered and ends when it exits, with the
    verdict, quality and totals; ``t.result`` then holds the scored Trajectory.
    ``query=`` text is embedded with the configured embedder unless ``query_embedding``
    is given. Arguments are checked here and raise ``TypeError``/``ValueError``.
    """
    return TrajectoryHandle(
        name,
        query=query,
        query_embedding=query_embedding,
        session_id=session_id,
        user_id=user_id,
        request_type=request_type,
        tags=tags,
        attributes=attributes,
        tracer_provider=tracer_provider,
    )


def current_trajectory() -> TrajectoryHandle | None:
    """The innermost trajectory of this task/thread, or None."""
    return CURRENT_TRAJECTORY.get()


def current_step() -> StepHandle | None:
    """The innermost running step of this task/thread (within the current trajectory), or None."""
    return CURRENT_STEP.get()
