"""Root causes and verdicts: ruvllm's ``RootCause`` and ``Verdict`` enums as small frozen classes.

As with outcomes, each Rust enum is a base class with one subclass per variant and factory
methods on the base (``Verdict.partial(0.5)``). ``kind`` is the snake_case name used in span
attributes and store columns; :data:`VERDICT_KINDS` and :data:`ROOT_CAUSE_KINDS` list them,
derived from the classes. :class:`TrajectoryFailed` is the exception user code raises inside a
trajectory to end it with a given root cause.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..validate import check_int, check_str, check_str_seq, clamp_unit, f32, shown
from .jsonable import JSONSerializable

__all__ = [
    "ROOT_CAUSE_KINDS",
    "VERDICT_KINDS",
    "CapabilityLimit",
    "ExternalFailure",
    "FailureVerdict",
    "InsufficientContext",
    "InvalidInput",
    "PartialVerdict",
    "ReasoningError",
    "ReasoningErrorType",
    "RecoveredVerdict",
    "ResourceConstraint",
    "RootCause",
    "SuccessVerdict",
    "ToolFailure",
    "TrajectoryFailed",
    "Unknown",
    "Verdict",
]


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

    def __post_init__(self) -> None:
        # Every variant's str fields are checked here (the variants with other fields add their own).
        for f in fields(self):  # type: ignore[arg-type]
            if f.type == "str":
                check_str(f"{type(self).__name__}.{f.name}", getattr(self, f.name))

    @property
    def text(self) -> str:
        """ruvllm's ``Display`` text, the same as ``str(cause)``."""
        return str(self)

    @property
    def variant(self) -> str:
        """The Rust variant name (``"ToolFailure"``), as JSON, failure patterns and strategies name it."""
        return type(self).__name__

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

    def __str__(self) -> str:
        return f"Invalid input: {self.details}"


@dataclass(frozen=True, slots=True)
class ToolFailure(RootCause):
    tool: str
    error: str
    kind: ClassVar[str] = "tool_failure"

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

    def __str__(self) -> str:
        return f"Resource constraint: {self.resource} exceeded {self.limit}"


@dataclass(frozen=True, slots=True)
class ExternalFailure(RootCause):
    service: str
    error: str
    kind: ClassVar[str] = "external_failure"

    def __str__(self) -> str:
        return f"External failure ({self.service}): {self.error}"


@dataclass(frozen=True, slots=True)
class CapabilityLimit(RootCause):
    limitation: str
    kind: ClassVar[str] = "capability_limit"

    def __str__(self) -> str:
        return f"Capability limit: {self.limitation}"


@dataclass(frozen=True, slots=True)
class Unknown(RootCause):
    details: str
    kind: ClassVar[str] = "unknown"

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


#: Every root cause kind, in ruvllm's declaration order.
ROOT_CAUSE_KINDS: tuple[str, ...] = tuple(
    c.kind
    for c in (
        InsufficientContext,
        InvalidInput,
        ToolFailure,
        ReasoningError,
        ResourceConstraint,
        ExternalFailure,
        CapabilityLimit,
        Unknown,
    )
)
#: Every verdict kind, in ruvllm's declaration order (what ``trajectory.verdict`` and the store hold).
VERDICT_KINDS: tuple[str, ...] = tuple(c.kind for c in (SuccessVerdict, FailureVerdict, PartialVerdict, RecoveredVerdict))


class TrajectoryFailed(Exception):
    """Raise inside a trajectory to end it with ``Verdict.failure(cause)``; it propagates unchanged.

    A plain string becomes ``RootCause.unknown(cause)``.
    """

    def __init__(self, cause: RootCause | str) -> None:
        if isinstance(cause, str):
            cause = RootCause.unknown(cause)
        if not isinstance(cause, RootCause):
            raise TypeError(f"cause must be a RootCause or str, got {type(cause).__name__}: {shown(cause)}")
        super().__init__(str(cause))
        self.cause: RootCause = cause
