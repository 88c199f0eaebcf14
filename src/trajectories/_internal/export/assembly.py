"""Assembly: finished spans in, scored Trajectory objects out. Pure: no I/O, no clocks, no state.

The in-process exporter, the OTLP receiver and file import all use it, so a trajectory comes
out the same whichever way its spans travelled. The rules (docs/exporter.md):

- A span with ``trajectory.id`` belongs to that trajectory: the root when its
  ``gen_ai.operation.name`` is ``invoke_agent``, a step when it has ``trajectory.step.index``.
- A span without trajectory attributes (an OpenAI or Anthropic instrumentation's ``chat``
  span, say) belongs to the trajectory of its nearest ancestor that has one; its GenAI usage,
  model and tool count toward the nearest enclosing step (if any) and the trajectory totals.
- The trajectory's facts come from its root span; a trajectory whose root never arrived is
  assembled from its steps as incomplete: ``Partial`` (successful steps / steps), flagged
  ``metadata.attributes["incomplete"] = "true"``.
"""

from __future__ import annotations

import json
import math
import uuid as uuid_mod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ... import attributes as A
from ..outcome import RootCause, StepOutcome, SuccessOutcome, Verdict
from ..trajectory import StepMetadata, Trajectory, TrajectoryId, TrajectoryMetadata, TrajectoryStep, compute_quality, trusted
from ..validate import Embedding, check_embedding, f32
from .records import SpanLike

