"""ruvllm serde JSON: round trips, shape, times, floats, and every documented reading error."""

from __future__ import annotations

import copy
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.serde import (
    GOLDEN_DIR,
    T0,
    outcomes,
    root_causes,
    simple_trajectory,
    step,
    step_metadata,
    steps,
    trajectories,
    trajectory_metadata,
    verdicts,
)
from trajectories._internal.model.serde import format_time, from_dict, parse_time, to_dict
from trajectories._internal.model.serde.f32 import shortest_f32_list
from trajectories.model import (
    FailureOutcome,
    FailureVerdict,
    JSONFormatError,
    PartialVerdict,
    ReasoningErrorType,
    RootCause,
    StepMetadata,
    StepOutcome,
    SuccessOutcome,
    ToolFailure,
    Trajectory,
    TrajectoryMetadata,
    TrajectoryStep,
    Verdict,
)

GOLDEN_PARTIAL: dict[str, Any] = json.loads((GOLDEN_DIR / "partial_all_outcomes.json").read_text(encoding="utf-8"))
GOLDEN_SUCCESS: dict[str, Any] = json.loads((GOLDEN_DIR / "success_two_steps.json").read_text(encoding="utf-8"))
TRAJ_KEYS = list(GOLDEN_SUCCESS)
STEP_KEYS = list(GOLDEN_SUCCESS["steps"][0])
STEP_META_KEYS = list(GOLDEN_SUCCESS["steps"][0]["metadata"])
META_KEYS = list(GOLDEN_SUCCESS["metadata"])


# ----------------------------------------------------------------------------- round trips


@settings(max_examples=150, deadline=None)
@given(trajectories())
def test_any_trajectory_round_trips(t: Trajectory) -> None:
    text = t.to_json()
    back = Trajectory.from_json(text)
    assert back == t
    assert back.to_json() == text
    assert Trajectory.from_dict(t.to_dict()) == t


@settings(max_examples=100, deadline=None)
@given(trajectories())
def test_any_trajectory_is_written_in_the_golden_files_shape(t: Trajectory) -> None:
    d = json.loads(t.to_json())
    assert list(d) == TRAJ_KEYS
    assert list(d["metadata"]) == META_KEYS
    for s in d["steps"]:
        assert list(s) == STEP_KEYS
        assert s["metadata"] is None or list(s["metadata"]) == STEP_META_KEYS
    assert isinstance(d["id"], int)
    assert d["uuid"] == str(t.uuid)
    assert d["uuid"] == d["uuid"].lower()
    assert d["started_at"].endswith("Z")
    assert isinstance(d["verdict"], (str, dict))
    if isinstance(d["verdict"], dict):
        assert len(d["verdict"]) == 1


@settings(max_examples=100, deadline=None)
@given(st.one_of(outcomes, root_causes, verdicts, step_metadata, trajectory_metadata, steps()))
def test_every_part_round_trips_through_its_own_methods(value: Any) -> None:
    cls = type(value)
    assert cls.from_json(value.to_json()) == value
    assert cls.from_dict(value.to_dict()) == value
    for base in (StepOutcome, RootCause, Verdict):
        if isinstance(value, base):
            assert base.from_json(value.to_json()) == value  # the base reads any variant


def test_methods_on_each_model_class() -> None:
    assert StepOutcome.success().to_json() == '"Success"'
    assert StepOutcome.failure("x").to_dict() == {"Failure": {"error": "x"}}
    assert Verdict.failure(ToolFailure("git", "x")).to_json() == '{"Failure":{"ToolFailure":{"tool":"git","error":"x"}}}'
    assert RootCause.reasoning_error(ReasoningErrorType.NonSequitur, "d").to_dict() == {
        "ReasoningError": {"error_type": "NonSequitur", "description": "d"}
    }
    assert Verdict.recovered(RootCause.unknown("?"), 2, 0.85).to_dict() == {
        "RecoveredViaReflection": {
            "original_failure": {"Unknown": {"details": "?"}},
            "reflection_attempts": 2,
            "final_quality": 0.85,
        }
    }
    assert to_dict(ReasoningErrorType.Hallucination) == "Hallucination"
    assert from_dict(ReasoningErrorType, "Other") is ReasoningErrorType.Other
    assert StepMetadata().to_dict() == {
        "tool_used": None,
        "input_tokens": None,
        "output_tokens": None,
        "model": None,
        "tags": [],
        "attributes": {},
    }
    assert TrajectoryStep.from_json(step(StepOutcome.skipped("no"), 0.5).to_json()).outcome == StepOutcome.skipped("no")
    assert json.loads(TrajectoryMetadata(session_id="s").to_json(indent=4))["session_id"] == "s"
    assert "\n    " in TrajectoryMetadata().to_json(indent=4)


