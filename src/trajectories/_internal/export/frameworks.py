"""Trajectories from the spans agent frameworks emit on their own (no ``trajectory.id``). Pure.

Two functions, for the exporter, the OTLP receiver and file import alike (docs/frameworks.md
has the rules and the reasons):

- :func:`group_trace` splits the spans of one trace into groups, one per future trajectory,
  and names the reason for every span it leaves out;
- :func:`build_framework_trajectory` turns one group into a scored :class:`Trajectory`.

"Inside" always follows parent ids, never time (a framework may keep a model span open while
the tool it asked for runs beside it). The walk up stops at a remote parent (a service called
over the network is a trajectory of its own) and at a parent that is not there, and a cycle of
parent ids never loops. Nothing here raises on malformed attributes.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ... import attributes as A
from ..conventions import STEP_ROLES, Role, SpanFacts, error_text
from ..foreign import BuiltStep, build_step, facts_of, forest, step_spans, top_down
from ..model.constants import elapsed_ms, ns_to_datetime
from ..model.outcome import SuccessOutcome
from ..model.trajectory import Trajectory, TrajectoryId, TrajectoryMetadata, compute_quality
from ..model.verdict import RootCause, ToolFailure, Verdict
from ..records import STATUS_ERROR, SpanLike
from .trace import trajectory_id_of

__all__ = [
    "PendingGroup",
    "REASON_CYCLE",
    "REASON_NO_AGENT_OR_MODEL",
    "REASON_RECALL",
    "REASON_OUTSIDE_AGENT",
    "REASON_SDK_TRAJECTORY",
    "FrameworkSpan",
    "Group",
    "GroupedTrace",
    "build_framework_trajectory",
    "group_trace",
]

_ID_MASK = (1 << 63) - 1
_U64_MAX = (1 << 64) - 1
_U128_MASK = (1 << 128) - 1
_EMPTY_EMBEDDING = np.zeros(0, dtype=np.float32)

#: The trace part (the spans under one local root) has no agent, chain-with-steps, model, tool or retrieval span.
REASON_NO_AGENT_OR_MODEL = "no_agent_or_model_span"
#: The trace part has agent runs, but this span is above or beside them (an HTTP handler over two runs).
REASON_OUTSIDE_AGENT = "outside_agent"
#: The span's parent ids form a cycle (malformed input).
REASON_CYCLE = "parent_cycle"
#: The SDK's own recall span (``lessons_for()`` outside any trajectory and any agent run).
REASON_RECALL = "recall_outside_trajectory"
#: The span carries ``trajectory.id`` or sits under one that does: the SDK's own assembly has it.
REASON_SDK_TRAJECTORY = "sdk_trajectory"


#: The spans read here: any :class:`~trajectories.export.SpanLike` (``parent_is_remote``, ``events``
#: and ``status_message`` are read where the span has them: SpanRecord and the SDK view do).
FrameworkSpan = SpanLike


@dataclass(slots=True)
class PendingGroup:
    """A group on its way to the sinks, shaped like a pending SDK trajectory for the exporter's
    bookkeeping: always complete (its spans are all there when its part of the trace is)."""

    group: Group
    seq: int = 0
    missing_steps: int = 0
    flagged_incomplete: bool = False
    complete: bool = True

    @property
    def id(self) -> int:
        return self.group.root.span_id & _ID_MASK

    @property
    def root(self) -> FrameworkSpan:
        return self.group.root


@dataclass(frozen=True, slots=True)
class Group:
    """The spans of one future trajectory: its root, every span under it, and what each says."""

    root: FrameworkSpan
    spans: tuple[FrameworkSpan, ...]  # the root first, then the rest in start order
    facts: Mapping[int, SpanFacts]  # span id -> facts
    parents: Mapping[int, int]  # span id -> parent span id, only for parents inside the group


@dataclass(frozen=True, slots=True)
class GroupedTrace:
    """What :func:`group_trace` found: the groups, and every span left out with its reason."""

    groups: list[Group] = field(default_factory=list)
    unassigned: list[tuple[FrameworkSpan, str]] = field(default_factory=list)

    def reasons(self) -> dict[str, int]:
        """How many spans were left out, per reason."""
        out: dict[str, int] = {}
        for _, reason in self.unassigned:
            out[reason] = out.get(reason, 0) + 1
        return out


def _parent_id(span: FrameworkSpan, index: Mapping[int, FrameworkSpan]) -> int | None:
    """The parent's id when the parent is here and local; None at a remote or missing parent."""
    parent = span.parent_span_id
    if parent is None or getattr(span, "parent_is_remote", False) or parent == span.span_id or parent not in index:
        return None
    return parent


