"""Reading model values from ruvllm's serde form (see :mod:`.serde` and docs/json.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from ...exceptions import JSONFormatError
from ...exceptions import join_path as _join
from ..outcome import StepOutcome
from ..trajectory import StepMetadata, Trajectory, TrajectoryId, TrajectoryMetadata, TrajectoryStep
from ..verdict import ReasoningErrorType, RootCause, Verdict
from .enums import read_cause, read_error_type, read_outcome, read_verdict
from .fast import fast_trajectory
from .scalars import (
    Struct,
    describe,
    invalid_type,
    read_embedding,
    read_f32,
    read_opt_embedding,
    read_opt_str,
    read_opt_uint,
    read_seq,
    read_str,
    read_str_list,
    read_str_map,
    read_time,
    read_uint,
    read_uuid,
)

__all__ = ["exact_trajectory", "from_dict", "loads"]

T = TypeVar("T")


_STEP_META_FIELDS = ("tool_used", "input_tokens", "output_tokens", "model", "tags", "attributes")
_STEP_META_OPTIONAL = frozenset({"tool_used", "input_tokens", "output_tokens", "model"})


def _r_step_metadata(value: object, path: str) -> StepMetadata:
    s = Struct(value, path, "StepMetadata", _STEP_META_FIELDS, _STEP_META_OPTIONAL)
    return StepMetadata(
        tool_used=s.get("tool_used", read_opt_str),
        input_tokens=s.get("input_tokens", read_opt_uint),
        output_tokens=s.get("output_tokens", read_opt_uint),
        model=s.get("model", read_opt_str),
        tags=s.get("tags", read_str_list),
        attributes=s.get("attributes", read_str_map),
    )


def _r_opt_step_metadata(value: object, path: str) -> StepMetadata | None:
    return None if value is None else _r_step_metadata(value, path)


_STEP_FIELDS = (
    "index",
    "action",
    "rationale",
    "outcome",
    "confidence",
    "latency_ms",
    "timestamp",
    "context_embedding",
    "metadata",
)
_STEP_OPTIONAL = frozenset({"context_embedding", "metadata"})


def _r_usize(value: object, path: str) -> int:
    return read_uint(value, path, "usize")


def _r_step(value: object, path: str) -> TrajectoryStep:
    s = Struct(value, path, "TrajectoryStep", _STEP_FIELDS, _STEP_OPTIONAL)
    index = s.get("index", _r_usize)
    action = s.get("action", read_str)
    rationale = s.get("rationale", read_str)
    outcome = s.get("outcome", read_outcome)
    confidence = s.get("confidence", read_f32)
    latency_ms = s.get("latency_ms", read_uint)
    timestamp = s.get("timestamp", read_time)
    context_embedding = s.get("context_embedding", read_opt_embedding)
    metadata = s.get("metadata", _r_opt_step_metadata)
    in_range = 0.0 <= confidence <= 1.0
    step = TrajectoryStep(
        index=index,
        action=action,
        rationale=rationale,
        outcome=outcome,
        confidence=confidence if in_range else 0.0,
        latency_ms=latency_ms,
        timestamp=timestamp,
        context_embedding=context_embedding,
        metadata=metadata,
    )
    if not in_range:  # JSON from elsewhere is accepted as it is (REASONINGBANK.md §1)
        object.__setattr__(step, "confidence", confidence)
    return step


_META_FIELDS = (
    "session_id",
    "user_id",
    "request_type",
    "total_input_tokens",
    "total_output_tokens",
    "models_used",
    "tools_invoked",
    "tags",
    "attributes",
)
_META_OPTIONAL = frozenset({"session_id", "user_id", "request_type", "total_input_tokens", "total_output_tokens"})


def _r_tokens(value: object, path: str) -> int:
    return 0 if value is None else read_uint(value, path)


def _r_trajectory_metadata(value: object, path: str) -> TrajectoryMetadata:
    s = Struct(value, path, "TrajectoryMetadata", _META_FIELDS, _META_OPTIONAL)
    if "total_input_tokens" in s.data and s.data["total_input_tokens"] is None:
        raise invalid_type("u64", None, _join(path, "total_input_tokens"))
    if "total_output_tokens" in s.data and s.data["total_output_tokens"] is None:
        raise invalid_type("u64", None, _join(path, "total_output_tokens"))
    return TrajectoryMetadata(
        session_id=s.get("session_id", read_opt_str),
        user_id=s.get("user_id", read_opt_str),
        request_type=s.get("request_type", read_opt_str),
        total_input_tokens=s.get("total_input_tokens", _r_tokens),
        total_output_tokens=s.get("total_output_tokens", _r_tokens),
        models_used=s.get("models_used", read_str_list),
        tools_invoked=s.get("tools_invoked", read_str_list),
        tags=s.get("tags", read_str_list),
        attributes=s.get("attributes", read_str_map),
    )


_TRAJ_FIELDS = (
    "id",
    "uuid",
    "query_embedding",
    "response_embedding",
    "steps",
    "verdict",
    "quality",
    "total_latency_ms",
    "started_at",
    "completed_at",
    "metadata",
    "lessons",
)
_TRAJ_OPTIONAL = frozenset({"response_embedding"})


def _r_steps(value: object, path: str) -> tuple[TrajectoryStep, ...]:
    items = read_seq(value, path, "a sequence of TrajectoryStep")
    return tuple(_r_step(item, f"{path}[{i}]") for i, item in enumerate(items))


def exact_trajectory(value: object, path: str = "") -> Trajectory:
    """Read *value* as a Trajectory field by field, with serde's error for the first thing wrong."""
    s = Struct(value, path, "Trajectory", _TRAJ_FIELDS, _TRAJ_OPTIONAL)
    return Trajectory(
        id=TrajectoryId(s.get("id", read_uint)),
        uuid=s.get("uuid", read_uuid),
        query_embedding=s.get("query_embedding", read_embedding),
        response_embedding=s.get("response_embedding", read_opt_embedding),
        steps=s.get("steps", _r_steps),
        verdict=s.get("verdict", read_verdict),
        quality=s.get("quality", read_f32),
        total_latency_ms=s.get("total_latency_ms", read_uint),
        started_at=s.get("started_at", read_time),
        completed_at=s.get("completed_at", read_time),
        metadata=s.get("metadata", _r_trajectory_metadata),
        lessons=s.get("lessons", read_str_list),
    )