def test_a_variant_class_only_reads_its_own_variant() -> None:
    assert FailureOutcome.from_json('{"Failure":{"error":"e"}}') == StepOutcome.failure("e")
    with pytest.raises(JSONFormatError, match=r"expected FailureOutcome, got SuccessOutcome"):
        FailureOutcome.from_json('"Success"')
    with pytest.raises(JSONFormatError, match=r"expected PartialVerdict, got SuccessVerdict"):
        PartialVerdict.from_dict("Success")


def test_unicode_is_written_as_utf8_not_escaped() -> None:
    t = simple_trajectory(lessons=["naïve — 日本語 🎉"])
    text = t.to_json()
    assert "日本語 🎉" in text
    assert Trajectory.from_json(text.encode("utf-8")).lessons == ("naïve — 日本語 🎉",)


def test_to_dict_rejects_values_that_are_not_model_values() -> None:
    with pytest.raises(TypeError, match=r"value must be a trajectories model value.*got dict"):
        to_dict({"id": 1})
    with pytest.raises(TypeError, match=r"cls must be a trajectories model class"):
        from_dict(dict, {})
    with pytest.raises(TypeError, match=r"text must be str or bytes, got int"):
        Trajectory.from_json(12)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (T0, "2026-01-01T00:00:00Z"),
        (T0 + timedelta(milliseconds=1), "2026-01-01T00:00:00.001Z"),
        (T0 + timedelta(milliseconds=250), "2026-01-01T00:00:00.250Z"),
        (T0 + timedelta(microseconds=1), "2026-01-01T00:00:00.000001Z"),
        (T0 + timedelta(microseconds=123_450), "2026-01-01T00:00:00.123450Z"),
        (datetime(2026, 1, 1, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))), "2026-01-01T00:00:00Z"),
        (datetime(999, 1, 1, tzinfo=timezone.utc), "0999-01-01T00:00:00Z"),
    ],
)
def test_times_are_written_in_utc_with_0_3_or_6_digits(when: datetime, text: str) -> None:
    assert format_time(when) == text
    assert parse_time(text) == when


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T00:00:00Z", T0),
        ("2026-01-01T00:00:00z", T0),
        ("2026-01-01t00:00:00Z", T0),
        ("2026-01-01 00:00:00Z", T0),
        ("2026-01-01T01:00:00+01:00", T0),
        ("2025-12-31T23:00:00-01:00", T0),
        ("2026-01-01T00:00:00.5Z", T0 + timedelta(milliseconds=500)),
        ("2026-01-01T00:00:00.123456789Z", T0 + timedelta(microseconds=123_456)),
        ("2026-01-01T00:00:00.999999999Z", T0 + timedelta(microseconds=999_999)),
        ("2026-01-01T00:00:00.000000001Z", T0),
    ],
)
def test_rfc3339_times_are_read_as_utc(text: str, expected: datetime) -> None:
    got = parse_time(text)
    assert got == expected
    assert got.tzinfo is timezone.utc


@pytest.mark.parametrize(
    "bad", ["2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "yesterday", "2026-01-01T00:00:00+0100"]
)
def test_bad_times_are_refused_with_the_path(bad: str) -> None:
    d = copy.deepcopy(GOLDEN_PARTIAL)
    d["steps"][3]["timestamp"] = bad
    with pytest.raises(JSONFormatError, match=r"expected an RFC 3339 date-time") as info:
        Trajectory.from_dict(d)
    assert info.value.path == "steps[3].timestamp"
    assert json.dumps(bad) in str(info.value)


# ----------------------------------------------------------------------------- floats


def test_f32_values_are_written_as_their_shortest_decimal() -> None:
    t = Trajectory.from_dict(GOLDEN_SUCCESS)
    assert '"quality":0.92499995' in t.to_json()
    assert '"query_embedding":[0.1,-0.25,0.5,1.0]' in t.to_json()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), max_size=20))
def test_embedding_floats_match_numpy_shortest_repr(values: list[float]) -> None:
    arr = np.array(values, dtype=np.float32)
    got = shortest_f32_list(arr)
    assert [repr(x) for x in got] == [repr(float(str(v))) for v in arr]
    assert np.array_equal(np.array(got, dtype=np.float32), arr)