def _start(span: FrameworkSpan) -> int:
    start = span.start_ns
    return start if isinstance(start, int) else 0


def group_trace(spans: Iterable[FrameworkSpan]) -> GroupedTrace:
    """Split the spans of ONE trace into trajectory groups (see the module docstring for the rules).

    A group's root is the outermost agent or chain span above an agent, model, tool or
    retrieval span, found by walking parent links (across spans of no convention, such as
    an HTTP handler) up to a remote or missing parent. A trace part with model, tool or
    retrieval spans but no container is one group rooted at its local root span.
    """
    index: dict[int, FrameworkSpan] = {}
    for span in spans:
        index[span.span_id] = span
    result = GroupedTrace()
    facts = {sid: facts_of(s) for sid, s in index.items()}
    parents = {sid: p for sid, s in index.items() if (p := _parent_id(s, index)) is not None}
    # Parents before children, in one pass (no walk per span: a deep chain costs O(n), not O(n²)).
    # A span never reached from a parentless one is in, or under, a cycle of parent ids.
    order = top_down(index, parents)
    top_container: dict[int, int | None] = {}
    local_root: dict[int, int] = {}
    excluded: dict[int, str] = {sid: REASON_CYCLE for sid in index if sid not in order}
    # Group roots: the top containers of agent and step spans; bare steps group at their local root.
    roots: dict[int, None] = {}
    bare_parts: dict[int, None] = {}
    for sid in order:
        parent = parents.get(sid)
        if trajectory_id_of(index[sid].attributes) is not None or (
            parent is not None and excluded.get(parent) == REASON_SDK_TRAJECTORY
        ):
            excluded[sid] = REASON_SDK_TRAJECTORY
            continue
        role = facts[sid].role
        above = top_container.get(parent) if parent is not None else None
        top = top_container[sid] = above if above is not None else (sid if role is Role.AGENT or role is Role.CHAIN else None)
        part = local_root[sid] = local_root[parent] if parent is not None else sid
        if role is Role.AGENT or role in STEP_ROLES:
            if top is not None:
                roots[top] = None
            else:
                bare_parts[part] = None
    parts_with_containers = {local_root[r] for r in roots}
    for part in bare_parts:
        if part not in parts_with_containers:
            roots[part] = None
    # Membership: a span belongs to the group root above it (roots never nest).
    members: dict[int, list[FrameworkSpan]] = {r: [] for r in roots}
    owner: dict[int, int | None] = {}
    for sid in order:
        if sid in excluded:
            continue
        parent = parents.get(sid)
        owner[sid] = sid if sid in members else (owner.get(parent) if parent is not None else None)
    for sid, span in index.items():
        if sid in excluded:
            result.unassigned.append((span, excluded[sid]))
            continue
        root_id = owner[sid]
        if root_id is None:
            if A.RECALL_QUERY_SOURCE in span.attributes:
                reason = REASON_RECALL
            elif local_root[sid] in parts_with_containers:
                reason = REASON_OUTSIDE_AGENT
            else:
                reason = REASON_NO_AGENT_OR_MODEL
            result.unassigned.append((span, reason))
        else:
            members[root_id].append(span)
    for root_id in sorted(roots, key=lambda r: (_start(index[r]), r)):
        group_spans = [s for _, _, _, s in sorted([(s.span_id != root_id, _start(s), s.span_id, s) for s in members[root_id]])]
        if len(group_spans) == len(index):  # the whole trace (the usual case): its maps as they are
            group_facts, group_parents = facts, parents
        else:
            ids = {s.span_id for s in group_spans}
            group_facts = {s.span_id: facts[s.span_id] for s in group_spans}
            group_parents = {sid: parents[sid] for sid in ids if sid != root_id and parents.get(sid) in ids}
        result.groups.append(Group(root=index[root_id], spans=tuple(group_spans), facts=group_facts, parents=group_parents))
    return result


