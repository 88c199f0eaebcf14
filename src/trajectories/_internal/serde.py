"""The model in ruvllm's serde JSON form: ``to_dict`` / ``from_dict`` for every model type.

The shape is what ``#[derive(Serialize, Deserialize)]`` gives the Rust structs (see
docs/json.md): every field, in declaration order; ``null`` for an absent ``Option``;
externally tagged enums (a unit variant is a bare string, any other variant a one-key
object); times as RFC 3339 UTC with ``Z``; f32 values as their shortest decimal.

Reading follows serde too: unknown keys are ignored, a missing required key names the first
missing field (in field order) and where it was, and wrong types or values say what was
expected and what was found, in serde's words. All reading errors are
:class:`JSONFormatError` (a ``ValueError``) with a ``.path`` such as ``steps[2].outcome``.

Leniency, on purpose: every ``Option`` field may be absent (serde does that for ``Option``),
and so may ``TrajectoryMetadata.total_input_tokens`` / ``total_output_tokens`` (the spec gives
them a default of 0). Everything else is required. A step's confidence outside [0, 1] is
accepted as read (the spec: JSON from elsewhere is taken as it is); non-finite numbers never.
"""

from __future__ import annotations

import json
import math
import re
import uuid as uuid_mod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import numpy as np

from .f32fmt import shortest_f32_list
from .outcome import (
    CapabilityLimit,
    ExternalFailure,
    FailureOutcome,
    FailureVerdict,
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
    StepOutcome,
    SuccessOutcome,
    SuccessVerdict,
    ToolFailure,
    Unknown,
    Verdict,
)
from .trajectory import StepMetadata, Trajectory, TrajectoryId, TrajectoryMetadata, TrajectoryStep
from .validate import Embedding, f32

__all__ = ["JSONFormatError", "dumps", "from_dict", "loads", "to_dict"]

T = TypeVar("T")
_U64 = 1 << 64


class JSONFormatError(ValueError):
    """JSON that is not a valid ruvllm value, or a value that cannot be written as JSON.

    ``path`` says where (``steps[2].outcome``; empty for the top level) and ``reason`` what,
    in serde's words: ``missing field `confidence```, ``invalid type: expected f32, got
    string "x"``, ``unknown variant `Foo`, expected one of ...``.
    """

    def __init__(self, reason: str, path: str = "") -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{reason} at {path}" if path else reason)

    def with_line(self, line_no: int) -> JSONFormatError:
        """The same error, prefixed with a JSON-lines line number (``line 7: ...``)."""
        err = JSONFormatError(self.reason, self.path)
        err.args = (f"line {line_no}: {self}",)
        return err


# =========================================================================== writing


def _w_f32(value: float, path: str) -> float:
    v = float(value)
    if math.isfinite(v):
        v = f32(v)
    if not math.isfinite(v):
        raise JSONFormatError(
            f"cannot write {v!r}: JSON has no NaN or infinity (serde would write null and fail to read it back)", path
        )
    return v


def _w_embedding(value: Embedding, path: str) -> list[float]:
    arr = np.asarray(value, dtype=np.float32)
    if not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr)).tolist()[:5]
        raise JSONFormatError(f"cannot write a non-finite embedding (NaN or infinity at elements {bad})", path)
    return shortest_f32_list(arr)


