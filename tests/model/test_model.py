"""The trajectory model: every score, derived value and text of REASONINGBANK.md §1-2, and its checks."""

from __future__ import annotations

import dataclasses
import math
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.serde import T0, simple_trajectory, step, units
from trajectories.model import (
    CapabilityLimit,
    ExternalFailure,
    FailureOutcome,
    InsufficientContext,
    InvalidInput,
    NeedsRetryOutcome,
    PartialOutcome,
    PartialVerdict,
    ReasoningError,
    ReasoningErrorType,
    RecoveredVerdict,
    ResourceConstraint,
    RootCause,
    SkippedOutcome,
    StepMetadata,
    StepOutcome,
    SuccessOutcome,
    ToolFailure,
    Trajectory,
    TrajectoryId,
    TrajectoryMetadata,
    TrajectoryStep,
    Unknown,
    Verdict,
    compute_quality,
)

# ----------------------------------------------------------------------------- outcomes


@pytest.mark.parametrize(
    ("outcome", "cls", "kind", "score", "is_success", "is_failure"),
    [
        (StepOutcome.success(), SuccessOutcome, "success", 1.0, True, False),
        (StepOutcome.partial("a", "m"), PartialOutcome, "partial", 0.6, False, False),
        (StepOutcome.failure("e"), FailureOutcome, "failure", 0.0, False, True),
        (StepOutcome.skipped("r"), SkippedOutcome, "skipped", 0.3, False, False),
        (StepOutcome.needs_retry("r", ["s"]), NeedsRetryOutcome, "needs_retry", 0.2, False, False),  # not a failure
    ],
)
def test_outcome_variants(outcome: StepOutcome, cls: type, kind: str, score: float, is_success: bool, is_failure: bool) -> None:
    assert isinstance(outcome, cls)
    assert outcome.kind == kind
    assert outcome.quality_score == score
    assert outcome.is_success is is_success
    assert outcome.is_failure is is_failure