# --------------------------------------------------------------------------- building


def _trajectory_name(group: Group) -> str:
    root_facts = group.facts[group.root.span_id]
    if root_facts.agent_name is not None:
        return root_facts.agent_name
    for span in group.spans:
        f = group.facts[span.span_id]
        if f.role is Role.AGENT and f.agent_name is not None:
            return f.agent_name
    name = group.root.name
    return name if isinstance(name, str) else str(name)


def _verdict(root_error: str | None, built: Sequence[BuiltStep]) -> Verdict:
    """The SDK's rules: an ERROR root fails, some failed steps make it partial, else success."""
    steps = [b.step for b in built]
    if root_error is not None:
        failed = [b for b in built if b.error is not None]
        cause: RootCause = RootCause.unknown(root_error)
        matching = [b for b in failed if b.tool is not None and b.error == root_error]
        if matching:
            cause = ToolFailure(matching[-1].tool or "", root_error)
        elif failed and failed[-1].tool is not None:
            cause = ToolFailure(failed[-1].tool, failed[-1].error or root_error)
        return Verdict.failure(cause)
    successes = sum(1 for s in steps if isinstance(s.outcome, SuccessOutcome))
    if successes == len(steps):
        return Verdict.success()
    return Verdict.partial(successes / len(steps))


def build_framework_trajectory(group: Group) -> Trajectory:
    """The scored trajectory of one group (see docs/frameworks.md for every rule)."""
    root = group.root
    f = forest(group.spans, group.parents, group.facts)
    name = _trajectory_name(group)
    built = [build_step(i, sid, f, name) for i, sid in enumerate(step_spans(f))]
    steps = tuple(b.step for b in built)
    root_facts = group.facts[root.span_id]
    root_error = root_facts.error
    if root_error is None and root.status_code == STATUS_ERROR:  # facts of a span of no convention may omit it
        root_error = error_text(
            root.name,
            root.attributes,
            root.status_code,
            lambda: getattr(root, "events", ()),
            getattr(root, "status_message", None),
        )
    verdict = _verdict(root_error, built)
    # One pass over the spans in start order: models and tools in order of first use, and the
    # first session, user and convention any span says.
    models: dict[str, None] = {}
    tools: dict[str, None] = {}
    session = user = None
    convention = root_facts.convention
    for span in group.spans:
        facts = group.facts[span.span_id]
        role = facts.role
        if role is Role.MODEL:
            if facts.model is not None:
                models[facts.model] = None
        elif role is Role.TOOL:
            tool = f.tool_of(span.span_id)
            if tool is not None:
                tools[tool] = None
        if session is None:
            session = facts.session_id
        if user is None:
            user = facts.user_id
        if convention is None:
            convention = facts.convention
    input_total = output_total = 0
    for s in steps:
        if s.metadata is not None:
            input_total = min(_U64_MAX, input_total + (s.metadata.input_tokens or 0))
            output_total = min(_U64_MAX, output_total + (s.metadata.output_tokens or 0))
    attributes = {"trajectory.name": name}
    if convention is not None:
        attributes["source"] = convention
    # Every value comes from the conventions' sanitising readers: the constructors' checks would only repeat them.
    metadata = TrajectoryMetadata._trusted(
        session_id=session,
        user_id=user,
        request_type=None,
        total_input_tokens=input_total,
        total_output_tokens=output_total,
        models_used=tuple(models),
        tools_invoked=tuple(tools),
        tags=(),
        attributes=attributes,
    )
    start, end = _start(root), root.end_ns if isinstance(root.end_ns, int) else 0
    trace_id = root.trace_id if isinstance(root.trace_id, int) else 0
    return Trajectory._trusted(
        id=TrajectoryId(root.span_id & _ID_MASK),
        uuid=uuid_mod.UUID(int=trace_id & _U128_MASK),
        query_embedding=_EMPTY_EMBEDDING,
        response_embedding=None,
        steps=steps,
        verdict=verdict,
        quality=compute_quality(steps, verdict),
        total_latency_ms=elapsed_ms(start, end),
        started_at=ns_to_datetime(start),
        completed_at=ns_to_datetime(max(start, end)),
        metadata=metadata,
        lessons=(),
    )
