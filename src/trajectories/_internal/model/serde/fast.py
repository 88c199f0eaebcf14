"""The fast path for reading a whole trajectory: the usual, well-formed document, read directly.

The exact reader (:mod:`.read`) reads every field through :class:`~.scalars.Struct`, which
builds each value's path for its error messages, and then the model constructors check every
value again. Nearly every document it is given is well formed (the store reads back what it
wrote), so :func:`fast_trajectory` reads the whole document first with plain type checks and
builds the model objects without checking them twice.

It never raises. At the first thing it does not take in its stride (a missing field, a value
of another type, a time with an offset, a ``str`` subclass) it returns None, and the exact
reader reads the document again from the start and reports, in serde's words, what is wrong.
What it accepts is a subset of what the exact reader accepts, read to equal values of the same
types: tests/model/test_serde_fast.py compares the two on every kind of value and damage.
"""

from __future__ import annotations

import re
import sys
import uuid as uuid_mod
from datetime import datetime, timezone
from typing import Any

from ...exceptions import JSONFormatError
from ...validate import F32_MEMO
from ..constants import EMPTY_EMBEDDING
from ..outcome import StepOutcome
from ..trajectory import StepMetadata, Trajectory, TrajectoryId, TrajectoryMetadata, TrajectoryStep
from ..verdict import Verdict
from .enums import read_outcome, read_verdict
from .scalars import parse_time, read_embedding, read_f32

__all__ = ["fast_trajectory"]

_U64 = 1 << 64
_UTC = timezone.utc
_fromisoformat = datetime.fromisoformat
_SUCCESS_OUTCOME = StepOutcome.success()
_SUCCESS_VERDICT = Verdict.success()

#: The times :func:`.write.format_time` writes (0, 3 or 6 fractional digits, ``Z``), which
#: ``datetime.fromisoformat`` reads on every supported Python once the ``Z`` is cut off.
_PLAIN_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3}(?:\d{3})?)?Z", re.ASCII)


class _Decline(Exception):
    """Internal: the document is not one the fast path reads; the exact reader takes over."""


if sys.version_info >= (3, 11):

    def _time(value: object) -> datetime:
        if type(value) is not str:
            raise _Decline
        if _PLAIN_TIME.fullmatch(value):
            return _fromisoformat(value)  # reads the Z itself, as the timezone.utc singleton
        return parse_time(value)  # another RFC 3339 form (an offset, more digits): read exactly

else:  # pragma: no cover - Python 3.10's fromisoformat does not read a Z

    def _time(value: object) -> datetime:
        if type(value) is not str:
            raise _Decline
        if _PLAIN_TIME.fullmatch(value):
            return _fromisoformat(value[:-1]).replace(tzinfo=_UTC)
        return parse_time(value)


def _f32(value: object) -> float:
    """``read_f32``, with the float32 decimal of a float seen before from f32's memo."""
    if type(value) is float:
        result = F32_MEMO.get(value)
        if result is not None and result - result == 0.0:  # finite (read_f32 refuses the rest)
            return result
    return read_f32(value, "")


def _uint(value: object) -> int:
    if type(value) is not int or not 0 <= value < _U64:  # type(): neither bools nor int subclasses
        raise _Decline
    return value


def _opt_uint(value: object) -> int | None:
    return None if value is None else _uint(value)


def _str(value: object) -> str:
    if type(value) is not str:
        raise _Decline
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _strs(value: object) -> tuple[str, ...]:
    if type(value) is not list:
        raise _Decline
    if not value:  # most tags, tools and lessons lists
        return ()
    for item in value:
        if type(item) is not str:
            raise _Decline
    return tuple(value)


def _str_map(value: object) -> dict[str, str]:
    if type(value) is not dict:
        raise _Decline
    if not value:
        return {}
    for key, item in value.items():
        if type(key) is not str or type(item) is not str:
            raise _Decline
    return dict(value)


def _embedding(value: object) -> Any:
    if type(value) is not list:
        raise _Decline
    return read_embedding(value, "") if value else EMPTY_EMBEDDING


def _step_metadata(value: object) -> StepMetadata | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise _Decline
    get = value.get
    return StepMetadata._trusted(
        tool_used=_opt_str(get("tool_used")),
        input_tokens=_opt_uint(get("input_tokens")),
        output_tokens=_opt_uint(get("output_tokens")),
        model=_opt_str(get("model")),
        tags=_strs(value["tags"]),
        attributes=_str_map(value["attributes"]),
    )


def _step(value: object) -> TrajectoryStep:
    if type(value) is not dict:
        raise _Decline
    outcome = value["outcome"]
    context = value.get("context_embedding")
    return TrajectoryStep._trusted(
        _uint(value["index"]),
        _str(value["action"]),
        _str(value["rationale"]),
        _SUCCESS_OUTCOME if outcome == "Success" else read_outcome(outcome, ""),
        _f32(value["confidence"]),  # kept as read, in [0, 1] or not, as the exact reader does
        _uint(value["latency_ms"]),
        _time(value["timestamp"]),
        None if context is None else _embedding(context),
        _step_metadata(value.get("metadata")),
    )


def _metadata(value: object) -> TrajectoryMetadata:
    if type(value) is not dict:
        raise _Decline
    get = value.get
    return TrajectoryMetadata._trusted(
        session_id=_opt_str(get("session_id")),
        user_id=_opt_str(get("user_id")),
        request_type=_opt_str(get("request_type")),
        total_input_tokens=_uint(get("total_input_tokens", 0)),  # absent is 0, null is an error
        total_output_tokens=_uint(get("total_output_tokens", 0)),
        models_used=_strs(value["models_used"]),
        tools_invoked=_strs(value["tools_invoked"]),
        tags=_strs(value["tags"]),
        attributes=_str_map(value["attributes"]),
    )


def fast_trajectory(value: object) -> Trajectory | None:
    """The trajectory *value* (parsed JSON) holds, or None to leave it to the exact reader."""
    if type(value) is not dict:
        return None
    try:
        steps = value["steps"]
        if type(steps) is not list:
            return None
        verdict = value["verdict"]
        response = value.get("response_embedding")
        t = Trajectory._trusted(
            id=TrajectoryId._trusted(_uint(value["id"])),  # _uint made the check TrajectoryId() would
            uuid=uuid_mod.UUID(_str(value["uuid"])),
            query_embedding=_embedding(value["query_embedding"]),
            response_embedding=None if response is None else _embedding(response),
            steps=tuple([_step(s) for s in steps]),
            verdict=_SUCCESS_VERDICT if verdict == "Success" else read_verdict(verdict, ""),
            quality=_f32(value["quality"]),
            total_latency_ms=_uint(value["total_latency_ms"]),
            started_at=_time(value["started_at"]),
            completed_at=_time(value["completed_at"]),
            metadata=_metadata(value["metadata"]),
            lessons=_strs(value["lessons"]),
        )
    except (_Decline, KeyError, JSONFormatError, TypeError, ValueError, OverflowError):
        return None
    return t