def test_outcome_fields_and_equality() -> None:
    retry = StepOutcome.needs_retry("rate limited", ["back off", "smaller batch"])
    assert isinstance(retry, NeedsRetryOutcome)
    assert retry.suggestions == ("back off", "smaller batch")
    assert retry == NeedsRetryOutcome("rate limited", ("back off", "smaller batch"))
    assert StepOutcome.needs_retry("x").suggestions == ()
    assert StepOutcome.success() is StepOutcome.success()
    assert StepOutcome.partial("a", "b") != StepOutcome.partial("a", "c")
    with pytest.raises(dataclasses.FrozenInstanceError):
        retry.reason = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: StepOutcome.failure(3), r"FailureOutcome\.error must be a str, got int: 3"),  # type: ignore[arg-type]
        (lambda: StepOutcome.partial("a", None), r"PartialOutcome\.missing must be a str, got NoneType"),  # type: ignore[arg-type]
        (lambda: StepOutcome.needs_retry("r", "abc"), r"NeedsRetryOutcome\.suggestions must be a sequence of str, got str"),  # type: ignore[arg-type]
        (lambda: StepOutcome.needs_retry("r", ["a", 2]), r"NeedsRetryOutcome\.suggestions\[1\] must be a str, got int"),  # type: ignore[list-item]
        (lambda: StepOutcome.skipped(b"x"), r"SkippedOutcome\.reason must be a str, got bytes"),  # type: ignore[arg-type]
    ],
)
def test_outcome_wrong_types(make: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make()


# ----------------------------------------------------------------------------- root causes


@pytest.mark.parametrize(
    ("cause", "cls", "kind", "text"),
    [
        (
            RootCause.insufficient_context(["a", "b"]),
            InsufficientContext,
            "insufficient_context",
            "Insufficient context: missing a, b",
        ),
        (RootCause.invalid_input("empty query"), InvalidInput, "invalid_input", "Invalid input: empty query"),
        (RootCause.tool_failure("git", "denied"), ToolFailure, "tool_failure", "Tool 'git' failed: denied"),
        (
            RootCause.reasoning_error(ReasoningErrorType.LogicalInconsistency, "x"),
            ReasoningError,
            "reasoning_error",
            "Reasoning error (logical_inconsistency): x",
        ),
        (
            RootCause.resource_constraint("time", "30s"),
            ResourceConstraint,
            "resource_constraint",
            "Resource constraint: time exceeded 30s",
        ),
        (RootCause.external_failure("api", "503"), ExternalFailure, "external_failure", "External failure (api): 503"),
        (RootCause.capability_limit("no vision"), CapabilityLimit, "capability_limit", "Capability limit: no vision"),
        (RootCause.unknown("?"), Unknown, "unknown", "Unknown failure: ?"),
    ],
)
def test_root_cause_kinds_and_texts(cause: RootCause, cls: type, kind: str, text: str) -> None:
    assert isinstance(cause, cls)
    assert cause.kind == kind
    assert str(cause) == text
    assert cause.text == text


def test_insufficient_context_with_nothing_missing() -> None:
    assert str(RootCause.insufficient_context([])) == "Insufficient context: missing "


@pytest.mark.parametrize(
    ("member", "snake"),
    [
        (ReasoningErrorType.LogicalInconsistency, "logical_inconsistency"),
        (ReasoningErrorType.FactualError, "factual_error"),
        (ReasoningErrorType.Hallucination, "hallucination"),
        (ReasoningErrorType.CircularReasoning, "circular_reasoning"),
        (ReasoningErrorType.NonSequitur, "non_sequitur"),
        (ReasoningErrorType.OverGeneralization, "over_generalization"),
        (ReasoningErrorType.UnderSpecification, "under_specification"),
        (ReasoningErrorType.Other, "other"),
    ],
)
def test_reasoning_error_type_text_and_json(member: ReasoningErrorType, snake: str) -> None:
    assert str(member) == snake
    assert member.value == snake
    cause = RootCause.reasoning_error(member, "d")
    assert cause.to_dict() == {"ReasoningError": {"error_type": member.name, "description": "d"}}
    assert RootCause.reasoning_error(member.name, "d") == cause  # by JSON name
    assert RootCause.reasoning_error(snake, "d") == cause  # or by text


def test_reasoning_error_type_bad_values() -> None:
    with pytest.raises(
        ValueError, match=r"ReasoningError\.error_type must be one of LogicalInconsistency, .*Other, got 'nonsense'"
    ):
        RootCause.reasoning_error("nonsense", "d")
    with pytest.raises(TypeError, match=r"ReasoningError\.error_type must be a ReasoningErrorType, got int: 3"):
        RootCause.reasoning_error(3, "d")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- verdicts


def test_verdict_quality_scores_and_descriptions() -> None:
    cause = RootCause.tool_failure("git", "x")
    assert Verdict.success().quality_score == 1.0
    assert Verdict.success().description == "Success"
    assert Verdict.failure(cause).quality_score == 0.0
    assert Verdict.failure(cause).description == "Failure: Tool 'git' failed: x"
    assert Verdict.partial(0.5).quality_score == 0.5
    assert Verdict.partial(0.67).quality_score == pytest.approx(0.585, abs=1e-7)
    assert Verdict.partial(0.0).quality_score == 0.25
    assert Verdict.partial(0.67).description == "Partial: 67% complete"
    assert Verdict.partial(1.0).description == "Partial: 100% complete"
    assert Verdict.recovered(cause, 2, 0.85).quality_score == 0.85
    assert Verdict.recovered(cause, 2, 0.85).description == "Recovered after 2 attempts, quality 85%"
    assert str(Verdict.recovered(cause, 1, 0.5)) == "Recovered after 1 attempts, quality 50%"
    assert [v.kind for v in (Verdict.success(), Verdict.failure(cause), Verdict.partial(0), Verdict.recovered(cause, 0, 0))] == [
        "success",
        "failure",
        "partial",
        "recovered_via_reflection",
    ]


def test_percentages_round_like_rust_on_the_f32_product() -> None:
    # 0.125 * 100 = 12.5 exactly: ties go to even, as Rust's {:.0} does
    assert Verdict.partial(0.125).description == "Partial: 12% complete"
    assert Verdict.partial(0.135).description == "Partial: 14% complete"
    assert Verdict.partial(0.005).description == "Partial: 0% complete"


def test_verdict_is_success_and_is_failure() -> None:
    cause = RootCause.unknown("?")
    assert Verdict.success().is_success
    assert not Verdict.failure(cause).is_success
    assert Verdict.failure(cause).is_failure
    assert not Verdict.partial(1.0).is_success
    assert not Verdict.partial(0.0).is_failure
    assert Verdict.recovered(cause, 1, 0.8).is_success  # >= 0.8
    assert not Verdict.recovered(cause, 1, 0.79).is_success
    assert not Verdict.recovered(cause, 1, 0.0).is_failure


def test_verdict_is_success_differs_from_trajectory_is_success_for_weak_recoveries() -> None:
    v = Verdict.recovered(RootCause.unknown("?"), 3, 0.5)
    t = Trajectory.build([], v, started_at=T0, total_latency_ms=0)
    assert v.is_success is False  # Verdict: needs final_quality >= 0.8
    assert t.is_success is True  # Trajectory: any recovery counts
    assert t.is_failure is False
    assert Trajectory.build([], Verdict.failure(RootCause.unknown("?")), started_at=T0, total_latency_ms=0).is_failure


@pytest.mark.parametrize(("given", "stored"), [(1.5, 1.0), (-0.2, 0.0), (0.3, 0.3), (1, 1.0), (0.123456789, 0.12345679)])
def test_ratios_and_final_quality_are_clamped_and_f32(given: float, stored: float) -> None:
    partial = Verdict.partial(given)
    assert partial.completion_ratio == stored
    recovered = Verdict.recovered(RootCause.unknown("?"), 1, given)
    assert recovered.final_quality == stored


@pytest.mark.parametrize(
    ("make", "exc", "message"),
    [
        (lambda: Verdict.partial(math.nan), ValueError, r"PartialVerdict\.completion_ratio must be finite, got nan"),
        (lambda: Verdict.partial("0.5"), TypeError, r"PartialVerdict\.completion_ratio must be a number, got str: '0\.5'"),  # type: ignore[arg-type]
        (lambda: Verdict.partial(True), TypeError, r"PartialVerdict\.completion_ratio must be a number, got bool"),
        (
            lambda: Verdict.recovered(RootCause.unknown(""), 1, math.inf),
            ValueError,
            r"RecoveredVerdict\.final_quality must be finite",
        ),
        (
            lambda: Verdict.recovered(RootCause.unknown(""), -1, 0.5),
            ValueError,
            r"RecoveredVerdict\.reflection_attempts must be >= 0, got -1",
        ),
        (lambda: Verdict.recovered(RootCause.unknown(""), 2**32, 0.5), ValueError, r"reflection_attempts must fit a u32"),
        (lambda: Verdict.recovered(RootCause.unknown(""), 1.0, 0.5), TypeError, r"reflection_attempts must be an int, got float"),  # type: ignore[arg-type]
        (
            lambda: Verdict.recovered("boom", 1, 0.5),  # type: ignore[arg-type]
            TypeError,
            r"RecoveredVerdict\.original_failure must be a RootCause, got str",
        ),
        (lambda: Verdict.failure("boom"), TypeError, r"FailureVerdict\.cause must be a RootCause, got str: 'boom'"),  # type: ignore[arg-type]
    ],
)
def test_verdict_bad_inputs(make: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        make()


# ----------------------------------------------------------------------------- steps


def test_step_quality_is_score_times_confidence_in_f32() -> None:
    assert step(StepOutcome.success(), 0.9).quality == 0.9
    assert step(StepOutcome.partial("a", "m"), 0.8).quality == 0.48000002  # f32(0.6) * f32(0.8)
    assert step(StepOutcome.failure("e"), 1.0).quality == 0.0
    assert step(StepOutcome.skipped("r"), 0.5).quality == 0.15
    assert step(StepOutcome.needs_retry("r"), 0.6).quality == 0.120000005


@pytest.mark.parametrize(
    ("confidence", "exc", "message"),
    [
        (1.5, ValueError, r"TrajectoryStep\.confidence must be within \[0, 1\], got 1\.5"),
        (-0.1, ValueError, r"TrajectoryStep\.confidence must be within \[0, 1\], got -0\.1"),
        (math.nan, ValueError, r"TrajectoryStep\.confidence must be finite, got nan"),
        (math.inf, ValueError, r"TrajectoryStep\.confidence must be finite, got inf"),
        ("0.5", TypeError, r"TrajectoryStep\.confidence must be a number, got str: '0\.5'"),
        (True, TypeError, r"TrajectoryStep\.confidence must be a number, got bool: True"),
        (None, TypeError, r"TrajectoryStep\.confidence must be a number, got NoneType"),
    ],
)
def test_step_confidence_is_checked(confidence: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        step(StepOutcome.success(), confidence)


def test_step_confidence_is_stored_as_f32_and_accepts_numpy() -> None:
    assert step(StepOutcome.success(), 0.123456789).confidence == 0.12345679
    assert step(StepOutcome.success(), np.float32(0.1)).confidence == 0.1
    assert step(StepOutcome.success(), 0).confidence == 0.0
    assert step(StepOutcome.success(), 1).confidence == 1.0


@pytest.mark.parametrize(
    ("field", "value", "exc", "message"),
    [
        ("index", -1, ValueError, r"TrajectoryStep\.index must be >= 0, got -1"),
        ("index", 1.0, TypeError, r"TrajectoryStep\.index must be an int, got float"),
        ("action", 3, TypeError, r"TrajectoryStep\.action must be a str, got int: 3"),
        ("rationale", None, TypeError, r"TrajectoryStep\.rationale must be a str"),
        ("outcome", "Success", TypeError, r"TrajectoryStep\.outcome must be a StepOutcome, got str: 'Success'"),
        ("latency_ms", -5, ValueError, r"TrajectoryStep\.latency_ms must be >= 0, got -5"),
        ("latency_ms", True, TypeError, r"TrajectoryStep\.latency_ms must be an int, got bool"),
        ("timestamp", datetime(2026, 1, 1), ValueError, r"TrajectoryStep\.timestamp must be timezone-aware \(UTC\), got naive"),
        ("timestamp", "2026-01-01T00:00:00Z", TypeError, r"TrajectoryStep\.timestamp must be a datetime, got str"),
        ("context_embedding", [1.0, math.nan], ValueError, r"TrajectoryStep\.context_embedding must be finite, .*at \[1\]"),
        ("context_embedding", [1.0, math.inf], ValueError, r"TrajectoryStep\.context_embedding must be finite"),
        ("context_embedding", [1e39], ValueError, r"TrajectoryStep\.context_embedding must be finite"),  # overflows float32
        (
            "context_embedding",
            [[1.0, 2.0]],
            ValueError,
            r"TrajectoryStep\.context_embedding must be one-dimensional, got shape \(1, 2\)",
        ),
        ("context_embedding", 1.0, ValueError, r"TrajectoryStep\.context_embedding must be one-dimensional, got shape \(\)"),
        ("context_embedding", "abc", TypeError, r"TrajectoryStep\.context_embedding must be a sequence of numbers, got str"),
        ("context_embedding", ["a", "b"], TypeError, r"TrajectoryStep\.context_embedding must be a sequence of numbers"),
        (
            "context_embedding",
            ["1.5"],
            TypeError,
            r"TrajectoryStep\.context_embedding must be a sequence of numbers, got elements of type <U3",
        ),
        (
            "context_embedding",
            [True, False],
            TypeError,
            r"TrajectoryStep\.context_embedding must be a sequence of numbers, got .*bool",
        ),
        ("context_embedding", [[1.0], [1.0, 2.0]], TypeError, r"TrajectoryStep\.context_embedding must be a sequence of numbers"),
        ("metadata", {"tool_used": "x"}, TypeError, r"TrajectoryStep\.metadata must be a StepMetadata, got dict"),
    ],
)
def test_step_fields_are_checked(field: str, value: Any, exc: type[Exception], message: str) -> None:
    args: dict[str, Any] = {"index": 0, "action": "a", "rationale": "r", "outcome": StepOutcome.success(), "confidence": 0.5}
    args.update(latency_ms=1, timestamp=T0)
    args[field] = value
    with pytest.raises(exc, match=message):
        TrajectoryStep(**args)


def test_step_times_become_utc_and_embeddings_read_only_float32() -> None:
    local = datetime(2026, 1, 1, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    source = np.array([0.5, 0.25], dtype=np.float64)
    s = step(StepOutcome.success(), 1.0, timestamp=local, context_embedding=source)
    assert s.timestamp == T0
    assert s.timestamp.tzinfo is timezone.utc
    assert s.context_embedding is not None
    assert s.context_embedding.dtype == np.float32
    assert not s.context_embedding.flags.writeable
    source[0] = 9.0  # the step holds its own copy
    assert s.context_embedding[0] == 0.5
    with pytest.raises(ValueError, match="read-only"):
        s.context_embedding[0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.confidence = 0.1  # type: ignore[misc]


def test_step_equality_compares_embeddings_by_value() -> None:
    a = step(StepOutcome.success(), 0.5, context_embedding=[1.0, 2.0])
    assert a == step(StepOutcome.success(), 0.5, context_embedding=np.array([1.0, 2.0]))
    assert a != step(StepOutcome.success(), 0.5, context_embedding=[1.0, 2.5])
    assert a != step(StepOutcome.success(), 0.5)
    assert a != "step"


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        ({"tool_used": 1}, TypeError, r"StepMetadata\.tool_used must be a str, got int"),
        ({"input_tokens": -1}, ValueError, r"StepMetadata\.input_tokens must be >= 0, got -1"),
        ({"output_tokens": 2.0}, TypeError, r"StepMetadata\.output_tokens must be an int, got float"),
        ({"tags": "abc"}, TypeError, r"StepMetadata\.tags must be a sequence of str, got str"),
        ({"attributes": {"k": 1}}, TypeError, r"StepMetadata\.attributes\['k'\] must be a str, got int"),
        ({"attributes": [("k", "v")]}, TypeError, r"StepMetadata\.attributes must be a mapping of str to str, got list"),
    ],
)
def test_step_metadata_is_checked(kwargs: dict[str, Any], exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        StepMetadata(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        ({"session_id": 1}, TypeError, r"TrajectoryMetadata\.session_id must be a str, got int"),
        ({"total_input_tokens": -1}, ValueError, r"TrajectoryMetadata\.total_input_tokens must be >= 0"),
        ({"total_output_tokens": None}, TypeError, r"TrajectoryMetadata\.total_output_tokens must be an int, got NoneType"),
        ({"models_used": ["a", None]}, TypeError, r"TrajectoryMetadata\.models_used\[1\] must be a str"),
        ({"tools_invoked": 5}, TypeError, r"TrajectoryMetadata\.tools_invoked must be a sequence of str, got int"),
    ],
)
def test_trajectory_metadata_is_checked(kwargs: dict[str, Any], exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        TrajectoryMetadata(**kwargs)


# ----------------------------------------------------------------------------- trajectory quality


def test_worked_example_from_the_docs() -> None:
    # steps: Success 0.9 -> 0.9; Partial 0.8 -> 0.48000002; Failure 0.7 -> 0.0; mean 0.46000001
    steps = [
        step(StepOutcome.success(), 0.9, 0),
        step(StepOutcome.partial("a", "m"), 0.8, 1),
        step(StepOutcome.failure("e"), 0.7, 2),
    ]
    assert compute_quality(steps, Verdict.success()) == 0.46
    assert compute_quality(steps, Verdict.failure(RootCause.unknown("?"))) == 0.13800001  # f32(0.46) * f32(0.3)
    assert compute_quality(steps, Verdict.partial(0.5)) == 0.345  # factor 0.5 + 0.5 * 0.5 = 0.75
    assert compute_quality(steps, Verdict.recovered(RootCause.unknown("?"), 1, 0.85)) == 0.39100003


@pytest.mark.parametrize(
    ("verdict", "quality"),
    [
        (Verdict.success(), 1.0),
        (Verdict.failure(RootCause.unknown("?")), 0.0),
        (Verdict.partial(0.4), 0.4),
        (Verdict.recovered(RootCause.unknown("?"), 1, 0.7), 0.7),
    ],
)
def test_quality_without_steps_comes_from_the_verdict(verdict: Verdict, quality: float) -> None:
    t = Trajectory.build([], verdict, started_at=T0, total_latency_ms=0)
    assert t.quality == quality
    assert t.compute_quality() == quality


def test_quality_is_float32_summed_left_to_right() -> None:
    confidences = [0.1, 0.2, 0.3, 0.7, 0.9, 0.33]
    steps = [step(StepOutcome.success(), c, i) for i, c in enumerate(confidences)]
    total = np.float32(0)
    for c in confidences:
        total = np.float32(total + np.float32(c))
    expected = np.float32(np.float32(total / np.float32(6)) * np.float32(0.3))
    assert compute_quality(steps, Verdict.failure(RootCause.unknown(""))) == float(str(expected))


def _reference_quality(steps: list[Any], verdict: Verdict) -> float:
    """ruvllm's formula step by step in numpy float32 (every operation rounded to float32)."""
    f = np.float32
    total = f(0)
    for s in steps:
        total = f(total + f(f(s.outcome.quality_score) * f(s.confidence)))
    mean = f(total / f(len(steps)))
    if isinstance(verdict, PartialVerdict):
        factor = f(f(0.5) + f(f(0.5) * f(verdict.completion_ratio)))
    elif isinstance(verdict, RecoveredVerdict):
        factor = f(verdict.final_quality)
    elif verdict == Verdict.success():
        factor = f(1.0)
    else:
        factor = f(0.3)
    return float(str(f(mean * factor)))


_OUTCOMES = [StepOutcome.success(), StepOutcome.failure("x"), StepOutcome.partial("a", "b"), StepOutcome.skipped("s")]
_CONFIDENCES = [1.0, 0.0, 0.5, 0.9, 0.1, 0.333, 0.75]


@given(
    st.lists(st.tuples(st.sampled_from(_OUTCOMES), st.sampled_from(_CONFIDENCES) | units), min_size=1, max_size=40),
    st.sampled_from([Verdict.success(), Verdict.partial(0.4), Verdict.failure(RootCause.unknown("?"))]),
)
def test_quality_matches_float32_arithmetic_step_by_step(parts: list[tuple[StepOutcome, float]], verdict: Verdict) -> None:
    steps = [step(outcome, confidence, i) for i, (outcome, confidence) in enumerate(parts)]
    assert compute_quality(steps, verdict) == _reference_quality(steps, verdict)


def test_quality_of_many_whole_scores_stays_exact() -> None:
    steps = [step(StepOutcome.success(), 1.0, i) for i in range(3000)] + [step(StepOutcome.failure("x"), 1.0, 3000)]
    assert compute_quality(steps, Verdict.success()) == _reference_quality(steps, Verdict.success())


def test_derived_values() -> None:
    steps = [
        step(StepOutcome.success(), 0.9, 0),
        step(StepOutcome.partial("a", "m"), 0.8, 1),
        step(StepOutcome.success(), 0.4, 2),
    ]
    meta = TrajectoryMetadata(total_input_tokens=120, total_output_tokens=48)
    t = Trajectory.build(steps, Verdict.partial(2 / 3), started_at=T0, total_latency_ms=1250, metadata=meta)
    assert t.step_count == 3
    assert t.step_success_rate == 0.6666667  # f32(2) / f32(3)
    assert t.avg_confidence == 0.70000005  # (0.9 + 0.8 + 0.4) / 3 in f32
    assert t.total_tokens == 168
    assert t.completed_at == T0 + timedelta(milliseconds=1250)
    empty = Trajectory.build([], Verdict.success(), started_at=T0, total_latency_ms=0)
    assert empty.step_success_rate == 0.0
    assert empty.avg_confidence == 0.0
    assert empty.total_tokens == 0
    assert empty.step_count == 0


def test_build_fills_id_uuid_and_empty_embedding() -> None:
    t = Trajectory.build([], Verdict.success(), started_at=T0, total_latency_ms=0)
    assert isinstance(t.id, TrajectoryId)
    assert 0 <= t.id < 2**63  # fits OTLP's signed 64-bit integers
    assert isinstance(t.uuid, uuid.UUID)
    assert t.query_embedding.shape == (0,)
    assert t.response_embedding is None
    assert t.lessons == ()
    other = Trajectory.build([], Verdict.success(), started_at=T0, total_latency_ms=0)
    assert other.id != t.id
    assert other.uuid != t.uuid


def test_trajectory_id() -> None:
    assert str(TrajectoryId(7)) == "traj-7"
    assert repr(TrajectoryId(7)) == "TrajectoryId(7)"
    assert TrajectoryId(7) == 7
    assert TrajectoryId(2**64 - 1) == 2**64 - 1
    with pytest.raises(ValueError, match=r"TrajectoryId must be an unsigned 64-bit integer, got -1"):
        TrajectoryId(-1)
    with pytest.raises(ValueError, match=r"unsigned 64-bit integer, got 18446744073709551616"):
        TrajectoryId(2**64)
    with pytest.raises(TypeError, match=r"TrajectoryId must be an int, got bool"):
        TrajectoryId(True)
    with pytest.raises(TypeError, match=r"TrajectoryId must be an int, got str"):
        TrajectoryId("7")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "exc", "message"),
    [
        ("uuid", "5f0c6b3e-8a1d-4c2b-9e7f-0a1b2c3d4e5f", TypeError, r"Trajectory\.uuid must be a uuid\.UUID, got str"),
        ("query_embedding", [[0.1]], ValueError, r"Trajectory\.query_embedding must be one-dimensional"),
        ("query_embedding", [math.nan], ValueError, r"Trajectory\.query_embedding must be finite"),
        ("response_embedding", [math.inf], ValueError, r"Trajectory\.response_embedding must be finite"),
        ("steps", ["step"], TypeError, r"Trajectory\.steps\[0\] must be a TrajectoryStep, got str"),
        ("verdict", "Success", TypeError, r"Trajectory\.verdict must be a Verdict, got str"),
        ("quality", math.nan, ValueError, r"Trajectory\.quality must be finite"),
        ("quality", 1e39, ValueError, r"Trajectory\.quality must fit a float32, got 1e\+39"),
        ("quality", "1", TypeError, r"Trajectory\.quality must be a number, got str"),
        ("total_latency_ms", -1, ValueError, r"Trajectory\.total_latency_ms must be >= 0, got -1"),
        ("started_at", datetime(2026, 1, 1), ValueError, r"Trajectory\.started_at must be timezone-aware"),
        ("completed_at", None, TypeError, r"Trajectory\.completed_at must be a datetime, got NoneType"),
        ("metadata", {}, TypeError, r"Trajectory\.metadata must be a TrajectoryMetadata, got dict"),
        ("lessons", "learn", TypeError, r"Trajectory\.lessons must be a sequence of str, got str"),
        ("id", -3, ValueError, r"TrajectoryId must be an unsigned 64-bit integer, got -3"),
    ],
)
def test_trajectory_fields_are_checked(field: str, value: Any, exc: type[Exception], message: str) -> None:
    good = simple_trajectory()
    kwargs = {f.name: getattr(good, f.name) for f in dataclasses.fields(Trajectory)}
    kwargs[field] = value
    with pytest.raises(exc, match=message):
        Trajectory(**kwargs)


def test_trajectory_is_frozen_and_compares_by_value() -> None:
    t = simple_trajectory(query_embedding=[0.1, 0.2])
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.quality = 0.5  # type: ignore[misc]
    assert not t.query_embedding.flags.writeable
    assert t == simple_trajectory(query_embedding=[0.1, 0.2])
    assert t != simple_trajectory(query_embedding=[0.1, 0.3])
    assert t != simple_trajectory(query_embedding=[0.1, 0.2], lessons=["x"])
    assert t != object()
    with pytest.raises(TypeError, match="unhashable"):
        hash(t)


def test_build_reads_a_generator_of_steps_once_and_checks_lessons() -> None:
    t = Trajectory.build(
        (step(StepOutcome.success(), c, i) for i, c in enumerate([0.5, 1.0])),
        Verdict.success(),
        started_at=T0,
        total_latency_ms=0,
    )
    assert t.step_count == 2
    assert t.quality == 0.75
    with pytest.raises(TypeError, match=r"lessons must be a sequence of str, got str"):
        Trajectory.build([], Verdict.success(), started_at=T0, total_latency_ms=0, lessons="learn")
    with pytest.raises(TypeError, match=r"steps must be a sequence of TrajectoryStep, got int"):
        Trajectory.build(3, Verdict.success(), started_at=T0, total_latency_ms=0)  # type: ignore[arg-type]


def test_integers_must_fit_u64() -> None:
    with pytest.raises(ValueError, match=r"TrajectoryStep\.latency_ms must be <= 18446744073709551615"):
        step(StepOutcome.success(), 0.5, latency_ms=2**64)
    with pytest.raises(ValueError, match=r"StepMetadata\.input_tokens must be <= 18446744073709551615"):
        StepMetadata(input_tokens=2**64)
    assert StepMetadata(input_tokens=2**64 - 1).input_tokens == 2**64 - 1
