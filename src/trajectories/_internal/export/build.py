"""Building a scored Trajectory from the spans of one pending trajectory. Pure: no I/O, no clocks.

:mod:`.trace` decides which spans belong to which trajectory; this module reads their
attributes back into the model (docs/exporter.md, "Assembly rules"). Every value comes from
untrusted input (an OTLP payload, a file): it is read through sanitising readers, never trusted.
"""

from __future__ import annotations

import json
import math
import uuid as uuid_mod
from collections.abc import Mapping, Sequence
from typing import Any

from ... import attributes as A
from ..exceptions import JSONFormatError
from ..foreign import Merged, SdkStep, merge_foreign
from ..model.aggregate import ratio_verdict, totals
from ..model.constants import EMPTY_EMBEDDING, U32_MAX, U64_MAX, elapsed_ms, ns_to_datetime
from ..model.outcome import StepOutcome
from ..model.serde import from_dict
from ..model.trajectory import (
    StepMetadata,
    Trajectory,
    TrajectoryId,
    TrajectoryMetadata,
    TrajectoryStep,
    compute_quality,
)
from ..model.verdict import RootCause, Verdict
from ..records import STATUS_ERROR, SpanLike
from ..validate import Embedding, check_embedding, f32
from .frameworks import PendingGroup, build_framework_trajectory
from .trace import PendingTrajectory, opt_int

__all__ = ["build", "build_trajectory"]

#: Captured content (span attribute -> StepMetadata.attributes key).
_CONTENT = ((A.STEP_INPUT, A.STEP_INPUT_ATTRIBUTE), (A.STEP_OUTPUT, A.STEP_OUTPUT_ATTRIBUTE))


def _sum_u64(*values: int) -> int:
    """Token totals saturate at u64's maximum instead of failing the trajectory."""
    return min(U64_MAX, sum(values))


def _opt_str(attributes: Mapping[str, Any], key: str) -> str | None:
    value = attributes.get(key)
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------- attribute readers


def _str_seq(value: object) -> tuple[str, ...]:
    if value is None:  # the common case, before the (slow) abstract Sequence check
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _prefixed(attributes: Mapping[str, Any], prefix: str) -> dict[str, str]:
    n = len(prefix)
    return {k[n:]: v for k, v in attributes.items() if k.startswith(prefix) and isinstance(v, str)}


def _number(attributes: Mapping[str, Any], key: str, default: float) -> float:
    value = attributes.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return float(value)


def _embedding(attributes: Mapping[str, Any], key: str) -> Embedding | None:
    value = attributes.get(key)
    if value is None:
        return None
    try:
        return check_embedding(key, value)
    except (TypeError, ValueError):
        return None


def _outcome(attrs: Mapping[str, Any]) -> StepOutcome:
    kind = attrs.get(A.STEP_OUTCOME)
    if kind == "partial":
        return StepOutcome.partial(_opt_str(attrs, A.STEP_OUTCOME_ACHIEVED) or "", _opt_str(attrs, A.STEP_OUTCOME_MISSING) or "")
    if kind == "failure":
        return StepOutcome.failure(_opt_str(attrs, A.STEP_OUTCOME_ERROR) or "")
    if kind == "skipped":
        return StepOutcome.skipped(_opt_str(attrs, A.STEP_OUTCOME_REASON) or "")
    if kind == "needs_retry":
        return StepOutcome.needs_retry(
            _opt_str(attrs, A.STEP_OUTCOME_REASON) or "", _str_seq(attrs.get(A.STEP_OUTCOME_SUGGESTIONS))
        )
    if kind is None or kind == "success":
        # A step span without an outcome (written by someone else) ran to its end; an
        # ERROR status says otherwise.
        return StepOutcome.success()
    return StepOutcome.failure(f"unknown outcome {kind!r}")


def _root_cause(attrs: Mapping[str, Any]) -> RootCause:
    text = attrs.get(A.TRAJECTORY_VERDICT_ROOT_CAUSE)
    if not isinstance(text, str):
        return RootCause.unknown("no root cause recorded")
    try:
        return from_dict(RootCause, json.loads(text))
    except RecursionError:
        return RootCause.unknown("unreadable root cause: nested too deeply")
    except (ValueError, JSONFormatError) as exc:
        return RootCause.unknown(f"unreadable root cause: {exc}")


def _verdict(root: SpanLike, steps: Sequence[TrajectoryStep]) -> Verdict:
    attrs = root.attributes
    kind = attrs.get(A.TRAJECTORY_VERDICT)
    if kind == "success":
        return Verdict.success()
    if kind == "failure":
        return Verdict.failure(_root_cause(attrs))
    if kind == "partial":
        return Verdict.partial(_number(attrs, A.TRAJECTORY_VERDICT_COMPLETION_RATIO, 0.0))
    if kind == "recovered_via_reflection":
        attempts = min(U32_MAX, opt_int(attrs, A.TRAJECTORY_VERDICT_REFLECTION_ATTEMPTS) or 0)
        return Verdict.recovered(_root_cause(attrs), attempts, _number(attrs, A.TRAJECTORY_VERDICT_FINAL_QUALITY, 0.0))
    # No verdict on the root (a producer other than this SDK): decide by DESIGN's rules.
    if root.status_code == STATUS_ERROR:
        return Verdict.failure(RootCause.unknown(f"span {root.name!r} ended with status ERROR"))
    return ratio_verdict(steps, success_if_all=True)