def test_embedding_floats_match_on_random_bit_patterns() -> None:
    bits = np.random.default_rng(7).integers(0, 2**32, 50_000, dtype=np.uint64).astype(np.uint32)
    arr = bits.view(np.float32)
    arr = arr[np.isfinite(arr)]
    got = shortest_f32_list(arr)
    assert [repr(x) for x in got] == [repr(float(str(v))) for v in arr]


def test_writing_a_384_dim_embedding_is_fast() -> None:
    arr = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    shortest_f32_list(arr)
    n = 200
    start = time.perf_counter()
    for _ in range(n):
        shortest_f32_list(arr)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 500e-6, f"{per_call * 1e6:.0f} µs per 384-dim embedding"  # ~55 µs measured; slack for loaded CI


def test_any_json_number_reads_as_f32() -> None:
    d = copy.deepcopy(GOLDEN_PARTIAL)
    d["steps"][0]["confidence"] = 1
    d["verdict"] = {"Partial": {"completion_ratio": 0}}
    d["quality"] = 0.1000000001
    d["query_embedding"] = [1, 2.5, -3]
    t = Trajectory.from_dict(d)
    assert t.steps[0].confidence == 1.0
    assert t.quality == 0.1
    assert t.query_embedding.tolist() == [1.0, 2.5, -3.0]


def test_confidence_outside_unit_range_is_accepted_as_read() -> None:
    d = copy.deepcopy(GOLDEN_PARTIAL)
    d["steps"][0]["confidence"] = 1.5
    t = Trajectory.from_dict(d)
    assert t.steps[0].confidence == 1.5
    assert json.loads(t.to_json())["steps"][0]["confidence"] == 1.5


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e39])
def test_writing_a_non_finite_float_is_a_clear_error(bad: float) -> None:
    t = simple_trajectory()
    object.__setattr__(t.steps[0], "confidence", bad)  # bypass the constructor's checks, as a bug might
    with pytest.raises(JSONFormatError, match=r"cannot write .*JSON has no NaN or infinity") as info:
        t.to_json()
    assert info.value.path == "steps[0].confidence"
    assert isinstance(info.value, ValueError)


def test_writing_a_non_finite_embedding_or_quality_is_a_clear_error() -> None:
    t = simple_trajectory()
    object.__setattr__(t, "query_embedding", np.array([1.0, np.nan], dtype=np.float32))
    with pytest.raises(JSONFormatError, match=r"non-finite embedding .*elements \[1\]") as info:
        t.to_json()
    assert info.value.path == "query_embedding"
    t = simple_trajectory()
    object.__setattr__(t, "quality", float("inf"))
    with pytest.raises(JSONFormatError, match="at quality"):
        t.to_dict()
    v = Verdict.partial(0.5)
    object.__setattr__(v, "completion_ratio", float("nan"))
    with pytest.raises(JSONFormatError, match=r"cannot write nan.* at Partial\.completion_ratio"):
        v.to_json()


# ----------------------------------------------------------------------------- reading errors


def _read_error(mutate: Any, base: dict[str, Any] = GOLDEN_PARTIAL) -> JSONFormatError:
    d = copy.deepcopy(base)
    mutate(d)
    with pytest.raises(JSONFormatError) as info:
        Trajectory.from_dict(d)
    assert isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize(
    ("mutate", "message", "path"),
    [
        (lambda d: d["steps"][2].pop("confidence"), "missing field `confidence`", "steps[2]"),
        (lambda d: d.pop("id"), "missing field `id`", ""),
        (lambda d: [d.pop("lessons"), d.pop("uuid")], "missing field `uuid`", ""),  # the first in field order
        (lambda d: d["metadata"].pop("models_used"), "missing field `models_used`", "metadata"),
        (lambda d: d["steps"][1]["outcome"]["Partial"].pop("missing"), "missing field `missing`", "steps[1].outcome.Partial"),
        (lambda d: d["verdict"]["Partial"].pop("completion_ratio"), "missing field `completion_ratio`", "verdict.Partial"),
        (
            lambda d: d.__setitem__("verdict", {"RecoveredViaReflection": {"original_failure": {"Unknown": {}}}}),
            "missing field `reflection_attempts`",
            "verdict.RecoveredViaReflection",
        ),
        (
            lambda d: d.__setitem__("verdict", {"Failure": {"ToolFailure": {"tool": "git"}}}),
            "missing field `error`",
            "verdict.Failure.ToolFailure",
        ),
        (
            lambda d: d["steps"][0].__setitem__("metadata", {"tags": []}),
            "missing field `attributes`",
            "steps[0].metadata",
        ),
    ],
)
def test_missing_required_keys_name_the_key_and_where(mutate: Any, message: str, path: str) -> None:
    err = _read_error(mutate)
    assert err.reason == message
    assert err.path == path
    assert str(err) == (f"{message} at {path}" if path else message)


