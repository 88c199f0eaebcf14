"""Every JSON file that ruvllm's own serde code wrote reads, scores and writes back in its shape."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers.serde import golden_files
from trajectories.model import (
    FailureVerdict,
    NeedsRetryOutcome,
    PartialOutcome,
    ReasoningError,
    ReasoningErrorType,
    RecoveredVerdict,
    StepMetadata,
    SuccessVerdict,
    ToolFailure,
    Trajectory,
)

GOLDEN = golden_files()
IDS = [p.stem for p in GOLDEN]


def load(name: str) -> Trajectory:
    return Trajectory.from_json((GOLDEN[IDS.index(name)]).read_text(encoding="utf-8"))


def test_there_are_twelve_golden_files() -> None:
    assert len(GOLDEN) == 12
    assert {p.stem for p in GOLDEN} >= {"success_two_steps", "partial_all_outcomes", "recovered_via_reflection"}


@pytest.mark.parametrize("path", GOLDEN, ids=IDS)
def test_golden_file_reads_and_its_quality_recomputes(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    t = Trajectory.from_json(path.read_text(encoding="utf-8"))
    assert int(t.id) == data["id"]
    assert str(t.uuid) == data["uuid"]
    assert len(t.steps) == len(data["steps"])
    assert t.quality == pytest.approx(data["quality"], abs=1e-6)
    assert t.compute_quality() == pytest.approx(data["quality"], abs=1e-6)
    assert Trajectory.from_dict(data) == t


@pytest.mark.parametrize(
    ("name", "quality"),
    [("success_two_steps", 0.92499995), ("partial_all_outcomes", 0.27555), ("recovered_via_reflection", 0.3825)],
)
def test_documented_qualities(name: str, quality: float) -> None:
    t = load(name)
    assert t.compute_quality() == quality  # exactly the shortest float32 decimal serde wrote
    assert repr(t.quality) == repr(quality)


def test_success_two_steps_every_field() -> None:
    t = load("success_two_steps")
    assert t.id == 7
    assert str(t.id) == "traj-7"
    assert t.uuid == uuid.UUID("5f0c6b3e-8a1d-4c2b-9e7f-0a1b2c3d4e5f")
    assert t.query_embedding.dtype == np.float32
    assert t.query_embedding.tolist() == pytest.approx([0.1, -0.25, 0.5, 1.0])
    assert t.response_embedding is not None
    assert t.response_embedding.tolist() == [0.0, 1.0]
    assert isinstance(t.verdict, SuccessVerdict)
    s0, s1 = t.steps
    assert s0.metadata == StepMetadata("web_search", 120, 48, "gpt-4o-mini", ("retrieval",), {"k": "v"})
    assert s0.timestamp == datetime(2026, 1, 1, 0, 0, 0, 100_000, tzinfo=timezone.utc)
    # nine fractional digits in the file: Python keeps microseconds, the rest is truncated
    assert s1.timestamp == datetime(2026, 1, 1, 0, 0, 0, 500_123, tzinfo=timezone.utc)
    assert s1.context_embedding is not None
    assert s1.context_embedding.tolist() == [0.5, 0.25]
    assert s1.metadata is None
    assert t.completed_at == datetime(2026, 1, 1, 0, 0, 1, 250_000, tzinfo=timezone.utc)
    assert t.metadata.session_id == "session-1"
    assert t.metadata.models_used == ("gpt-4o-mini",)
    assert t.total_tokens == 168
    assert t.lessons == ("Search before answering",)
    assert t.is_success


def test_partial_all_outcomes_every_variant() -> None:
    t = load("partial_all_outcomes")
    assert [s.outcome.kind for s in t.steps] == ["success", "partial", "failure", "skipped", "needs_retry"]
    assert t.steps[1].outcome == PartialOutcome("outline", "details")
    assert t.steps[4].outcome == NeedsRetryOutcome("rate limited", ("back off", "smaller batch"))
    assert t.steps[4].timestamp.microsecond == 1
    assert t.steps[2].timestamp.microsecond == 500_000
    assert t.step_success_rate == pytest.approx(0.2)
    assert not t.is_success
    assert not t.is_failure


def test_recovered_via_reflection() -> None:
    t = load("recovered_via_reflection")
    assert t.verdict == RecoveredVerdict(ToolFailure("pytest", "2 tests failed"), 2, 0.85)
    assert t.is_success  # Trajectory.is_success: any recovery
    assert t.verdict.is_success  # Verdict.is_success: final_quality 0.85 >= 0.8


def test_failure_files_carry_each_root_cause() -> None:
    texts = {}
    for name in IDS:
        if name.startswith("failure_"):
            t = load(name)
            assert isinstance(t.verdict, FailureVerdict)
            assert t.is_failure
            texts[name] = str(t.verdict.cause)
    assert len(texts) == 8
    assert texts["failure_tool"] == "Tool 'git' failed: permission denied"
    assert texts["failure_insufficient_context"] == "Insufficient context: missing user id, date"
    assert texts["failure_reasoning"] == "Reasoning error (hallucination): invented API"
    reasoning = load("failure_reasoning").verdict
    assert isinstance(reasoning, FailureVerdict)
    assert isinstance(reasoning.cause, ReasoningError)
    assert reasoning.cause.error_type is ReasoningErrorType.Hallucination


def _same_shape(ours: Any, theirs: Any, where: str = "$") -> None:
    """Same keys in the same order at every level, same values (floats as float32)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        assert list(ours.keys()) == list(theirs.keys()), where
        for key in theirs:
            _same_shape(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), where
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _same_shape(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float) or isinstance(ours, float):
        assert type(ours) is type(theirs), where  # 1.0 stays a float, 7 stays an int
        assert np.float32(ours) == np.float32(theirs), where
    elif isinstance(theirs, str) and theirs.endswith("Z") and theirs[:4].isdigit() and "T" in theirs:
        head, _, frac = theirs[:-1].partition(".")
        expected = head + ("." + frac[:6] if len(frac) == 9 else ("." + frac if frac else "")) + "Z"
        assert ours == expected, where
    else:
        assert ours == theirs, where
        assert type(ours) is type(theirs), where


@pytest.mark.parametrize("path", GOLDEN, ids=IDS)
def test_written_json_has_serde_shape_and_values(path: Path) -> None:
    theirs = json.loads(path.read_text(encoding="utf-8"))
    t = Trajectory.from_dict(theirs)
    ours_compact = t.to_json()
    ours_pretty = t.to_json(indent=2)
    _same_shape(json.loads(ours_compact), theirs)
    _same_shape(json.loads(ours_pretty), theirs)
    assert ": " not in ours_compact.replace('": "', "")  # compact like serde_json::to_string
    assert Trajectory.from_json(ours_compact) == t


def test_pretty_output_matches_serde_text_except_truncated_nanoseconds() -> None:
    for path in GOLDEN:
        text = path.read_text(encoding="utf-8").rstrip("\n")
        ours = Trajectory.from_json(text).to_json(indent=2)
        assert ours == text.replace("00:00:00.500123456Z", "00:00:00.500123Z"), path.name
