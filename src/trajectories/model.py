"""The trajectory model of ruvllm's ReasoningBank: steps, outcomes, verdicts, scores.

Everything here is re-exported from :mod:`trajectories`. See docs/concepts.md for the
formulas and docs/json.md for the JSON form.
"""

from ._internal.jsonl import iter_jsonl_lines, read_jsonl, write_jsonl
from ._internal.outcome import (
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
from ._internal.recorder import TrajectoryRecorder
from ._internal.serde import JSONFormatError
from ._internal.trajectory import (
    StepMetadata,
    Trajectory,
    TrajectoryId,
    TrajectoryMetadata,
    TrajectoryStep,
    compute_quality,
)

__all__ = [
    "CapabilityLimit",
    "ExternalFailure",
    "FailureOutcome",
    "FailureVerdict",
    "InsufficientContext",
    "InvalidInput",
    "JSONFormatError",
    "NeedsRetryOutcome",
    "PartialOutcome",
    "PartialVerdict",
    "ReasoningError",
    "ReasoningErrorType",
    "RecoveredVerdict",
    "ResourceConstraint",
    "RootCause",
    "SkippedOutcome",
    "StepMetadata",
    "StepOutcome",
    "SuccessOutcome",
    "SuccessVerdict",
    "ToolFailure",
    "Trajectory",
    "TrajectoryId",
    "TrajectoryMetadata",
    "TrajectoryRecorder",
    "TrajectoryStep",
    "Unknown",
    "Verdict",
    "compute_quality",
    "iter_jsonl_lines",
    "read_jsonl",
    "write_jsonl",
]