@pytest.mark.parametrize(
    ("mutate", "message", "path"),
    [
        (
            lambda d: d["steps"][0].__setitem__("confidence", "x"),
            'invalid type: expected f32, got string "x"',
            "steps[0].confidence",
        ),
        (lambda d: d["steps"][0].__setitem__("confidence", "0.5"), 'got string "0.5"', "steps[0].confidence"),
        (lambda d: d["steps"][0].__setitem__("confidence", True), "expected f32, got boolean `true`", "steps[0].confidence"),
        (lambda d: d["steps"][0].__setitem__("confidence", None), "expected f32, got null", "steps[0].confidence"),
        (lambda d: d.__setitem__("id", -1), "invalid value: integer `-1`, expected u64", "id"),
        (lambda d: d.__setitem__("id", 2**64), f"invalid value: integer `{2**64}`, expected u64", "id"),
        (lambda d: d.__setitem__("id", 7.0), "invalid type: expected u64, got floating point `7.0`", "id"),
        (lambda d: d.__setitem__("id", False), "expected u64, got boolean `false`", "id"),
        (lambda d: d["steps"][1].__setitem__("index", -3), "expected usize", "steps[1].index"),
        (lambda d: d["steps"][1].__setitem__("latency_ms", 1.5), "expected u64, got floating point `1.5`", "steps[1].latency_ms"),
        (lambda d: d.__setitem__("total_latency_ms", "10"), 'expected u64, got string "10"', "total_latency_ms"),
        (lambda d: d.__setitem__("uuid", "not-a-uuid"), 'invalid value: string "not-a-uuid", expected a UUID', "uuid"),
        (lambda d: d.__setitem__("uuid", 5), "expected a string, got integer `5`", "uuid"),
        (lambda d: d.__setitem__("steps", {}), "expected a sequence of TrajectoryStep, got map", "steps"),
        (lambda d: d["steps"].__setitem__(0, "step"), 'expected struct TrajectoryStep, got string "step"', "steps[0]"),
        (lambda d: d.__setitem__("metadata", None), "expected struct TrajectoryMetadata, got null", "metadata"),
        (lambda d: d["metadata"].__setitem__("tags", "a"), 'expected a sequence of strings, got string "a"', "metadata.tags"),
        (lambda d: d["metadata"].__setitem__("tags", ["a", 1]), "expected a string, got integer `1`", "metadata.tags[1]"),
        (
            lambda d: d["metadata"].__setitem__("attributes", {"k": 1}),
            "expected a string, got integer `1`",
            'metadata.attributes["k"]',
        ),
        (
            lambda d: d["metadata"].__setitem__("total_input_tokens", None),
            "expected u64, got null",
            "metadata.total_input_tokens",
        ),
        (lambda d: d["metadata"].__setitem__("session_id", 3), "expected a string, got integer `3`", "metadata.session_id"),
        (lambda d: d.__setitem__("lessons", [None]), "expected a string, got null", "lessons[0]"),
        (lambda d: d.__setitem__("query_embedding", None), "expected a sequence of f32, got null", "query_embedding"),
        (lambda d: d.__setitem__("query_embedding", [[1.0, 2.0]]), "expected f32, got sequence", "query_embedding[0]"),
        (lambda d: d.__setitem__("query_embedding", [1.0, "2"]), 'expected f32, got string "2"', "query_embedding[1]"),
        (lambda d: d.__setitem__("query_embedding", [0.0, 1e39]), "expected a finite f32", "query_embedding[1]"),
        (lambda d: d.__setitem__("response_embedding", [1.0, True]), "expected f32, got boolean `true`", "response_embedding[1]"),
        (lambda d: d.__setitem__("quality", 1e300), "expected a finite f32", "quality"),
        (lambda d: d.__setitem__("quality", 10**400), "expected a finite f32", "quality"),
    ],
)
def test_wrong_types_and_values_say_what_was_expected_and_found(mutate: Any, message: str, path: str) -> None:
    err = _read_error(mutate)
    assert message in err.reason
    assert err.path == path


