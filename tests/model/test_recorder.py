"""TrajectoryRecorder: steps, timing on the monotonic clock, metadata, completion."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import anyio
import numpy as np
import pytest

from trajectories.model import (
    FailureOutcome,
    RootCause,
    StepMetadata,
    StepOutcome,
    Trajectory,
    TrajectoryRecorder,
    Verdict,
)


def test_add_step_and_complete() -> None:
    rec = TrajectoryRecorder(query_embedding=[0.1, 0.2], id=42, session_id="s-1", user_id="u", request_type="qa", tags=["t"])
    s0 = rec.add_step("search", "need context", StepOutcome.success(), 0.9)
    s1 = rec.add_step("answer", "compose", StepOutcome.partial("draft", "sources"), 0.8)
    assert (s0.index, s1.index) == (0, 1)
    assert rec.steps == (s0, s1)
    rec.add_lesson("search first")
    t = rec.complete(Verdict.partial(0.5))
    assert isinstance(t, Trajectory)
    assert t.id == 42
    assert t.steps == (s0, s1)
    assert t.quality == t.compute_quality()
    assert t.quality == 0.5175  # mean(0.9, 0.48000002) * (0.5 + 0.5 * 0.5), in f32
    assert t.metadata.session_id == "s-1"
    assert t.metadata.user_id == "u"
    assert t.metadata.request_type == "qa"
    assert t.metadata.tags == ("t",)
    assert t.lessons == ("search first",)
    assert t.query_embedding.tolist() == pytest.approx([0.1, 0.2])
    assert Trajectory.from_json(t.to_json()) == t


def test_tokens_add_up_and_models_and_tools_are_deduplicated() -> None:
    rec = TrajectoryRecorder()
    meta = StepMetadata(tool_used="search", input_tokens=100, output_tokens=20, model="gpt-4o")
    rec.add_step("a", "", StepOutcome.success(), metadata=meta)
    rec.add_step("b", "", StepOutcome.success(), metadata=StepMetadata(tool_used="search", input_tokens=5, model="claude"))
    rec.record_model("gpt-4o")
    rec.record_tool("calc")
    rec.record_tool("calc")
    rec.add_tokens(1, 2)
    rec.add_tag("x")
    rec.add_tag("x")  # tags are appended as given
    rec.set_attribute("k", "v")
    t = rec.complete(Verdict.success())
    assert t.metadata.models_used == ("gpt-4o", "claude")
    assert t.metadata.tools_invoked == ("search", "calc")
    assert t.metadata.total_input_tokens == 106
    assert t.metadata.total_output_tokens == 22
    assert t.total_tokens == 128
    assert t.metadata.tags == ("x", "x")
    assert dict(t.metadata.attributes) == {"k": "v"}


def test_latencies_come_from_the_monotonic_clock() -> None:
    before = datetime.now(timezone.utc)
    rec = TrajectoryRecorder()
    with rec.step("slow"):
        time.sleep(0.03)
    rec.add_step("explicit", "", StepOutcome.success(), latency_ms=7)
    t = rec.complete(Verdict.success())
    assert t.steps[0].latency_ms >= 30
    assert t.steps[1].latency_ms == 7
    assert t.total_latency_ms >= 30
    assert t.completed_at - t.started_at == timedelta(milliseconds=t.total_latency_ms)
    assert before <= t.started_at <= t.steps[0].timestamp <= t.steps[1].timestamp
    assert all(s.latency_ms >= 0 for s in t.steps)


def test_step_latency_is_time_since_previous_step() -> None:
    rec = TrajectoryRecorder()
    time.sleep(0.02)
    first = rec.add_step("a", "", StepOutcome.success())
    second = rec.add_step("b", "", StepOutcome.success())
    assert first.latency_ms >= 20
    assert 0 <= second.latency_ms < first.latency_ms


def test_with_step_records_success() -> None:
    rec = TrajectoryRecorder()
    with rec.step("think", "plan", confidence=0.7) as scope:
        assert scope.confidence == 0.7
    (s,) = rec.steps
    assert s.action == "think"
    assert s.rationale == "plan"
    assert s.outcome == StepOutcome.success()
    assert s.confidence == 0.7


def test_with_step_can_set_its_outcome_and_confidence() -> None:
    rec = TrajectoryRecorder()
    with rec.step("search") as scope:
        scope.outcome = StepOutcome.partial("2 hits", "3 hits")
        scope.confidence = 0.4
    assert rec.steps[0].outcome == StepOutcome.partial("2 hits", "3 hits")
    assert rec.steps[0].confidence == 0.4


def test_with_step_records_failure_and_the_exception_propagates_unchanged() -> None:
    rec = TrajectoryRecorder()
    error = KeyError("missing")
    with pytest.raises(KeyError) as info, rec.step("lookup"):
        raise error
    assert info.value is error
    (s,) = rec.steps
    assert isinstance(s.outcome, FailureOutcome)
    assert s.outcome.error == "KeyError: 'missing'"
    assert rec.complete(Verdict.failure(RootCause.unknown("lookup failed"))).is_failure


def test_a_bad_value_in_a_step_fails_where_it_is_set_not_at_the_end() -> None:
    rec = TrajectoryRecorder()
    with pytest.raises(ValueError, match=r"confidence must be within \[0, 1\], got 2\.0"), rec.step("x") as scope:
        scope.confidence = 2.0
    with pytest.raises(TypeError, match=r"outcome must be a StepOutcome, got str"), rec.step("y") as scope:
        scope.outcome = "Success"  # type: ignore[assignment]
    # both steps were still recorded, as failures carrying the user's error
    assert [s.outcome.kind for s in rec.steps] == ["failure", "failure"]


def test_complete_twice_is_an_error() -> None:
    rec = TrajectoryRecorder(id=3)
    rec.complete(Verdict.success())
    with pytest.raises(RuntimeError, match=r"trajectory traj-3 is already complete"):
        rec.complete(Verdict.success())
    with pytest.raises(RuntimeError, match="already complete"):
        rec.add_step("late", "", StepOutcome.success())
    with pytest.raises(RuntimeError, match="already complete"), rec.step("late"):
        pass


def test_recorder_bad_inputs_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"query_embedding must be finite"):
        TrajectoryRecorder(query_embedding=[np.nan])
    with pytest.raises(ValueError, match=r"query_embedding must be one-dimensional"):
        TrajectoryRecorder(query_embedding=np.zeros((2, 2)))
    with pytest.raises(TypeError, match=r"uuid must be a uuid\.UUID, got str"):
        TrajectoryRecorder(uuid="abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"session_id must be a str, got int"):
        TrajectoryRecorder(session_id=1)  # type: ignore[arg-type]
    rec = TrajectoryRecorder(uuid=uuid.UUID(int=5))
    assert rec.uuid == uuid.UUID(int=5)
    with pytest.raises(ValueError, match=r"TrajectoryStep\.confidence must be within \[0, 1\], got 1\.5"):
        rec.add_step("a", "", StepOutcome.success(), 1.5)
    with pytest.raises(ValueError, match=r"confidence must be within \[0, 1\], got -0\.1"):
        rec.step("a", confidence=-0.1).__enter__()
    with pytest.raises(ValueError, match=r"input_tokens must be >= 0, got -1"):
        rec.add_tokens(-1)
    with pytest.raises(TypeError, match=r"verdict must be a Verdict, got str"):
        rec.complete("Success")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"response_embedding must be finite"):
        rec.set_response_embedding([np.inf])
    assert rec.steps == ()  # nothing half-recorded
    rec.set_response_embedding([1.0])
    assert rec.complete(Verdict.success()).response_embedding is not None


@pytest.mark.anyio
async def test_a_cancelled_step_is_skipped_and_the_cancellation_propagates() -> None:
    rec = TrajectoryRecorder()
    with anyio.CancelScope() as cancel_scope:
        with rec.step("wait"):
            cancel_scope.cancel()
            await anyio.sleep(1)
        pytest.fail("the cancellation did not propagate")  # pragma: no cover
    assert cancel_scope.cancelled_caught
    (s,) = rec.steps
    assert s.outcome == StepOutcome.skipped("cancelled")
    assert s.latency_ms < 1000