# --------------------------------------------------------------------------- building


#: The keys of a step span that carries nothing for StepMetadata and no context embedding, as
#: the usual ``@step`` span: with no other key, those readers are skipped (they would find nothing).
_PLAIN_STEP_KEYS = frozenset(
    {
        A.TRAJECTORY_ID,
        A.STEP_INDEX,
        A.STEP_ACTION,
        A.STEP_RATIONALE,
        A.STEP_CONFIDENCE,
        A.STEP_OUTCOME,
        A.STEP_OUTCOME_ACHIEVED,
        A.STEP_OUTCOME_MISSING,
        A.STEP_OUTCOME_ERROR,
        A.STEP_OUTCOME_REASON,
        A.STEP_OUTCOME_SUGGESTIONS,
    }
)


def _step_metadata(attrs: Mapping[str, Any]) -> StepMetadata | None:
    tool = _opt_str(attrs, A.GEN_AI_TOOL_NAME)
    model = _opt_str(attrs, A.GEN_AI_REQUEST_MODEL)
    inp = opt_int(attrs, A.GEN_AI_USAGE_INPUT_TOKENS)
    out = opt_int(attrs, A.GEN_AI_USAGE_OUTPUT_TOKENS)
    tags = _str_seq(attrs.get(A.STEP_TAGS))
    step_attrs = _prefixed(attrs, A.STEP_ATTRIBUTES_PREFIX)
    for span_key, meta_key in _CONTENT:
        text = attrs.get(span_key)
        if isinstance(text, str):
            step_attrs[meta_key] = text
    if tool is None and model is None and inp is None and out is None and not tags and not step_attrs:
        return None
    return StepMetadata._trusted(
        tool_used=tool, input_tokens=inp, output_tokens=out, model=model, tags=tags, attributes=step_attrs
    )


def _step(span: SpanLike) -> TrajectoryStep:
    attrs = span.attributes
    get = attrs.get
    plain = attrs.keys() <= _PLAIN_STEP_KEYS
    confidence = get(A.STEP_CONFIDENCE)
    if confidence is None or confidence == 1.0:  # the default, and what most steps record
        confidence = 1.0
    else:
        confidence = f32(min(1.0, max(0.0, _number(attrs, A.STEP_CONFIDENCE, 1.0))))
    index = opt_int(attrs, A.STEP_INDEX)
    action = get(A.STEP_ACTION)
    if not isinstance(action, str) or not action:
        name = span.name
        action = name if isinstance(name, str) else str(name)
    rationale = get(A.STEP_RATIONALE)
    start = span.start_ns
    # Every value is checked or sanitised here (the constructor's checks would only repeat it).
    return TrajectoryStep._trusted(
        index if index is not None else 0,
        action,
        rationale if isinstance(rationale, str) else "",
        _outcome(attrs),
        confidence,
        elapsed_ms(start, span.end_ns),
        ns_to_datetime(start),
        None if plain else _embedding(attrs, A.STEP_CONTEXT_EMBEDDING),
        None if plain else _step_metadata(attrs),
    )


def _steps(pending: PendingTrajectory, name: str | None) -> Merged:
    """The SDK's steps in index order (ties by start), with the framework spans under the trajectory."""
    sdk = [SdkStep(s.span_id, s.start_ns, _step(s)) for s in pending.steps.values()]
    sdk.sort(key=_step_order)  # the step's index is the span's (0 without one)
    return merge_foreign(sdk, pending.members(), pending.foreign, name)


def _step_order(s: SdkStep) -> tuple[int, int]:
    return s.step.index, s.start_ns


def _own_tokens(attrs: Mapping[str, Any], sdk_steps: Sequence[SpanLike]) -> tuple[int, int]:
    """Tokens recorded on the trajectory itself, in no step: ``trajectory.own_usage.*``, or (spans
    of an SDK before it wrote those) the root's totals less its steps' own tokens."""
    own_in = opt_int(attrs, A.TRAJECTORY_OWN_INPUT_TOKENS)
    own_out = opt_int(attrs, A.TRAJECTORY_OWN_OUTPUT_TOKENS)
    if own_in is not None or own_out is not None:
        return own_in or 0, own_out or 0
    steps_in = sum(opt_int(s.attributes, A.GEN_AI_USAGE_INPUT_TOKENS) or 0 for s in sdk_steps)
    steps_out = sum(opt_int(s.attributes, A.GEN_AI_USAGE_OUTPUT_TOKENS) or 0 for s in sdk_steps)
    total_in = opt_int(attrs, A.GEN_AI_USAGE_INPUT_TOKENS) or 0
    total_out = opt_int(attrs, A.GEN_AI_USAGE_OUTPUT_TOKENS) or 0
    return max(0, total_in - steps_in), max(0, total_out - steps_out)