@pytest.mark.parametrize(
    ("mutate", "message", "path"),
    [
        (
            lambda d: d["steps"][1].__setitem__("outcome", "Bogus"),
            "unknown variant `Bogus`, expected one of `Success`, `Partial`, `Failure`, `Skipped`, `NeedsRetry`",
            "steps[1].outcome",
        ),
        (
            lambda d: d["steps"][1].__setitem__("outcome", {"success": None}),
            "unknown variant `success`, expected one of `Success`",
            "steps[1].outcome",
        ),
        (
            lambda d: d.__setitem__("verdict", "Recovered"),
            "unknown variant `Recovered`, expected one of `Success`, `Failure`, `Partial`, `RecoveredViaReflection`",
            "verdict",
        ),
        (
            lambda d: d.__setitem__("verdict", {"Failure": {"Timeout": {}}}),
            "unknown variant `Timeout`, expected one of `InsufficientContext`, `InvalidInput`, `ToolFailure`, `ReasoningError`, "
            "`ResourceConstraint`, `ExternalFailure`, `CapabilityLimit`, `Unknown`",
            "verdict.Failure",
        ),
        (
            lambda d: d.__setitem__(
                "verdict", {"Failure": {"ReasoningError": {"error_type": "hallucination", "description": ""}}}
            ),
            "unknown variant `hallucination`, expected one of `LogicalInconsistency`",
            "verdict.Failure.ReasoningError.error_type",
        ),
    ],
)
def test_unknown_variants_list_the_expected_ones(mutate: Any, message: str, path: str) -> None:
    err = _read_error(mutate)
    assert err.reason.startswith(message)
    assert err.path == path


@pytest.mark.parametrize(
    ("mutate", "message", "path"),
    [
        (lambda d: d["steps"][2].__setitem__("outcome", "Failure"), "invalid type: unit variant `Failure`", "steps[2].outcome"),
        (
            lambda d: d["steps"][2].__setitem__("outcome", {"Failure": {"error": "x"}, "Skipped": {"reason": "y"}}),
            "invalid type: map with 2 entries, expected enum StepOutcome",
            "steps[2].outcome",
        ),
        (lambda d: d["steps"][2].__setitem__("outcome", {}), "map with 0 entries", "steps[2].outcome"),
        (
            lambda d: d["steps"][2].__setitem__("outcome", ["Failure"]),
            "expected enum StepOutcome, got sequence",
            "steps[2].outcome",
        ),
        (
            lambda d: d["steps"][2].__setitem__("outcome", {"Success": {}}),
            "invalid type: map, expected unit variant StepOutcome::Success",
            "steps[2].outcome.Success",
        ),
        (
            lambda d: d["steps"][2].__setitem__("outcome", {"Failure": "x"}),
            'expected struct Failure, got string "x"',
            "steps[2].outcome.Failure",
        ),
        (lambda d: d.__setitem__("verdict", {"Failure": "ToolFailure"}), "unit variant `ToolFailure`", "verdict.Failure"),
        (
            lambda d: d.__setitem__("verdict", {"Partial": 0.5}),
            "expected struct Partial, got floating point `0.5`",
            "verdict.Partial",
        ),
        (lambda d: d.__setitem__("verdict", None), "expected enum Verdict, got null", "verdict"),
    ],
)
def test_wrong_tag_shapes_are_refused(mutate: Any, message: str, path: str) -> None:
    err = _read_error(mutate)
    assert message in err.reason
    assert err.path == path


def test_unit_variant_as_a_map_with_null_is_accepted() -> None:
    assert StepOutcome.from_dict({"Success": None}) == StepOutcome.success()
    assert Verdict.from_json('{"Success":null}') == Verdict.success()


# ----------------------------------------------------------------------------- leniency


def test_unknown_keys_are_ignored_at_every_level() -> None:
    d = copy.deepcopy(GOLDEN_SUCCESS)
    d["extra"] = {"anything": [1, 2]}
    d["steps"][0]["x"] = 1
    d["steps"][0]["metadata"]["y"] = None
    d["metadata"]["z"] = "z"
    d["verdict"] = {"Partial": {"completion_ratio": 0.5, "note": "n"}}
    t = Trajectory.from_dict(d)
    assert t.verdict == Verdict.partial(0.5)
    assert "extra" not in t.to_json()


