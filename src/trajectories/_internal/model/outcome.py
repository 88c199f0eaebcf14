"""Step outcomes: ruvllm's ``StepOutcome`` enum as small frozen classes.

The Rust enum is a base class with one subclass per variant, so that ``isinstance`` and
``match`` work, plus factory methods on the base (``StepOutcome.failure("boom")``) for the
common case. ``kind`` is the snake_case name used in span attributes; :data:`OUTCOME_KINDS`
lists them (derived from the classes, so no other module repeats them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..validate import check_str, check_str_seq
from .jsonable import JSONSerializable

__all__ = [
    "OUTCOME_KINDS",
    "FailureOutcome",
    "NeedsRetryOutcome",
    "PartialOutcome",
    "SkippedOutcome",
    "StepOutcome",
    "SuccessOutcome",
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


#: Every outcome kind, in ruvllm's declaration order (what ``trajectory.step.outcome`` holds).
OUTCOME_KINDS: tuple[str, ...] = tuple(
    c.kind for c in (SuccessOutcome, PartialOutcome, FailureOutcome, SkippedOutcome, NeedsRetryOutcome)
)
