"""Span attributes: how outcomes, steps, verdicts and trajectories are written onto spans.

Every name comes from :mod:`trajectories.attributes`; docs/attributes.md documents them.
The exporter reads exactly these back, so a trajectory is recoverable from its spans.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ... import attributes as A
from ..outcome import (
    FailureOutcome,
    FailureVerdict,
    NeedsRetryOutcome,
    PartialOutcome,
    PartialVerdict,
    RecoveredVerdict,
    RootCause,
    SkippedOutcome,
    StepOutcome,
    Verdict,
)
from ..settings import settings
from ..trajectory import StepMetadata
from ..validate import Embedding

if TYPE_CHECKING:
    from .step_handle import StepHandle

__all__ = [
    "embedding_value",
    "outcome_attributes",
    "root_cause_json",
    "step_end_attributes",
    "success_end_attributes",
    "verdict_attributes",
]


def embedding_value(embedding: Embedding) -> list[float]:
    """float32 values as Python floats: exact, so they read back to the same float32."""
    values: list[float] = embedding.tolist()
    return values


def outcome_attributes(outcome: StepOutcome) -> dict[str, Any]:
    attrs: dict[str, Any] = {A.STEP_OUTCOME: outcome.kind}
    if isinstance(outcome, PartialOutcome):
        attrs[A.STEP_OUTCOME_ACHIEVED] = outcome.achieved
        attrs[A.STEP_OUTCOME_MISSING] = outcome.missing
    elif isinstance(outcome, FailureOutcome):
        attrs[A.STEP_OUTCOME_ERROR] = outcome.error
    elif isinstance(outcome, SkippedOutcome):
        attrs[A.STEP_OUTCOME_REASON] = outcome.reason
    elif isinstance(outcome, NeedsRetryOutcome):
        attrs[A.STEP_OUTCOME_REASON] = outcome.reason
        attrs[A.STEP_OUTCOME_SUGGESTIONS] = list(outcome.suggestions)
    return attrs


def step_end_attributes(step: StepHandle, outcome: StepOutcome, metadata: StepMetadata | None) -> dict[str, Any]:
    """What is only final when the step ends: outcome, confidence, rationale, metadata."""
    attrs = outcome_attributes(outcome)
    _add_end_attributes(attrs, step.rationale, step.confidence, metadata, step._content)
    embedding = step._context_embedding
    if embedding is not None and settings.capture_embeddings:
        attrs[A.STEP_CONTEXT_EMBEDDING] = embedding_value(embedding)
    return attrs


def success_end_attributes(rationale: str, confidence: float, metadata: StepMetadata | None) -> dict[str, Any]:
    """:func:`step_end_attributes` of a successful step whose handle changed nothing (built once per step)."""
    attrs = outcome_attributes(StepOutcome.success())
    _add_end_attributes(attrs, rationale, confidence, metadata, None)
    return attrs


def _add_end_attributes(
    attrs: dict[str, Any],
    rationale: str,
    confidence: float,
    metadata: StepMetadata | None,
    content: Mapping[str, str] | None,
) -> None:
    attrs[A.STEP_RATIONALE] = rationale
    attrs[A.STEP_CONFIDENCE] = confidence
    if metadata is not None:
        if metadata.tags:
            attrs[A.STEP_TAGS] = list(metadata.tags)
        # Captured content has span attributes of its own, set when it was captured.
        for key, value in metadata.attributes.items():
            if content is None or key not in content:
                attrs[A.STEP_ATTRIBUTES_PREFIX + key] = value
        if metadata.input_tokens is not None:
            attrs[A.GEN_AI_USAGE_INPUT_TOKENS] = metadata.input_tokens
        if metadata.output_tokens is not None:
            attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] = metadata.output_tokens
        if metadata.model is not None:
            attrs[A.GEN_AI_REQUEST_MODEL] = metadata.model
        if metadata.tool_used is not None:
            attrs[A.GEN_AI_OPERATION_NAME] = A.OPERATION_EXECUTE_TOOL
            attrs[A.GEN_AI_TOOL_NAME] = metadata.tool_used


def root_cause_json(cause: RootCause) -> str:
    """The ruvllm serde JSON of *cause* (the ``trajectory.verdict.root_cause`` attribute)."""
    from ..serde import to_dict

    return json.dumps(to_dict(cause))


def verdict_attributes(verdict: Verdict) -> dict[str, Any]:
    attrs: dict[str, Any] = {A.TRAJECTORY_VERDICT: verdict.kind}
    if isinstance(verdict, FailureVerdict):
        attrs[A.TRAJECTORY_VERDICT_ROOT_CAUSE] = root_cause_json(verdict.cause)
    elif isinstance(verdict, PartialVerdict):
        attrs[A.TRAJECTORY_VERDICT_COMPLETION_RATIO] = verdict.completion_ratio
    elif isinstance(verdict, RecoveredVerdict):
        attrs[A.TRAJECTORY_VERDICT_ROOT_CAUSE] = root_cause_json(verdict.original_failure)
        attrs[A.TRAJECTORY_VERDICT_REFLECTION_ATTEMPTS] = verdict.reflection_attempts
        attrs[A.TRAJECTORY_VERDICT_FINAL_QUALITY] = verdict.final_quality
    return attrs
