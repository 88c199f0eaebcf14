"""Step outcomes, root causes and verdicts: ruvllm's enums as small frozen classes.

Each Rust enum is a base class with one subclass per variant, so that ``isinstance`` and
``match`` work, plus factory methods on the base (``StepOutcome.failure("boom")``) for
the common case. ``kind`` is the snake_case name used in span attributes.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .jsonable import JSONSerializable
from .validate import check_int, check_str, check_str_seq, clamp_unit, f32, shown

__all__ = [
    "CapabilityLimit",
    "ExternalFailure",
    "FailureOutcome",
    "FailureVerdict",
    "InsufficientContext",
    "InvalidInput",
    "NeedsRetryOutcome",
    "PartialOutcome",
    "PartialVerdict",
    "ReasoningError",
    "ReasoningErrorType",
    "RecoveredVerdict",
    "ResourceConstraint",
    "RootCause",
    "SkippedOutcome",
    "StepOutcome",
    "SuccessOutcome",
    "SuccessVerdict",
    "ToolFailure",
    "Unknown",
    "Verdict",
]


# --------------------------------------------------------------------------- outcomes


class StepOutcome(JSONSerializable):
    """How one step turned out. Use the factories: ``StepOutcome.success()`` and so on."""

    __slots__ = ()
    kind: ClassVar[str]
    #: ruvllm's ``quality_score`` for the variant.
    quality_score: ClassVar[float]

    @property
    def is_success(self) -> bool:
        return False

    @property
    def is_failure(self) -> bool:
        return False

    @staticmethod
    def success() -> SuccessOutcome:
        return _SUCCESS

    @staticmethod
    def partial(achieved: str, missing: str) -> PartialOutcome:
        return PartialOutcome(achieved, missing)

    @staticmethod
    def failure(error: str) -> FailureOutcome:
        return FailureOutcome(error)

    @staticmethod
    def skipped(reason: str) -> SkippedOutcome:
        return SkippedOutcome(reason)

    @staticmethod
    def needs_retry(reason: str, suggestions: tuple[str, ...] | list[str] = ()) -> NeedsRetryOutcome:
        return NeedsRetryOutcome(reason, check_str_seq("NeedsRetryOutcome.suggestions", suggestions))


@dataclass(frozen=True, slots=True)
class SuccessOutcome(StepOutcome):
    kind: ClassVar[str] = "success"
    quality_score: ClassVar[float] = 1.0

    @property
    def is_success(self) -> bool:
        return True


_SUCCESS = SuccessOutcome()


@dataclass(frozen=True, slots=True)
class PartialOutcome(StepOutcome):
    achieved: str
    missing: str
    kind: ClassVar[str] = "partial"
    quality_score: ClassVar[float] = 0.6

    def __post_init__(self) -> None:
        check_str("PartialOutcome.achieved", self.achieved)
        check_str("PartialOutcome.missing", self.missing)


@dataclass(frozen=True, slots=True)
class FailureOutcome(StepOutcome):
    error: str
    kind: ClassVar[str] = "failure"
    quality_score: ClassVar[float] = 0.0

    def __post_init__(self) -> None:
        check_str("FailureOutcome.error", self.error)

    @property
    def is_failure(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class SkippedOutcome(StepOutcome):
    reason: str
    kind: ClassVar[str] = "skipped"
    quality_score: ClassVar[float] = 0.3

    def __post_init__(self) -> None:
        check_str("SkippedOutcome.reason", self.reason)


@dataclass(frozen=True, slots=True)
class NeedsRetryOutcome(StepOutcome):
    reason: str
    suggestions: tuple[str, ...] = ()
    kind: ClassVar[str] = "needs_retry"
    quality_score: ClassVar[float] = 0.2

    def __post_init__(self) -> None:
        check_str("NeedsRetryOutcome.reason", self.reason)
        object.__setattr__(self, "suggestions", check_str_seq("NeedsRetryOutcome.suggestions", self.suggestions))


# --------------------------------------------------------------------------- root causes


class ReasoningErrorType(enum.Enum):
    """Kinds of reasoning error. ``str()`` is snake_case; JSON uses the variant name."""

    LogicalInconsistency = "logical_inconsistency"
    FactualError = "factual_error"
    Hallucination = "hallucination"
    CircularReasoning = "circular_reasoning"
    NonSequitur = "non_sequitur"
    OverGeneralization = "over_generalization"
    UnderSpecification = "under_specification"
    Other = "other"

    def __str__(self) -> str:
        return self.value


class RootCause(JSONSerializable):
    """Why a trajectory failed. ``str(cause)`` is ruvllm's ``Display`` text."""

    __slots__ = ()
    kind: ClassVar[str]

    @property
    def text(self) -> str:
        """ruvllm's ``Display`` text, the same as ``str(cause)``."""
        return str(self)

    @staticmethod
    def insufficient_context(missing: list[str] | tuple[str, ...]) -> InsufficientContext:
        return InsufficientContext(check_str_seq("InsufficientContext.missing", missing))

    @staticmethod
    def invalid_input(details: str) -> InvalidInput:
        return InvalidInput(details)

    @staticmethod
    def tool_failure(tool: str, error: str) -> ToolFailure:
        return ToolFailure(tool, error)

    @staticmethod
    def reasoning_error(error_type: ReasoningErrorType | str, description: str) -> ReasoningError:
        return ReasoningError(_reasoning_type(error_type), description)

    @staticmethod
    def resource_constraint(resource: str, limit: str) -> ResourceConstraint:
        return ResourceConstraint(resource, limit)

    @staticmethod
    def external_failure(service: str, error: str) -> ExternalFailure:
        return ExternalFailure(service, error)

    @staticmethod
    def capability_limit(limitation: str) -> CapabilityLimit:
        return CapabilityLimit(limitation)

    @staticmethod
    def unknown(details: str) -> Unknown:
        return Unknown(details)