def test_optional_fields_may_be_absent_or_null() -> None:
    d = copy.deepcopy(GOLDEN_SUCCESS)
    del d["response_embedding"]
    del d["steps"][1]["context_embedding"]
    del d["steps"][1]["metadata"]
    for key in ("tool_used", "input_tokens", "output_tokens", "model"):
        del d["steps"][0]["metadata"][key]
    for key in ("session_id", "user_id", "request_type", "total_input_tokens", "total_output_tokens"):
        del d["metadata"][key]
    t = Trajectory.from_dict(d)
    assert t.response_embedding is None
    assert t.steps[1].context_embedding is None
    assert t.steps[1].metadata is None
    assert t.steps[0].metadata == StepMetadata(tags=("retrieval",), attributes={"k": "v"})
    assert t.metadata.session_id is None
    assert t.metadata.total_input_tokens == 0  # the spec's default
    assert t.metadata.total_output_tokens == 0
    written = json.loads(t.to_json())
    assert written["response_embedding"] is None  # written back with every field
    assert written["steps"][1]["metadata"] is None
    assert list(written["metadata"]) == META_KEYS


def test_ratios_read_from_json_are_clamped_like_the_constructors() -> None:
    assert Verdict.from_json('{"Partial":{"completion_ratio":1.7}}') == Verdict.partial(1.0)
    v = Verdict.from_json(
        '{"RecoveredViaReflection":{"original_failure":{"Unknown":{"details":""}},"reflection_attempts":1,"final_quality":-2}}'
    )
    assert isinstance(v, Verdict)
    assert v.quality_score == 0.0


# ----------------------------------------------------------------------------- JSON syntax


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"id": NaN}', "invalid JSON: NaN is not a JSON number"),
        ('{"id": Infinity}', "invalid JSON: Infinity is not a JSON number"),
        ('{"id": ', "invalid JSON: Expecting value at line 1 column 8"),
        ("", "invalid JSON"),
        ("[1, 2]", "invalid type: expected struct Trajectory, got sequence"),
    ],
)
def test_bad_json_text_is_a_json_format_error(text: str, message: str) -> None:
    with pytest.raises(JSONFormatError) as info:
        Trajectory.from_json(text)
    assert str(info.value).startswith(message)


def test_constructor_checks_surface_as_json_format_errors() -> None:
    d = copy.deepcopy(GOLDEN_PARTIAL)
    d["verdict"] = {"Failure": {"ReasoningError": {"error_type": {"Other": 1}, "description": ""}}}
    with pytest.raises(JSONFormatError, match=r"expected enum ReasoningErrorType, got map"):
        Trajectory.from_dict(d)


def test_failure_verdict_wraps_its_root_cause_directly() -> None:
    v = Verdict.failure(RootCause.insufficient_context(["a", "b"]))
    assert v.to_dict() == {"Failure": {"InsufficientContext": {"missing": ["a", "b"]}}}
    back = Verdict.from_dict(v.to_dict())
    assert isinstance(back, FailureVerdict)
    assert str(back) == "Failure: Insufficient context: missing a, b"
    assert isinstance(StepOutcome.from_dict("Success"), SuccessOutcome)


def test_lone_surrogates_cannot_be_written() -> None:
    t = simple_trajectory(lessons=["ok \ud800 no"])
    with pytest.raises(JSONFormatError, match=r"lone surrogate '\\ud800'"):
        t.to_json()


def test_indent_must_be_a_non_negative_int() -> None:
    with pytest.raises(TypeError, match=r"indent must be None or an int >= 0, got '  '"):
        Verdict.success().to_json(indent="  ")  # type: ignore[arg-type]
    assert Verdict.partial(0.5).to_json(indent=0) == '{\n"Partial": {\n"completion_ratio": 0.5\n}\n}'


_OPTIONAL_KEYS = {
    "response_embedding",
    "context_embedding",
    "metadata",
    "session_id",
    "user_id",
    "request_type",
    "tool_used",
    "input_tokens",
    "output_tokens",
    "model",
}


def _drop_null_optionals(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_null_optionals(v) for k, v in value.items() if not (k in _OPTIONAL_KEYS and v is None)}
    if isinstance(value, list):
        return [_drop_null_optionals(v) for v in value]
    return value


@settings(max_examples=75, deadline=None)
@given(trajectories())
def test_any_trajectory_reads_back_with_its_null_optionals_left_out(t: Trajectory) -> None:
    sparse = _drop_null_optionals(t.to_dict())
    assert Trajectory.from_dict(sparse) == t
    assert Trajectory.from_json(json.dumps(sparse)) == t  # ASCII-escaped JSON reads the same
