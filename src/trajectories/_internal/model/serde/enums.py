"""Reading ruvllm's enums from serde form: step outcomes, verdicts, root causes, error types.

Externally tagged, as serde writes them: a unit variant is a bare string, any other variant
a one-key object (:func:`.scalars.variant`). :mod:`.read` reads the structs around them.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...exceptions import JSONFormatError
from .. import verdict as V
from ..outcome import (
    FailureOutcome,
    NeedsRetryOutcome,
    PartialOutcome,
    SkippedOutcome,
    StepOutcome,
)
from ..verdict import (
    FailureVerdict,
    PartialVerdict,
    ReasoningErrorType,
    RecoveredVerdict,
    RootCause,
    Verdict,
)
from .scalars import NO_OPTIONAL, Struct, invalid_type, read_f32, read_str, read_str_list, read_uint, variant

__all__ = ["read_cause", "read_error_type", "read_outcome", "read_verdict"]


_OUTCOMES = ("Success", "Partial", "Failure", "Skipped", "NeedsRetry")
_VERDICTS = ("Success", "Failure", "Partial", "RecoveredViaReflection")


def read_outcome(value: object, path: str) -> StepOutcome:
    name, content, p = variant(value, path, "StepOutcome", _OUTCOMES, ("Success",))
    if name == "Success":
        return StepOutcome.success()
    if name == "Partial":
        s = Struct(content, p, "Partial", ("achieved", "missing"), NO_OPTIONAL)
        return PartialOutcome(s.get("achieved", read_str), s.get("missing", read_str))
    if name == "Failure":
        s = Struct(content, p, "Failure", ("error",), NO_OPTIONAL)
        return FailureOutcome(s.get("error", read_str))
    if name == "Skipped":
        s = Struct(content, p, "Skipped", ("reason",), NO_OPTIONAL)
        return SkippedOutcome(s.get("reason", read_str))
    s = Struct(content, p, "NeedsRetry", ("reason", "suggestions"), NO_OPTIONAL)
    return NeedsRetryOutcome(s.get("reason", read_str), s.get("suggestions", read_str_list))


def read_error_type(value: object, path: str) -> ReasoningErrorType:
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
    raise invalid_type("enum ReasoningErrorType", value, path)


def read_cause(value: object, path: str) -> RootCause:
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
    name, content, p = variant(value, path, "RootCause", names)
    if name == "InsufficientContext":
        return V.InsufficientContext(Struct(content, p, name, ("missing",), NO_OPTIONAL).get("missing", read_str_list))
    if name == "InvalidInput":
        return V.InvalidInput(Struct(content, p, name, ("details",), NO_OPTIONAL).get("details", read_str))
    if name == "ToolFailure":
        s = Struct(content, p, name, ("tool", "error"), NO_OPTIONAL)
        return V.ToolFailure(s.get("tool", read_str), s.get("error", read_str))
    if name == "ReasoningError":
        s = Struct(content, p, name, ("error_type", "description"), NO_OPTIONAL)
        return V.ReasoningError(s.get("error_type", read_error_type), s.get("description", read_str))
    if name == "ResourceConstraint":
        s = Struct(content, p, name, ("resource", "limit"), NO_OPTIONAL)
        return V.ResourceConstraint(s.get("resource", read_str), s.get("limit", read_str))
    if name == "ExternalFailure":
        s = Struct(content, p, name, ("service", "error"), NO_OPTIONAL)
        return V.ExternalFailure(s.get("service", read_str), s.get("error", read_str))
    if name == "CapabilityLimit":
        return V.CapabilityLimit(Struct(content, p, name, ("limitation",), NO_OPTIONAL).get("limitation", read_str))
    return V.Unknown(Struct(content, p, name, ("details",), NO_OPTIONAL).get("details", read_str))


def _r_reflection_attempts(value: object, path: str) -> int:
    return read_uint(value, path, "u32")


def read_verdict(value: object, path: str) -> Verdict:
    name, content, p = variant(value, path, "Verdict", _VERDICTS, ("Success",))
    if name == "Success":
        return Verdict.success()
    if name == "Failure":
        return FailureVerdict(read_cause(content, p))
    if name == "Partial":
        return PartialVerdict(Struct(content, p, name, ("completion_ratio",), NO_OPTIONAL).get("completion_ratio", read_f32))
    s = Struct(content, p, name, ("original_failure", "reflection_attempts", "final_quality"), NO_OPTIONAL)
    return RecoveredVerdict(
        s.get("original_failure", read_cause),
        s.get("reflection_attempts", _r_reflection_attempts),
        s.get("final_quality", read_f32),
    )