def _w_opt_embedding(value: Embedding | None, path: str) -> list[float] | None:
    return None if value is None else _w_embedding(value, path)


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``: 0, 3 or 6 fractional digits, the fewest that are exact."""
    if value.tzinfo is None:
        raise JSONFormatError(f"cannot write a naive datetime {value!r}; times must be timezone-aware")
    v = value.astimezone(timezone.utc)
    base = f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    us = v.microsecond
    if us == 0:
        return base + "Z"
    if us % 1000 == 0:
        return f"{base}.{us // 1000:03d}Z"
    return f"{base}.{us:06d}Z"


def _w_outcome(o: StepOutcome, path: str) -> Any:
    if isinstance(o, SuccessOutcome):
        return "Success"
    if isinstance(o, PartialOutcome):
        return {"Partial": {"achieved": o.achieved, "missing": o.missing}}
    if isinstance(o, FailureOutcome):
        return {"Failure": {"error": o.error}}
    if isinstance(o, SkippedOutcome):
        return {"Skipped": {"reason": o.reason}}
    if isinstance(o, NeedsRetryOutcome):
        return {"NeedsRetry": {"reason": o.reason, "suggestions": list(o.suggestions)}}
    raise JSONFormatError(f"cannot write {type(o).__name__}: not a StepOutcome variant", path)


def _w_cause(c: RootCause, path: str) -> Any:
    if isinstance(c, InsufficientContext):
        return {"InsufficientContext": {"missing": list(c.missing)}}
    if isinstance(c, InvalidInput):
        return {"InvalidInput": {"details": c.details}}
    if isinstance(c, ToolFailure):
        return {"ToolFailure": {"tool": c.tool, "error": c.error}}
    if isinstance(c, ReasoningError):
        return {"ReasoningError": {"error_type": c.error_type.name, "description": c.description}}
    if isinstance(c, ResourceConstraint):
        return {"ResourceConstraint": {"resource": c.resource, "limit": c.limit}}
    if isinstance(c, ExternalFailure):
        return {"ExternalFailure": {"service": c.service, "error": c.error}}
    if isinstance(c, CapabilityLimit):
        return {"CapabilityLimit": {"limitation": c.limitation}}
    if isinstance(c, Unknown):
        return {"Unknown": {"details": c.details}}
    raise JSONFormatError(f"cannot write {type(c).__name__}: not a RootCause variant", path)


def _w_verdict(v: Verdict, path: str) -> Any:
    if isinstance(v, SuccessVerdict):
        return "Success"
    if isinstance(v, FailureVerdict):
        return {"Failure": _w_cause(v.cause, f"{path}.Failure" if path else "Failure")}
    if isinstance(v, PartialVerdict):
        return {"Partial": {"completion_ratio": _w_f32(v.completion_ratio, _join(path, "Partial.completion_ratio"))}}
    if isinstance(v, RecoveredVerdict):
        p = _join(path, "RecoveredViaReflection")
        return {
            "RecoveredViaReflection": {
                "original_failure": _w_cause(v.original_failure, f"{p}.original_failure"),
                "reflection_attempts": int(v.reflection_attempts),
                "final_quality": _w_f32(v.final_quality, f"{p}.final_quality"),
            }
        }
    raise JSONFormatError(f"cannot write {type(v).__name__}: not a Verdict variant", path)


def _w_step_metadata(m: StepMetadata) -> dict[str, Any]:
    return {
        "tool_used": m.tool_used,
        "input_tokens": m.input_tokens,
        "output_tokens": m.output_tokens,
        "model": m.model,
        "tags": list(m.tags),
        "attributes": dict(m.attributes),
    }


def _w_step(s: TrajectoryStep, path: str) -> dict[str, Any]:
    return {
        "index": int(s.index),
        "action": s.action,
        "rationale": s.rationale,
        "outcome": _w_outcome(s.outcome, _join(path, "outcome")),
        "confidence": _w_f32(s.confidence, _join(path, "confidence")),
        "latency_ms": int(s.latency_ms),
        "timestamp": format_time(s.timestamp),
        "context_embedding": _w_opt_embedding(s.context_embedding, _join(path, "context_embedding")),
        "metadata": None if s.metadata is None else _w_step_metadata(s.metadata),
    }


def _w_trajectory_metadata(m: TrajectoryMetadata) -> dict[str, Any]:
    return {
        "session_id": m.session_id,
        "user_id": m.user_id,
        "request_type": m.request_type,
        "total_input_tokens": int(m.total_input_tokens),
        "total_output_tokens": int(m.total_output_tokens),
        "models_used": list(m.models_used),
        "tools_invoked": list(m.tools_invoked),
        "tags": list(m.tags),
        "attributes": dict(m.attributes),
    }


def _w_trajectory(t: Trajectory) -> dict[str, Any]:
    return {
        "id": int(t.id),
        "uuid": str(t.uuid),
        "query_embedding": _w_embedding(t.query_embedding, "query_embedding"),
        "response_embedding": _w_opt_embedding(t.response_embedding, "response_embedding"),
        "steps": [_w_step(s, f"steps[{i}]") for i, s in enumerate(t.steps)],
        "verdict": _w_verdict(t.verdict, "verdict"),
        "quality": _w_f32(t.quality, "quality"),
        "total_latency_ms": int(t.total_latency_ms),
        "started_at": format_time(t.started_at),
        "completed_at": format_time(t.completed_at),
        "metadata": _w_trajectory_metadata(t.metadata),
        "lessons": list(t.lessons),
    }


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def to_dict(value: object) -> Any:
    """The JSON-ready (``json.dumps``-able) serde form of any model value."""
    if isinstance(value, Trajectory):
        return _w_trajectory(value)
    if isinstance(value, TrajectoryStep):
        return _w_step(value, "")
    if isinstance(value, StepMetadata):
        return _w_step_metadata(value)
    if isinstance(value, TrajectoryMetadata):
        return _w_trajectory_metadata(value)
    if isinstance(value, StepOutcome):
        return _w_outcome(value, "")
    if isinstance(value, Verdict):
        return _w_verdict(value, "")
    if isinstance(value, RootCause):
        return _w_cause(value, "")
    if isinstance(value, ReasoningErrorType):
        return value.name
    raise TypeError(f"value must be a trajectories model value (Trajectory, TrajectoryStep, ...), got {type(value).__name__}")


def dumps(value: object, indent: int | None = None) -> str:
    """``to_dict`` then JSON text: compact like ``serde_json::to_string``, or indented."""
    data = to_dict(value)
    try:
        if indent is None:
            return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return json.dumps(data, ensure_ascii=False, allow_nan=False, indent=indent)
    except ValueError as exc:  # a float that slipped past the checks above
        raise JSONFormatError(f"cannot write a non-finite number: {exc}") from None


# =========================================================================== reading


def _describe(value: object) -> str:
    """What serde calls the JSON value it found (``string "x"``, ``integer `5```, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value!r}`"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, (list, tuple)):
        return "sequence"
    return type(value).__name__


def _invalid_type(expected: str, value: object, path: str) -> JSONFormatError:
    return JSONFormatError(f"invalid type: expected {expected}, got {_describe(value)}", path)


def _r_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _invalid_type("a string", value, path)
    return value


def _r_opt_str(value: object, path: str) -> str | None:
    return None if value is None else _r_str(value, path)


def _r_uint(value: object, path: str, rust: str = "u64") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid_type(rust, value, path)
    if not 0 <= value < _U64:
        raise JSONFormatError(f"invalid value: integer `{value}`, expected {rust}", path)
    return int(value)


def _r_opt_uint(value: object, path: str) -> int | None:
    return None if value is None else _r_uint(value, path)


def _r_f32(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid_type("f32", value, path)
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v) or not math.isfinite(v := f32(v)):
        raise JSONFormatError(f"invalid value: {_describe(value)}, expected a finite f32", path)
    return v


def _r_seq(value: object, path: str, expected: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise _invalid_type(expected, value, path)
    return value


def _r_str_list(value: object, path: str) -> tuple[str, ...]:
    items = _r_seq(value, path, "a sequence of strings")
    return tuple(_r_str(item, f"{path}[{i}]") for i, item in enumerate(items))


def _r_str_map(value: object, path: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _invalid_type("a map of strings", value, path)
    out: dict[str, str] = {}
    for key, item in value.items():
        out[_r_str(key, path)] = _r_str(item, f"{path}[{json.dumps(key, ensure_ascii=False)}]")
    return out


def _r_embedding(value: object, path: str) -> Embedding:
    items = _r_seq(value, path, "a sequence of f32")
    if not all(type(x) is float or type(x) is int for x in items):
        for i, x in enumerate(items):
            _r_f32(x, f"{path}[{i}]")
    try:
        with np.errstate(over="ignore"):
            arr = np.asarray(items, dtype=np.float32)
    except OverflowError:  # an integer too large even for a double
        arr = np.full(len(items), np.inf, dtype=np.float32)
    if arr.ndim != 1:
        raise _invalid_type("a sequence of f32", value, path)
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise JSONFormatError(f"invalid value: {_describe(items[i])}, expected a finite f32", f"{path}[{i}]")
    arr.flags.writeable = False
    return arr


def _r_opt_embedding(value: object, path: str) -> Embedding | None:
    return None if value is None else _r_embedding(value, path)


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def parse_time(value: str) -> datetime:
    """An RFC 3339 time (``Z`` or an offset, any number of fractional digits) as aware UTC.

    Python keeps microseconds: digits beyond the sixth are truncated. Raises ValueError.
    """
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ValueError("not an RFC 3339 date-time")
    year, month, day, hour, minute, second, frac, z, sign, oh, om = m.groups()
    micro = int((frac or "")[:6].ljust(6, "0"))
    if z:
        tz = timezone.utc
    else:
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(-offset if sign == "-" else offset)
    dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
    return dt.astimezone(timezone.utc)


def _r_time(value: object, path: str) -> datetime:
    text = _r_str(value, path)
    try:
        return parse_time(text)
    except (ValueError, OverflowError) as exc:
        raise JSONFormatError(f"invalid value: {_describe(text)}, expected an RFC 3339 date-time ({exc})", path) from None


def _r_uuid(value: object, path: str) -> uuid_mod.UUID:
    text = _r_str(value, path)
    try:
        return uuid_mod.UUID(text)
    except ValueError:
        raise JSONFormatError(f"invalid value: {_describe(text)}, expected a UUID", path) from None


class _Struct:
    """A JSON object being read as a Rust struct: field access with serde's errors."""

    __slots__ = ("data", "path")

    def __init__(self, value: object, path: str, name: str, fields: Sequence[str], optional: frozenset[str]) -> None:
        if not isinstance(value, Mapping):
            raise _invalid_type(f"struct {name}", value, path)
        for field in fields:  # serde reports the first missing field in declaration order
            if field not in value and field not in optional:
                raise JSONFormatError(f"missing field `{field}`", path)
        self.data: Mapping[str, Any] = value
        self.path = path

    def get(self, field: str, reader: Callable[[Any, str], T]) -> T:
        return reader(self.data.get(field), _join(self.path, field))


def _variant(value: object, path: str, enum: str, unit: Sequence[str], data: Sequence[str]) -> tuple[str, Any, str]:
    """Split an externally tagged enum value into (variant, content, content path)."""
    expected = ", ".join(f"`{n}`" for n in _order(unit, data))
    if isinstance(value, str):
        if value in unit:
            return value, None, path
        if value in data:
            raise JSONFormatError(f"invalid type: unit variant `{value}`, expected a variant with fields ({enum})", path)
        raise JSONFormatError(f"unknown variant `{value}`, expected one of {expected}", path)
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise JSONFormatError(f"invalid type: map with {len(value)} entries, expected enum {enum} (a single key)", path)
        ((name, content),) = value.items()
        if name in data:
            return name, content, _join(path, name)
        if name in unit:
            if content is None:
                return name, None, path
            raise JSONFormatError(f"invalid type: {_describe(content)}, expected unit variant {enum}::{name}", _join(path, name))
        raise JSONFormatError(f"unknown variant `{name}`, expected one of {expected}", path)
    raise _invalid_type(f"enum {enum}", value, path)


_VARIANT_ORDER: dict[tuple[str, ...], tuple[str, ...]] = {}


def _order(unit: Sequence[str], data: Sequence[str]) -> tuple[str, ...]:
    key = (*unit, "|", *data)
    if key not in _VARIANT_ORDER:
        _VARIANT_ORDER[key] = tuple(n for n in _DECLARED if n in unit or n in data)
    return _VARIANT_ORDER[key]


# Rust declaration order of every variant name, so that error messages list them as serde does.
_DECLARED = (
    "Success",
    "Partial",
    "Failure",
    "Skipped",
    "NeedsRetry",
    "RecoveredViaReflection",
    "InsufficientContext",
    "InvalidInput",
    "ToolFailure",
    "ReasoningError",
    "ResourceConstraint",
    "ExternalFailure",
    "CapabilityLimit",
    "Unknown",
)
_NONE: frozenset[str] = frozenset()


def _r_outcome(value: object, path: str) -> StepOutcome:
    name, content, p = _variant(value, path, "StepOutcome", ("Success",), ("Partial", "Failure", "Skipped", "NeedsRetry"))
    if name == "Success":
        return StepOutcome.success()
    if name == "Partial":
        s = _Struct(content, p, "Partial", ("achieved", "missing"), _NONE)
        return PartialOutcome(s.get("achieved", _r_str), s.get("missing", _r_str))
    if name == "Failure":
        s = _Struct(content, p, "Failure", ("error",), _NONE)
        return FailureOutcome(s.get("error", _r_str))
    if name == "Skipped":
        s = _Struct(content, p, "Skipped", ("reason",), _NONE)
        return SkippedOutcome(s.get("reason", _r_str))
    s = _Struct(content, p, "NeedsRetry", ("reason", "suggestions"), _NONE)
    return NeedsRetryOutcome(s.get("reason", _r_str), s.get("suggestions", _r_str_list))


def _r_error_type(value: object, path: str) -> ReasoningErrorType:
    names = [m.name for m in ReasoningErrorType]
    if isinstance(value, str):
        if value in names:
            return ReasoningErrorType[value]
        listed = ", ".join(f"`{n}`" for n in names)
        raise JSONFormatError(f"unknown variant `{value}`, expected one of {listed}", path)
    if isinstance(value, Mapping) and len(value) == 1:
        ((name, content),) = value.items()
        if name in names and content is None:
            return ReasoningErrorType[name]
    raise _invalid_type("enum ReasoningErrorType", value, path)


def _r_cause(value: object, path: str) -> RootCause:
    names = (
        "InsufficientContext",
        "InvalidInput",
        "ToolFailure",
        "ReasoningError",
        "ResourceConstraint",
        "ExternalFailure",
        "CapabilityLimit",
        "Unknown",
    )
    name, content, p = _variant(value, path, "RootCause", (), names)
    if name == "InsufficientContext":
        return InsufficientContext(_Struct(content, p, name, ("missing",), _NONE).get("missing", _r_str_list))
    if name == "InvalidInput":
        return InvalidInput(_Struct(content, p, name, ("details",), _NONE).get("details", _r_str))
    if name == "ToolFailure":
        s = _Struct(content, p, name, ("tool", "error"), _NONE)
        return ToolFailure(s.get("tool", _r_str), s.get("error", _r_str))
    if name == "ReasoningError":
        s = _Struct(content, p, name, ("error_type", "description"), _NONE)
        return ReasoningError(s.get("error_type", _r_error_type), s.get("description", _r_str))
    if name == "ResourceConstraint":
        s = _Struct(content, p, name, ("resource", "limit"), _NONE)
        return ResourceConstraint(s.get("resource", _r_str), s.get("limit", _r_str))
    if name == "ExternalFailure":
        s = _Struct(content, p, name, ("service", "error"), _NONE)
        return ExternalFailure(s.get("service", _r_str), s.get("error", _r_str))
    if name == "CapabilityLimit":
        return CapabilityLimit(_Struct(content, p, name, ("limitation",), _NONE).get("limitation", _r_str))
    return Unknown(_Struct(content, p, name, ("details",), _NONE).get("details", _r_str))


def _r_reflection_attempts(value: object, path: str) -> int:
    return _r_uint(value, path, "u32")


def _r_verdict(value: object, path: str) -> Verdict:
    name, content, p = _variant(value, path, "Verdict", ("Success",), ("Failure", "Partial", "RecoveredViaReflection"))
    if name == "Success":
        return Verdict.success()
    if name == "Failure":
        return FailureVerdict(_r_cause(content, p))
    if name == "Partial":
        return PartialVerdict(_Struct(content, p, name, ("completion_ratio",), _NONE).get("completion_ratio", _r_f32))
    s = _Struct(content, p, name, ("original_failure", "reflection_attempts", "final_quality"), _NONE)
    return RecoveredVerdict(
        s.get("original_failure", _r_cause),
        s.get("reflection_attempts", _r_reflection_attempts),
        s.get("final_quality", _r_f32),
    )


_STEP_META_FIELDS = ("tool_used", "input_tokens", "output_tokens", "model", "tags", "attributes")
_STEP_META_OPTIONAL = frozenset({"tool_used", "input_tokens", "output_tokens", "model"})


def _r_step_metadata(value: object, path: str) -> StepMetadata:
    s = _Struct(value, path, "StepMetadata", _STEP_META_FIELDS, _STEP_META_OPTIONAL)
    return StepMetadata(
        tool_used=s.get("tool_used", _r_opt_str),
        input_tokens=s.get("input_tokens", _r_opt_uint),
        output_tokens=s.get("output_tokens", _r_opt_uint),
        model=s.get("model", _r_opt_str),
        tags=s.get("tags", _r_str_list),
        attributes=s.get("attributes", _r_str_map),
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
    return _r_uint(value, path, "usize")


def _r_step(value: object, path: str) -> TrajectoryStep:
    s = _Struct(value, path, "TrajectoryStep", _STEP_FIELDS, _STEP_OPTIONAL)
    index = s.get("index", _r_usize)
    action = s.get("action", _r_str)
    rationale = s.get("rationale", _r_str)
    outcome = s.get("outcome", _r_outcome)
    confidence = s.get("confidence", _r_f32)
    latency_ms = s.get("latency_ms", _r_uint)
    timestamp = s.get("timestamp", _r_time)
    context_embedding = s.get("context_embedding", _r_opt_embedding)
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
    return 0 if value is None else _r_uint(value, path)


def _r_trajectory_metadata(value: object, path: str) -> TrajectoryMetadata:
    s = _Struct(value, path, "TrajectoryMetadata", _META_FIELDS, _META_OPTIONAL)
    if "total_input_tokens" in s.data and s.data["total_input_tokens"] is None:
        raise _invalid_type("u64", None, _join(path, "total_input_tokens"))
    if "total_output_tokens" in s.data and s.data["total_output_tokens"] is None:
        raise _invalid_type("u64", None, _join(path, "total_output_tokens"))
    return TrajectoryMetadata(
        session_id=s.get("session_id", _r_opt_str),
        user_id=s.get("user_id", _r_opt_str),
        request_type=s.get("request_type", _r_opt_str),
        total_input_tokens=s.get("total_input_tokens", _r_tokens),
        total_output_tokens=s.get("total_output_tokens", _r_tokens),
        models_used=s.get("models_used", _r_str_list),
        tools_invoked=s.get("tools_invoked", _r_str_list),
        tags=s.get("tags", _r_str_list),
        attributes=s.get("attributes", _r_str_map),
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
    items = _r_seq(value, path, "a sequence of TrajectoryStep")
    return tuple(_r_step(item, f"{path}[{i}]") for i, item in enumerate(items))


def _r_trajectory(value: object, path: str = "") -> Trajectory:
    s = _Struct(value, path, "Trajectory", _TRAJ_FIELDS, _TRAJ_OPTIONAL)
    return Trajectory(
        id=TrajectoryId(s.get("id", _r_uint)),
        uuid=s.get("uuid", _r_uuid),
        query_embedding=s.get("query_embedding", _r_embedding),
        response_embedding=s.get("response_embedding", _r_opt_embedding),
        steps=s.get("steps", _r_steps),
        verdict=s.get("verdict", _r_verdict),
        quality=s.get("quality", _r_f32),
        total_latency_ms=s.get("total_latency_ms", _r_uint),
        started_at=s.get("started_at", _r_time),
        completed_at=s.get("completed_at", _r_time),
        metadata=s.get("metadata", _r_trajectory_metadata),
        lessons=s.get("lessons", _r_str_list),
    )


_READERS: dict[type, Callable[[Any, str], Any]] = {
    Trajectory: _r_trajectory,
    TrajectoryStep: _r_step,
    StepMetadata: _r_step_metadata,
    TrajectoryMetadata: _r_trajectory_metadata,
    StepOutcome: _r_outcome,
    Verdict: _r_verdict,
    RootCause: _r_cause,
    ReasoningErrorType: _r_error_type,
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
        raise JSONFormatError(f"invalid type: expected {cls.__name__}, got {type(value).__name__} ({_describe(data)})")
    return value


def _reject_constant(name: str) -> Any:
    raise JSONFormatError(f"invalid JSON: {name} is not a JSON number")


def loads(cls: type[T], text: str | bytes | bytearray) -> T:
    """Parse JSON text and read it as *cls*; JSON syntax errors are JSONFormatError too."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"text must be str or bytes, got {type(text).__name__}")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise JSONFormatError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return from_dict(cls, data)