def build_trajectory(pending: PendingTrajectory) -> Trajectory:
    """The scored Trajectory of *pending*: complete if its root arrived, else flagged incomplete."""
    root = pending.root
    if root is None:
        return _incomplete(pending, _steps(pending, None))
    attrs = root.attributes
    name = _opt_str(attrs, A.GEN_AI_AGENT_NAME)
    merged = _steps(pending, name)
    steps = merged.steps
    verdict = _verdict(root, steps)
    own_in, own_out = _own_tokens(attrs, list(pending.steps.values()))
    total = totals(
        steps,
        input_tokens=own_in,
        output_tokens=own_out,
        models=_str_seq(attrs.get(A.TRAJECTORY_MODELS_USED)),
        tools=_str_seq(attrs.get(A.TRAJECTORY_TOOLS_INVOKED)),
        step_models=merged.models,
        step_tools=merged.tools,
    )
    user_attrs = _prefixed(attrs, A.TRAJECTORY_ATTRIBUTES_PREFIX)
    meta_attrs = {A.TRAJECTORY_NAME_ATTRIBUTE: name, **user_attrs} if name is not None else user_attrs
    missing = pending.missing_steps
    if missing:  # emitted at expiry or shutdown without every step: say so, never silently short
        meta_attrs = {**meta_attrs, A.TRAJECTORY_INCOMPLETE_ATTRIBUTE: "true", A.TRAJECTORY_MISSING_STEPS_ATTRIBUTE: str(missing)}
    # Every value below is read through the sanitising readers above, so the model's
    # constructor checks would only repeat them.
    metadata = TrajectoryMetadata._trusted(
        session_id=_opt_str(attrs, A.SESSION_ID) or _opt_str(attrs, A.GEN_AI_CONVERSATION_ID),
        user_id=_opt_str(attrs, A.USER_ID),
        request_type=_opt_str(attrs, A.TRAJECTORY_REQUEST_TYPE),
        total_input_tokens=total.input_tokens,
        total_output_tokens=total.output_tokens,
        models_used=total.models,
        tools_invoked=total.tools,
        tags=_str_seq(attrs.get(A.TRAJECTORY_TAGS)),
        attributes=meta_attrs,
    )
    query = _embedding(attrs, A.TRAJECTORY_QUERY_EMBEDDING)
    return Trajectory._trusted(
        id=TrajectoryId(pending.id),
        uuid=uuid_mod.UUID(int=pending.trace_id),
        query_embedding=query if query is not None else EMPTY_EMBEDDING,
        response_embedding=_embedding(attrs, A.TRAJECTORY_RESPONSE_EMBEDDING),
        steps=steps,
        verdict=verdict,
        quality=compute_quality(steps, verdict),
        total_latency_ms=elapsed_ms(root.start_ns, root.end_ns),
        started_at=ns_to_datetime(root.start_ns),
        completed_at=ns_to_datetime(root.end_ns),
        metadata=metadata,
        lessons=_str_seq(attrs.get(A.TRAJECTORY_LESSONS)),
    )


def _incomplete(pending: PendingTrajectory, merged: Merged) -> Trajectory:
    spans = list(pending.steps.values())
    start = min((s.start_ns for s in spans), default=0)
    end = max((s.end_ns for s in spans), default=start)
    steps = merged.steps
    verdict = ratio_verdict(steps, success_if_all=False)
    total = totals(steps, step_models=merged.models, step_tools=merged.tools)
    metadata = TrajectoryMetadata(
        total_input_tokens=total.input_tokens,
        total_output_tokens=total.output_tokens,
        models_used=total.models,
        tools_invoked=total.tools,
        attributes={A.TRAJECTORY_INCOMPLETE_ATTRIBUTE: "true"},
    )
    return Trajectory(
        id=TrajectoryId(pending.id),
        uuid=uuid_mod.UUID(int=pending.trace_id),
        query_embedding=EMPTY_EMBEDDING,
        response_embedding=None,
        steps=steps,
        verdict=verdict,
        quality=compute_quality(steps, verdict),
        total_latency_ms=elapsed_ms(start, end),
        started_at=ns_to_datetime(start),
        completed_at=ns_to_datetime(end),
        metadata=metadata,
    )


def build(pending: PendingTrajectory | PendingGroup) -> Trajectory:
    """The trajectory of whatever the buffer handed back: an SDK trajectory's spans, or a framework group."""
    if isinstance(pending, PendingGroup):
        return build_framework_trajectory(pending.group)
    return build_trajectory(pending)