def _r_trajectory(value: object, path: str) -> Trajectory:
    # The fast path reads the usual document; the exact reader the rest, and says what is wrong.
    fast = fast_trajectory(value)
    return fast if fast is not None else exact_trajectory(value, path)


_READERS: dict[type, Callable[[Any, str], Any]] = {
    Trajectory: _r_trajectory,
    TrajectoryStep: _r_step,
    StepMetadata: _r_step_metadata,
    TrajectoryMetadata: _r_trajectory_metadata,
    StepOutcome: read_outcome,
    Verdict: read_verdict,
    RootCause: read_cause,
    ReasoningErrorType: read_error_type,
}


def from_dict(cls: type[T], data: object) -> T:
    """Read *data* (parsed JSON) as a *cls* value; *cls* may be a base or a variant class.

    Raises :class:`JSONFormatError` for anything that is not valid serde JSON for *cls*.
    """
    reader = None
    for base in getattr(cls, "__mro__", ()):
        reader = _READERS.get(base)
        if reader is not None:
            break
    if reader is None:
        raise TypeError(f"cls must be a trajectories model class (Trajectory, TrajectoryStep, ...), got {cls!r}")
    try:
        value = reader(data, "")
    except JSONFormatError:
        raise
    except (TypeError, ValueError) as exc:  # a model constructor's own check
        raise JSONFormatError(f"invalid value: {exc}") from None
    if not isinstance(value, cls):
        raise JSONFormatError(f"invalid type: expected {cls.__name__}, got {type(value).__name__} ({describe(data)})")
    return value


def _reject_constant(name: str) -> Any:
    raise JSONFormatError(f"invalid JSON: {name} is not a JSON number")


#: One decoder for every call: ``json.loads(..., parse_constant=...)`` builds a new one each time.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def fast_loads(text: str) -> Trajectory | None:
    """The trajectory in *text* read by the fast path alone; None when the text is not JSON or
    the fast path declines the document, for :func:`loads` to read it and say what is wrong."""
    try:
        data = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return None
    return fast_trajectory(data)


def loads(cls: type[T], text: str | bytes | bytearray) -> T:
    """Parse JSON text and read it as *cls*; JSON syntax errors are JSONFormatError too."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"text must be str or bytes, got {type(text).__name__}")
    try:
        if type(text) is str and not text.startswith("\ufeff"):  # json.loads's own check, and its error
            data = _DECODER.decode(text)
        else:
            data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise JSONFormatError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError as exc:
        raise JSONFormatError(f"invalid JSON: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise JSONFormatError("invalid JSON: nested too deeply") from None
    except JSONFormatError:
        raise
    except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits() digits
        raise JSONFormatError(f"invalid JSON: {str(exc).split(';')[0]}") from None
    return from_dict(cls, data)  # its depth is the schema's, never the document's
