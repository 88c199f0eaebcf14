"""The trajectory model of ruvllm's ReasoningBank: steps, outcomes, verdicts, scores.

Everything here is re-exported from :mod:`trajectories`. See docs/concepts.md for the
formulas and docs/json.md for the JSON form.
"""

from ._internal.model.outcome import (
    FailureOutcome,
    NeedsRetryOutcome,
    PartialOutcome,
    SkippedOutcome,
    StepOutcome,
    SuccessOutcome,
)
from ._internal.model.recorder import TrajectoryRecorder
from ._internal.model.serde import JSONFormatError
from ._internal.model.serde.jsonl import iter_jsonl_lines, read_jsonl, write_jsonl
from ._internal.model.trajectory import (
    StepMetadata,
    Trajectory,
    TrajectoryId,
    TrajectoryMetadata,
    TrajectoryStep,
    compute_quality,
)
from ._internal.model.verdict import (
    CapabilityLimit,
    ExternalFailure,
    FailureVerdict,
    InsufficientContext,
    InvalidInput,
    PartialVerdict,
    ReasoningError,
    ReasoningErrorType,
    RecoveredVerdict,
    ResourceConstraint,
    RootCause,
    SuccessVerdict,
    ToolFailure,
    Unknown,
    Verdict,
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