__all__ = [
    "Fold",
    "PendingTrajectory",
    "assemble_trajectories",
    "build_trajectory",
    "fold_of",
    "ns_to_datetime",
    "trajectory_id_of",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EMPTY: Embedding = check_embedding("empty", [])
_ID_MASK = (1 << 63) - 1
_U64_MAX = (1 << 64) - 1
_U32_MAX = (1 << 32) - 1
#: The latest time a datetime can hold (9999-12-31), in epoch ns: times from untrusted input are clamped to it.
_MAX_NS = (datetime(9999, 12, 31, tzinfo=timezone.utc) - _EPOCH) // timedelta(microseconds=1) * 1000
#: GenAI operations that aggregate their children's usage: their tokens would count twice.
_AGGREGATE_OPERATIONS = frozenset({A.OPERATION_INVOKE_AGENT, "create_agent"})
_ERROR = 2
#: Captured content (span attribute -> StepMetadata.attributes key).
_CONTENT = ((A.STEP_INPUT, A.STEP_INPUT_ATTRIBUTE), (A.STEP_OUTPUT, A.STEP_OUTPUT_ATTRIBUTE))


def ns_to_datetime(ns: int) -> datetime:
    """Epoch nanoseconds as an aware UTC datetime, in integer arithmetic (as the instrumentation does).

    Times outside what a datetime holds (from a malformed payload) are clamped to 1970..9999.
    """
    return _EPOCH + timedelta(microseconds=min(max(ns, 0), _MAX_NS) // 1000)


def _ms(start_ns: int, end_ns: int) -> int:
    return min(_U64_MAX, max(0, (end_ns - start_ns) // 1_000_000))


def trajectory_id_of(attributes: Mapping[str, Any]) -> int | None:
    """The ``trajectory.id`` of a span, or None when it has none (or one that is not an id)."""
    value = attributes.get(A.TRAJECTORY_ID)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _ID_MASK:
        return None
    return value


def is_root(attributes: Mapping[str, Any]) -> bool:
    return attributes.get(A.GEN_AI_OPERATION_NAME) == A.OPERATION_INVOKE_AGENT


@dataclass(frozen=True, slots=True)
class Fold:
    """What a span we did not make adds to its trajectory (and to ``step``, a step span id)."""

    step: int | None
    start_ns: int
    input_tokens: int | None
    output_tokens: int | None
    model: str | None
    tool: str | None


def _opt_int(attributes: Mapping[str, Any], key: str) -> int | None:
    """A non-negative int that fits a u64 (every integer field of the model), else None."""
    value = attributes.get(key)
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):  # exact int first: the common case
        return value if 0 <= value <= _U64_MAX else None
    return None


def _sum_u64(*values: int) -> int:
    """Token totals saturate at u64's maximum instead of failing the trajectory."""
    return min(_U64_MAX, sum(values))


def _opt_str(attributes: Mapping[str, Any], key: str) -> str | None:
    value = attributes.get(key)
    return value if isinstance(value, str) else None


def fold_of(span: SpanLike, step: int | None) -> Fold | None:
    """The GenAI usage, model and tool of a foreign span, or None if it carries none."""
    attrs = span.attributes
    if attrs.get(A.GEN_AI_OPERATION_NAME) in _AGGREGATE_OPERATIONS:
        return None
    inp = _opt_int(attrs, A.GEN_AI_USAGE_INPUT_TOKENS)
    out = _opt_int(attrs, A.GEN_AI_USAGE_OUTPUT_TOKENS)
    model = _opt_str(attrs, A.GEN_AI_REQUEST_MODEL) or _opt_str(attrs, A.GEN_AI_RESPONSE_MODEL)
    tool = _opt_str(attrs, A.GEN_AI_TOOL_NAME)
    if inp is None and out is None and model is None and tool is None:
        return None
    return Fold(step, span.start_ns, inp, out, model, tool)


@dataclass(slots=True)
class PendingTrajectory:
    """The spans of one trajectory gathered so far: its root (once it arrived), steps and folds."""

    id: int
    trace_id: int
    root: SpanLike | None = None
    steps: dict[int, SpanLike] = field(default_factory=dict)  # span id -> step span
    folds: list[Fold] = field(default_factory=list)
    others: int = 0  # spans that carry the id but are neither root nor step
    foreign: int = 0  # spans we did not make, found under this trajectory (folded or not)
    size: int = 0  # bytes of the root and step spans held (SpanRecord.size), for the buffer's byte cap

    @property
    def span_count(self) -> int:
        return len(self.steps) + self.others + self.foreign + (self.root is not None)

    @property
    def missing_steps(self) -> int:
        """Steps the root says were recorded but whose spans have not arrived (0 without a root)."""
        if self.root is None:
            return 0
        expected = _opt_int(self.root.attributes, A.TRAJECTORY_STEP_COUNT)
        return 0 if expected is None else max(0, expected - len(self.steps))

    @property
    def complete(self) -> bool:
        """The root and every step it counts have arrived."""
        return self.root is not None and self.missing_steps == 0

    @property
    def flagged_incomplete(self) -> bool:
        return self.root is None or self.missing_steps > 0


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
    from ..serde import JSONFormatError, from_dict

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
        attempts = min(_U32_MAX, _opt_int(attrs, A.TRAJECTORY_VERDICT_REFLECTION_ATTEMPTS) or 0)
        return Verdict.recovered(_root_cause(attrs), attempts, _number(attrs, A.TRAJECTORY_VERDICT_FINAL_QUALITY, 0.0))
    # No verdict on the root (a producer other than this SDK): decide by DESIGN's rules.
    if root.status_code == _ERROR:
        return Verdict.failure(RootCause.unknown(f"span {root.name!r} ended with status ERROR"))
    return _ratio_verdict(steps, success_if_all=True)


def _ratio_verdict(steps: Sequence[TrajectoryStep], *, success_if_all: bool) -> Verdict:
    successes = sum(1 for s in steps if isinstance(s.outcome, SuccessOutcome))
    if success_if_all and successes == len(steps):
        return Verdict.success()
    return Verdict.partial(successes / len(steps) if steps else 0.0)


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v is not None))


# --------------------------------------------------------------------------- building


def _step(span: SpanLike, folds: Sequence[Fold]) -> TrajectoryStep:
    attrs = span.attributes
    confidence = min(1.0, max(0.0, _number(attrs, A.STEP_CONFIDENCE, 1.0)))
    tool = _opt_str(attrs, A.GEN_AI_TOOL_NAME)
    model = _opt_str(attrs, A.GEN_AI_REQUEST_MODEL)
    inp = _opt_int(attrs, A.GEN_AI_USAGE_INPUT_TOKENS)
    out = _opt_int(attrs, A.GEN_AI_USAGE_OUTPUT_TOKENS)
    for f in folds:
        if f.input_tokens is not None:
            inp = _sum_u64(inp or 0, f.input_tokens)
        if f.output_tokens is not None:
            out = _sum_u64(out or 0, f.output_tokens)
        model = model if model is not None else f.model
        tool = tool if tool is not None else f.tool
    tags = _str_seq(attrs.get(A.STEP_TAGS))
    step_attrs = _prefixed(attrs, A.STEP_ATTRIBUTES_PREFIX)
    for span_key, meta_key in _CONTENT:
        text = attrs.get(span_key)
        if isinstance(text, str):
            step_attrs[meta_key] = text
    metadata = None
    if tool is not None or model is not None or inp is not None or out is not None or tags or step_attrs:
        metadata = StepMetadata(
            tool_used=tool, input_tokens=inp, output_tokens=out, model=model, tags=tags, attributes=step_attrs
        )
    index = _opt_int(attrs, A.STEP_INDEX)
    name = span.name
    # Every value is checked or sanitised above (the constructor's checks would only repeat it).
    return TrajectoryStep._trusted(
        index if index is not None else 0,
        _opt_str(attrs, A.STEP_ACTION) or (name if isinstance(name, str) else str(name)),
        _opt_str(attrs, A.STEP_RATIONALE) or "",
        _outcome(attrs),
        f32(confidence),
        _ms(span.start_ns, span.end_ns),
        ns_to_datetime(span.start_ns),
        _embedding(attrs, A.STEP_CONTEXT_EMBEDDING),
        metadata,
    )


def build_trajectory(pending: PendingTrajectory) -> Trajectory:
    """The scored Trajectory of *pending*: complete if its root arrived, else flagged incomplete."""
    folds = sorted(pending.folds, key=lambda f: f.start_ns)
    by_step: dict[int, list[Fold]] = {}
    for f in folds:
        if f.step is not None and f.step in pending.steps:
            by_step.setdefault(f.step, []).append(f)
    if len(pending.steps) > 1:
        ordered = sorted(
            pending.steps.items(), key=lambda item: (_opt_int(item[1].attributes, A.STEP_INDEX) or 0, item[1].start_ns)
        )
    else:
        ordered = list(pending.steps.items())
    steps = tuple(_step(span, by_step.get(span_id, ())) for span_id, span in ordered)
    fold_in = sum(f.input_tokens or 0 for f in folds)
    fold_out = sum(f.output_tokens or 0 for f in folds)
    # Folded facts in step order, then those under the root directly.
    fold_order = sorted(folds, key=lambda f: f.step is None)
    root = pending.root
    if root is None:
        return _incomplete(pending, steps, fold_order)
    attrs = root.attributes
    verdict = _verdict(root, steps)
    models = attrs.get(A.TRAJECTORY_MODELS_USED)
    base_models = _str_seq(models) if models is not None else _unique(s.metadata.model for s in steps if s.metadata)
    tools = attrs.get(A.TRAJECTORY_TOOLS_INVOKED)
    base_tools = _str_seq(tools) if tools is not None else _unique(s.metadata.tool_used for s in steps if s.metadata)
    name = _opt_str(attrs, A.GEN_AI_AGENT_NAME)
    user_attrs = _prefixed(attrs, A.TRAJECTORY_ATTRIBUTES_PREFIX)
    meta_attrs = {A.TRAJECTORY_NAME_ATTRIBUTE: name, **user_attrs} if name is not None else user_attrs
    missing = pending.missing_steps
    if missing:  # emitted at expiry or shutdown without every step: say so, never silently short
        meta_attrs = {**meta_attrs, A.TRAJECTORY_INCOMPLETE_ATTRIBUTE: "true", A.TRAJECTORY_MISSING_STEPS_ATTRIBUTE: str(missing)}
    # Every value below is read through the sanitising readers above, so the model's
    # constructor checks would only repeat them.
    metadata = trusted(
        TrajectoryMetadata,
        session_id=_opt_str(attrs, A.SESSION_ID) or _opt_str(attrs, A.GEN_AI_CONVERSATION_ID),
        user_id=_opt_str(attrs, A.USER_ID),
        request_type=_opt_str(attrs, A.TRAJECTORY_REQUEST_TYPE),
        total_input_tokens=_sum_u64(_opt_int(attrs, A.GEN_AI_USAGE_INPUT_TOKENS) or 0, fold_in),
        total_output_tokens=_sum_u64(_opt_int(attrs, A.GEN_AI_USAGE_OUTPUT_TOKENS) or 0, fold_out),
        models_used=_unique([*base_models, *(f.model for f in fold_order)]),
        tools_invoked=_unique([*base_tools, *(f.tool for f in fold_order)]),
        tags=_str_seq(attrs.get(A.TRAJECTORY_TAGS)),
        attributes=meta_attrs,
    )
    query = _embedding(attrs, A.TRAJECTORY_QUERY_EMBEDDING)
    return trusted(
        Trajectory,
        id=TrajectoryId(pending.id),
        uuid=uuid_mod.UUID(int=pending.trace_id),
        query_embedding=query if query is not None else _EMPTY,
        response_embedding=_embedding(attrs, A.TRAJECTORY_RESPONSE_EMBEDDING),
        steps=steps,
        verdict=verdict,
        quality=compute_quality(steps, verdict),
        total_latency_ms=_ms(root.start_ns, root.end_ns),
        started_at=ns_to_datetime(root.start_ns),
        completed_at=ns_to_datetime(root.end_ns),
        metadata=metadata,
        lessons=_str_seq(attrs.get(A.TRAJECTORY_LESSONS)),
    )


def _incomplete(pending: PendingTrajectory, steps: tuple[TrajectoryStep, ...], folds: Sequence[Fold]) -> Trajectory:
    spans = list(pending.steps.values())
    start = min((s.start_ns for s in spans), default=min((f.start_ns for f in folds), default=0))
    end = max((s.end_ns for s in spans), default=start)
    verdict = _ratio_verdict(steps, success_if_all=False)
    metadata = TrajectoryMetadata(
        total_input_tokens=_sum_u64(
            *(s.metadata.input_tokens or 0 for s in steps if s.metadata),
            *(f.input_tokens or 0 for f in folds if f.step is None),
        ),
        total_output_tokens=_sum_u64(
            *(s.metadata.output_tokens or 0 for s in steps if s.metadata),
            *(f.output_tokens or 0 for f in folds if f.step is None),
        ),
        models_used=_unique([*(s.metadata.model for s in steps if s.metadata), *(f.model for f in folds)]),
        tools_invoked=_unique([*(s.metadata.tool_used for s in steps if s.metadata), *(f.tool for f in folds)]),
        attributes={A.TRAJECTORY_INCOMPLETE_ATTRIBUTE: "true"},
    )
    return Trajectory(
        id=TrajectoryId(pending.id),
        uuid=uuid_mod.UUID(int=pending.trace_id),
        query_embedding=_EMPTY,
        response_embedding=None,
        steps=steps,
        verdict=verdict,
        quality=compute_quality(steps, verdict),
        total_latency_ms=_ms(start, end),
        started_at=ns_to_datetime(start),
        completed_at=ns_to_datetime(end),
        metadata=metadata,
    )


# --------------------------------------------------------------------------- the pure function


def assemble_trajectories(spans: Iterable[SpanLike], *, incomplete: bool = True) -> list[Trajectory]:
    """Every trajectory in *spans* (any order, any number of traces), in order of first appearance.

    Trajectories whose root span is missing are returned flagged incomplete, or left out
    when ``incomplete=False``. Spans that belong to no trajectory are ignored.
    """
    traces: dict[int, dict[int, SpanLike]] = {}
    pending: dict[int, PendingTrajectory] = {}
    for span in spans:
        traces.setdefault(span.trace_id, {})[span.span_id] = span
        tid = trajectory_id_of(span.attributes)
        if tid is None:
            continue
        p = pending.get(tid)
        if p is None:
            p = pending[tid] = PendingTrajectory(tid, span.trace_id)
        add_member(p, span)
    owners: dict[tuple[int, int], tuple[int, int | None] | None] = {}
    for trace_id, members in traces.items():
        for span in members.values():
            if trajectory_id_of(span.attributes) is not None:
                continue
            owner = _owner(trace_id, span, members, owners)
            if owner is not None and owner[0] in pending:
                pending[owner[0]].foreign += 1
                fold = fold_of(span, owner[1])
                if fold is not None:
                    pending[owner[0]].folds.append(fold)
    return [build_trajectory(p) for p in pending.values() if incomplete or p.complete]


def add_member(p: PendingTrajectory, span: SpanLike) -> None:
    """Add a span that carries ``trajectory.id`` to its pending trajectory."""
    attrs = span.attributes
    if is_root(attrs):
        p.root = span
    elif A.STEP_INDEX in attrs:
        p.steps[span.span_id] = span
    else:
        p.others += 1


def member_owner(span: SpanLike, tid: int) -> tuple[int, int | None]:
    """The (trajectory id, step span id or None) that a member span's foreign children fold into."""
    attrs = span.attributes
    if not is_root(attrs) and A.STEP_INDEX in attrs:
        return tid, span.span_id
    return tid, None


def _owner(
    trace_id: int,
    span: SpanLike,
    members: Mapping[int, SpanLike],
    memo: dict[tuple[int, int], tuple[int, int | None] | None],
) -> tuple[int, int | None] | None:
    chain: list[int] = []
    current: SpanLike | None = span
    result: tuple[int, int | None] | None = None
    while current is not None:
        key = (trace_id, current.span_id)
        if key in memo:
            result = memo[key]
            break
        tid = trajectory_id_of(current.attributes)
        if tid is not None:
            result = member_owner(current, tid)
            break
        chain.append(current.span_id)
        parent = current.parent_span_id
        current = members.get(parent) if parent is not None else None
        if len(chain) > len(members):  # a cycle in malformed input
            break
    for span_id in chain:
        memo[(trace_id, span_id)] = result
    return result
