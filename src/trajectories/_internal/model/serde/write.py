"""Writing model values in ruvllm's serde form (see :mod:`.serde` and docs/json.md).

Field order is the Rust declaration order, absent options are ``null``, enums are
externally tagged, times are RFC 3339 UTC with ``Z``, f32 values are written as their
shortest decimal, and a NaN or infinity is refused with a JSONFormatError naming the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ...exceptions import JSONFormatError
from ...exceptions import join_path as _join
from ...validate import Embedding, f32, shown
from ..outcome import (
    FailureOutcome,
    NeedsRetryOutcome,
    PartialOutcome,
    SkippedOutcome,
    StepOutcome,
    SuccessOutcome,
)
from ..trajectory import StepMetadata, Trajectory, TrajectoryMetadata, TrajectoryStep
from ..verdict import (
    FailureVerdict,
    PartialVerdict,
    ReasoningErrorType,
    RecoveredVerdict,
    RootCause,
    SuccessVerdict,
    Verdict,
)
from .f32 import shortest_f32_list

__all__ = ["dumps", "format_time", "to_dict"]


def _w_f32(value: float, path: str) -> float:
    v = float(value)
    if math.isfinite(v):
        v = f32(v)
    if not math.isfinite(v):
        raise JSONFormatError(
            f"cannot write {shown(v)}: JSON has no NaN or infinity (serde would write null and fail to read it back)", path
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
        raise JSONFormatError(f"cannot write a naive datetime {shown(value)}; times must be timezone-aware")
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
    """``{"Variant": {field: value, ...}}``, fields in declaration order (the Rust order)."""
    if not dataclasses.is_dataclass(c):
        raise JSONFormatError(f"cannot write {type(c).__name__}: not a RootCause variant", path)
    content: dict[str, Any] = {}
    for f in dataclasses.fields(c):
        value = getattr(c, f.name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, ReasoningErrorType):
            value = value.name
        content[f.name] = value
    return {c.variant: content}


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
    if indent is not None and (isinstance(indent, bool) or not isinstance(indent, int) or indent < 0):
        raise TypeError(f"indent must be None or an int >= 0, got {shown(indent)}")
    data = to_dict(value)
    try:
        if indent is None:
            text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        else:
            text = json.dumps(data, ensure_ascii=False, allow_nan=False, indent=indent)
    except ValueError as exc:  # a float that slipped past the checks above
        raise JSONFormatError(f"cannot write a non-finite number: {exc}") from None
    try:
        text.encode("utf-8")  # one pass in C; Rust strings (and UTF-8 files) cannot hold lone surrogates
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise JSONFormatError(f"cannot write a string holding a lone surrogate {shown(bad)}: it is not valid UTF-8") from None
    return text