def _reasoning_type(value: object) -> ReasoningErrorType:
    if isinstance(value, ReasoningErrorType):
        return value
    if isinstance(value, str):
        for member in ReasoningErrorType:
            if value in (member.name, member.value):
                return member
        names = ", ".join(m.name for m in ReasoningErrorType)
        raise ValueError(f"ReasoningError.error_type must be one of {names}, got {shown(value)}")
    raise TypeError(f"ReasoningError.error_type must be a ReasoningErrorType, got {type(value).__name__}: {shown(value)}")


@dataclass(frozen=True, slots=True)
class InsufficientContext(RootCause):
    missing: tuple[str, ...]
    kind: ClassVar[str] = "insufficient_context"

    def __post_init__(self) -> None:
        object.__setattr__(self, "missing", check_str_seq("InsufficientContext.missing", self.missing))

    def __str__(self) -> str:
        return f"Insufficient context: missing {', '.join(self.missing)}"


@dataclass(frozen=True, slots=True)
class InvalidInput(RootCause):
    details: str
    kind: ClassVar[str] = "invalid_input"

    def __post_init__(self) -> None:
        check_str("InvalidInput.details", self.details)

    def __str__(self) -> str:
        return f"Invalid input: {self.details}"


@dataclass(frozen=True, slots=True)
class ToolFailure(RootCause):
    tool: str
    error: str
    kind: ClassVar[str] = "tool_failure"

    def __post_init__(self) -> None:
        check_str("ToolFailure.tool", self.tool)
        check_str("ToolFailure.error", self.error)

    def __str__(self) -> str:
        return f"Tool '{self.tool}' failed: {self.error}"


@dataclass(frozen=True, slots=True)
class ReasoningError(RootCause):
    error_type: ReasoningErrorType
    description: str
    kind: ClassVar[str] = "reasoning_error"

    def __post_init__(self) -> None:
        object.__setattr__(self, "error_type", _reasoning_type(self.error_type))
        check_str("ReasoningError.description", self.description)

    def __str__(self) -> str:
        return f"Reasoning error ({self.error_type}): {self.description}"


@dataclass(frozen=True, slots=True)
class ResourceConstraint(RootCause):
    resource: str
    limit: str
    kind: ClassVar[str] = "resource_constraint"

    def __post_init__(self) -> None:
        check_str("ResourceConstraint.resource", self.resource)
        check_str("ResourceConstraint.limit", self.limit)

    def __str__(self) -> str:
        return f"Resource constraint: {self.resource} exceeded {self.limit}"


@dataclass(frozen=True, slots=True)
class ExternalFailure(RootCause):
    service: str
    error: str
    kind: ClassVar[str] = "external_failure"

    def __post_init__(self) -> None:
        check_str("ExternalFailure.service", self.service)
        check_str("ExternalFailure.error", self.error)

    def __str__(self) -> str:
        return f"External failure ({self.service}): {self.error}"


@dataclass(frozen=True, slots=True)
class CapabilityLimit(RootCause):
    limitation: str
    kind: ClassVar[str] = "capability_limit"

    def __post_init__(self) -> None:
        check_str("CapabilityLimit.limitation", self.limitation)

    def __str__(self) -> str:
        return f"Capability limit: {self.limitation}"


