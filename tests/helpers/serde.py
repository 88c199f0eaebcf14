"""Hypothesis strategies for arbitrary model values, and small builders shared by the tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tests.helpers.paths import FIXTURES
from trajectories.model import (
    ReasoningErrorType,
    RootCause,
    StepMetadata,
    StepOutcome,
    Trajectory,
    TrajectoryId,
    TrajectoryMetadata,
    TrajectoryStep,
    Verdict,
)

GOLDEN_DIR = FIXTURES / "ruvllm-json"
U64_MAX = (1 << 64) - 1
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

texts = st.text(max_size=12)
f32s = st.floats(width=32, allow_nan=False, allow_infinity=False)
units = st.floats(min_value=0.0, max_value=1.0, width=32)
u64s = st.integers(min_value=0, max_value=U64_MAX)
small_ints = st.integers(min_value=0, max_value=10**9)
str_lists = st.lists(texts, max_size=3).map(tuple)
str_maps = st.dictionaries(texts, texts, max_size=3)
embeddings = st.lists(f32s, max_size=6).map(lambda xs: np.array(xs, dtype=np.float32))
opt_embeddings = st.none() | embeddings
offsets = st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
times = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets)

outcomes: st.SearchStrategy[StepOutcome] = st.one_of(
    st.just(StepOutcome.success()),
    st.builds(StepOutcome.partial, texts, texts),
    st.builds(StepOutcome.failure, texts),
    st.builds(StepOutcome.skipped, texts),
    st.builds(StepOutcome.needs_retry, texts, str_lists),
)

root_causes: st.SearchStrategy[RootCause] = st.one_of(
    st.builds(RootCause.insufficient_context, str_lists),
    st.builds(RootCause.invalid_input, texts),
    st.builds(RootCause.tool_failure, texts, texts),
    st.builds(RootCause.reasoning_error, st.sampled_from(list(ReasoningErrorType)), texts),
    st.builds(RootCause.resource_constraint, texts, texts),
    st.builds(RootCause.external_failure, texts, texts),
    st.builds(RootCause.capability_limit, texts),
    st.builds(RootCause.unknown, texts),
)

verdicts: st.SearchStrategy[Verdict] = st.one_of(
    st.just(Verdict.success()),
    st.builds(Verdict.failure, root_causes),
    st.builds(Verdict.partial, f32s),
    st.builds(Verdict.recovered, root_causes, st.integers(0, 2**32 - 1), f32s),
)

step_metadata = st.builds(
    StepMetadata,
    tool_used=st.none() | texts,
    input_tokens=st.none() | u64s,
    output_tokens=st.none() | u64s,
    model=st.none() | texts,
    tags=str_lists,
    attributes=str_maps,
)

trajectory_metadata = st.builds(
    TrajectoryMetadata,
    session_id=st.none() | texts,
    user_id=st.none() | texts,
    request_type=st.none() | texts,
    total_input_tokens=u64s,
    total_output_tokens=u64s,
    models_used=str_lists,
    tools_invoked=str_lists,
    tags=str_lists,
    attributes=str_maps,
)


@st.composite
def steps(draw: st.DrawFn, index: int = 0) -> TrajectoryStep:
    return TrajectoryStep(
        index=draw(st.just(index) | u64s),
        action=draw(texts),
        rationale=draw(texts),
        outcome=draw(outcomes),
        confidence=draw(units),
        latency_ms=draw(u64s),
        timestamp=draw(times),
        context_embedding=draw(opt_embeddings),
        metadata=draw(st.none() | step_metadata),
    )


@st.composite
def trajectories(draw: st.DrawFn) -> Trajectory:
    n = draw(st.integers(0, 4))
    return Trajectory(
        id=TrajectoryId(draw(u64s)),
        uuid=uuid.UUID(int=draw(st.integers(0, (1 << 128) - 1))),
        query_embedding=draw(embeddings),
        response_embedding=draw(opt_embeddings),
        steps=tuple(draw(steps(i)) for i in range(n)),
        verdict=draw(verdicts),
        quality=draw(f32s),
        total_latency_ms=draw(u64s),
        started_at=draw(times),
        completed_at=draw(times),
        metadata=draw(trajectory_metadata),
        lessons=draw(str_lists),
    )


def golden_files() -> list[Path]:
    return sorted(GOLDEN_DIR.glob("*.json"))


def step(outcome: StepOutcome, confidence: float, index: int = 0, **kw: Any) -> TrajectoryStep:
    """A step with everything but its outcome and confidence filled in."""
    args: dict[str, Any] = {
        "index": index,
        "action": f"a{index}",
        "rationale": "r",
        "outcome": outcome,
        "confidence": confidence,
        "latency_ms": 10,
        "timestamp": T0,
    }
    args.update(kw)
    return TrajectoryStep(**args)


def simple_trajectory(n_steps: int = 2, **kw: Any) -> Trajectory:
    """A small valid Success trajectory; keyword arguments go to Trajectory.build."""
    args: dict[str, Any] = {"started_at": T0, "total_latency_ms": 100, "id": 1, "uuid": uuid.UUID(int=1)}
    args.update(kw)
    return Trajectory.build([step(StepOutcome.success(), 0.9, i) for i in range(n_steps)], Verdict.success(), **args)
