"""Span attributes: every attribute the instrumentation writes, built here from plain values.

Root start and end attributes, step start and end attributes, the evaluation event: the two
handles pass values in and set what comes back; nothing here reads a handle. Every name comes
from :mod:`trajectories.attributes` (docs/attributes.md); the assembly reads exactly these
back, so a trajectory is recoverable from its spans alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ... import attributes as A
from ..model.outcome import FailureOutcome, NeedsRetryOutcome, PartialOutcome, SkippedOutcome, StepOutcome
from ..model.serde import to_dict
from ..model.trajectory import StepMetadata, Trajectory
from ..model.verdict import FailureVerdict, PartialVerdict, RecoveredVerdict, RootCause, Verdict
from ..validate import Embedding

__all__ = [
    "embedding_value",
    "evaluation_event",
    "outcome_attributes",
    "root_cause_json",
    "root_end_attributes",
    "root_start_attributes",
    "step_end_attributes",
    "step_span_name",
    "step_start_attributes",
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


# --------------------------------------------------------------------------- steps


def step_span_name(action: str, tool: str | None) -> str:
    """A tool step is a GenAI ``execute_tool {tool}`` span; any other step is named by its action."""
    return f"{A.OPERATION_EXECUTE_TOOL} {tool}" if tool is not None else action


def step_start_attributes(action: str, tool: str | None, model: str | None) -> dict[str, Any]:
    """What a step span carries from its start (its trajectory id and index are added per call)."""
    attrs: dict[str, Any] = {A.STEP_ACTION: action}
    if tool is not None:
        attrs[A.GEN_AI_OPERATION_NAME] = A.OPERATION_EXECUTE_TOOL
        attrs[A.GEN_AI_TOOL_NAME] = tool
    if model is not None:
        attrs[A.GEN_AI_REQUEST_MODEL] = model
    return attrs


def step_end_attributes(
    outcome: StepOutcome,
    rationale: str,
    confidence: float,
    metadata: StepMetadata | None,
    *,
    content: Mapping[str, str] | None = None,
    context_embedding: Embedding | None = None,
    capture_embeddings: bool = True,
) -> dict[str, Any]:
    """What is only final when the step ends: outcome, confidence, rationale, metadata.

    Captured *content* keys are left out of ``trajectory.step.attributes.*``: they have span
    attributes of their own (``trajectory.step.input``/``.output``), set when captured.
    """
    attrs = outcome_attributes(outcome)
    attrs[A.STEP_RATIONALE] = rationale
    attrs[A.STEP_CONFIDENCE] = confidence
    if metadata is not None:
        if metadata.tags:
            attrs[A.STEP_TAGS] = list(metadata.tags)
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
    if context_embedding is not None and capture_embeddings:
        attrs[A.STEP_CONTEXT_EMBEDDING] = embedding_value(context_embedding)
    return attrs


# --------------------------------------------------------------------------- the trajectory (root) span


def root_start_attributes(name: str, session_id: str | None, user_id: str | None, request_type: str | None) -> dict[str, Any]:
    """The root span's attributes at its start (``trajectory.id`` follows once its span id is known)."""
    attrs: dict[str, Any] = {A.GEN_AI_OPERATION_NAME: A.OPERATION_INVOKE_AGENT, A.GEN_AI_AGENT_NAME: name}
    if session_id is not None:
        attrs[A.GEN_AI_CONVERSATION_ID] = session_id
        attrs[A.SESSION_ID] = session_id
    if user_id is not None:
        attrs[A.USER_ID] = user_id
    if request_type is not None:
        attrs[A.TRAJECTORY_REQUEST_TYPE] = request_type
    return attrs


def root_cause_json(cause: RootCause) -> str:
    """The ruvllm serde JSON of *cause* (the ``trajectory.verdict.root_cause`` attribute)."""
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


def root_end_attributes(
    result: Trajectory,
    user_attributes: Mapping[str, str],
    *,
    sdk_steps: int,
    own_tokens: tuple[int, int],
    cancelled: bool,
    capture_embeddings: bool,
) -> dict[str, Any]:
    """The root span's attributes at its end: verdict, quality, totals, lessons, embeddings.

    ``trajectory.step_count`` is *sdk_steps*, the step spans the SDK wrote (what the exporter waits
    for; framework steps are spans of their own); *own_tokens* are those recorded on the
    trajectory itself, in no step (``trajectory.own_usage.*``).
    """
    meta = result.metadata
    attrs = verdict_attributes(result.verdict)
    attrs[A.TRAJECTORY_QUALITY] = result.quality
    attrs[A.TRAJECTORY_STEP_COUNT] = sdk_steps
    attrs[A.GEN_AI_USAGE_INPUT_TOKENS] = meta.total_input_tokens
    attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] = meta.total_output_tokens
    attrs[A.TRAJECTORY_OWN_INPUT_TOKENS] = own_tokens[0]
    attrs[A.TRAJECTORY_OWN_OUTPUT_TOKENS] = own_tokens[1]
    if meta.models_used:
        attrs[A.TRAJECTORY_MODELS_USED] = list(meta.models_used)
    if meta.tools_invoked:
        attrs[A.TRAJECTORY_TOOLS_INVOKED] = list(meta.tools_invoked)
    if meta.tags:
        attrs[A.TRAJECTORY_TAGS] = list(meta.tags)
    for key, value in user_attributes.items():
        attrs[A.TRAJECTORY_ATTRIBUTES_PREFIX + key] = value
    if result.lessons:
        attrs[A.TRAJECTORY_LESSONS] = list(result.lessons)
    if capture_embeddings:
        if result.query_embedding.size:
            attrs[A.TRAJECTORY_QUERY_EMBEDDING] = embedding_value(result.query_embedding)
        if result.response_embedding is not None:
            attrs[A.TRAJECTORY_RESPONSE_EMBEDDING] = embedding_value(result.response_embedding)
    if cancelled:
        attrs[A.TRAJECTORY_CANCELLED] = True
    return attrs


def evaluation_event(result: Trajectory) -> tuple[str, dict[str, Any]]:
    """The ``gen_ai.evaluation.result`` event the root span carries: the quality and the verdict."""
    return A.EVENT_EVALUATION_RESULT, {
        A.GEN_AI_EVALUATION_NAME: A.QUALITY_EVALUATION_NAME,
        A.GEN_AI_EVALUATION_SCORE_VALUE: result.quality,
        A.GEN_AI_EVALUATION_SCORE_LABEL: result.verdict.kind,
    }