@dataclass(frozen=True, slots=True)
class Unknown(RootCause):
    details: str
    kind: ClassVar[str] = "unknown"

    def __post_init__(self) -> None:
        check_str("Unknown.details", self.details)

    def __str__(self) -> str:
        return f"Unknown failure: {self.details}"


# --------------------------------------------------------------------------- verdicts


class Verdict(JSONSerializable, abc.ABC):
    """The final judgement on a trajectory. Use ``Verdict.success()`` and friends."""

    __slots__ = ()
    kind: ClassVar[str]

    @property
    def is_success(self) -> bool:
        """ruvllm's ``Verdict::is_success``: Success, or Recovered with quality >= 0.8.

        Note that :attr:`Trajectory.is_success` differs: it counts *any* recovery.
        """
        return False

    @property
    def is_failure(self) -> bool:
        return False

    @property
    @abc.abstractmethod
    def quality_score(self) -> float:
        """ruvllm's ``Verdict::quality_score``."""

    @property
    def description(self) -> str:
        return str(self)

    @staticmethod
    def success() -> SuccessVerdict:
        return _SUCCESS_VERDICT

    @staticmethod
    def failure(cause: RootCause) -> FailureVerdict:
        return FailureVerdict(cause)

    @staticmethod
    def partial(completion_ratio: float) -> PartialVerdict:
        return PartialVerdict(completion_ratio)

    @staticmethod
    def recovered(original_failure: RootCause, reflection_attempts: int, final_quality: float) -> RecoveredVerdict:
        return RecoveredVerdict(original_failure, reflection_attempts, final_quality)


@dataclass(frozen=True, slots=True)
class SuccessVerdict(Verdict):
    kind: ClassVar[str] = "success"

    @property
    def is_success(self) -> bool:
        return True

    @property
    def quality_score(self) -> float:
        return 1.0

    def __str__(self) -> str:
        return "Success"


_SUCCESS_VERDICT = SuccessVerdict()


@dataclass(frozen=True, slots=True)
class FailureVerdict(Verdict):
    cause: RootCause
    kind: ClassVar[str] = "failure"

    def __post_init__(self) -> None:
        if not isinstance(self.cause, RootCause):
            raise TypeError(f"FailureVerdict.cause must be a RootCause, got {type(self.cause).__name__}: {shown(self.cause)}")

    @property
    def is_failure(self) -> bool:
        return True

    @property
    def quality_score(self) -> float:
        return 0.0

    def __str__(self) -> str:
        return f"Failure: {self.cause}"


@dataclass(frozen=True, slots=True)
class PartialVerdict(Verdict):
    completion_ratio: float
    kind: ClassVar[str] = "partial"

    def __post_init__(self) -> None:
        object.__setattr__(self, "completion_ratio", clamp_unit("PartialVerdict.completion_ratio", self.completion_ratio))

    @property
    def quality_score(self) -> float:
        # ruvllm: `completion_ratio * 0.5 + 0.25` in f32
        return f32(np.float32(self.completion_ratio) * np.float32(0.5) + np.float32(0.25))

    def __str__(self) -> str:
        return f"Partial: {_percent(self.completion_ratio)}% complete"


@dataclass(frozen=True, slots=True)
class RecoveredVerdict(Verdict):
    original_failure: RootCause
    reflection_attempts: int
    final_quality: float
    kind: ClassVar[str] = "recovered_via_reflection"

    def __post_init__(self) -> None:
        if not isinstance(self.original_failure, RootCause):
            raise TypeError(
                "RecoveredVerdict.original_failure must be a RootCause, "
                f"got {type(self.original_failure).__name__}: {shown(self.original_failure)}"
            )
        check_int("RecoveredVerdict.reflection_attempts", self.reflection_attempts)
        if self.reflection_attempts >= 1 << 32:  # a u32 in ruvllm
            raise ValueError(f"RecoveredVerdict.reflection_attempts must fit a u32, got {shown(self.reflection_attempts)}")
        object.__setattr__(self, "final_quality", clamp_unit("RecoveredVerdict.final_quality", self.final_quality))

    @property
    def is_success(self) -> bool:
        return self.final_quality >= 0.8

    @property
    def quality_score(self) -> float:
        return self.final_quality

    def __str__(self) -> str:
        return f"Recovered after {self.reflection_attempts} attempts, quality {_percent(self.final_quality)}%"


def _percent(ratio: float) -> str:
    """Rust's ``format!("{:.0}", ratio * 100.0)`` with an f32 ratio: f32 product, ties to even."""
    return f"{float(np.float32(ratio) * np.float32(100.0)):.0f}"
