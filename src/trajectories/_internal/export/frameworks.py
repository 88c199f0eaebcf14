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
from typing import Any, Protocol

import numpy as np

from ...model import (
    RootCause,
    StepMetadata,
    StepOutcome,
    SuccessOutcome,
    ToolFailure,
    Trajectory,
    TrajectoryId,
    TrajectoryMetadata,
    TrajectoryStep,
    Verdict,
    compute_quality,
)
from ..conventions import NOT_GENAI, Role, SpanFacts, error_text, span_facts
from ..model.constants import ns_to_datetime
from .trace import trajectory_id_of

__all__ = [
    "REASON_CYCLE",
    "REASON_NO_AGENT_OR_MODEL",
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
#: The span carries ``trajectory.id`` or sits under one that does: the SDK's own assembly has it.
REASON_SDK_TRAJECTORY = "sdk_trajectory"


class FrameworkSpan(Protocol):
    """The fields read here: :class:`~trajectories.export.SpanRecord` and the SDK view have them."""

    @property
    def trace_id(self) -> int: ...
    @property
    def span_id(self) -> int: ...
    @property
    def parent_span_id(self) -> int | None: ...
    @property
    def parent_is_remote(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def start_ns(self) -> int: ...
    @property
    def end_ns(self) -> int: ...
    @property
    def attributes(self) -> Mapping[str, Any]: ...
    @property
    def events(self) -> Sequence[Any]: ...
    @property
    def status_code(self) -> int: ...


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


def _facts_of(span: FrameworkSpan) -> SpanFacts:
    try:
        # status_message: read where a span record keeps the status description (not every one does yet).
        return span_facts(
            span.name, span.attributes, span.status_code, lambda: span.events, getattr(span, "status_message", None)
        )
    except Exception:  # a span object that misbehaves: it says nothing
        return NOT_GENAI


def _parent_id(span: FrameworkSpan, index: Mapping[int, FrameworkSpan]) -> int | None:
    """The parent's id when the parent is here and local; None at a remote or missing parent."""
    parent = span.parent_span_id
    if parent is None or getattr(span, "parent_is_remote", False) or parent == span.span_id or parent not in index:
        return None
    return parent


def _start(span: FrameworkSpan) -> int:
    start = span.start_ns
    return start if isinstance(start, int) else 0


def _top_down(ids: Iterable[int], parents: Mapping[int, int]) -> dict[int, None]:
    """The ids, parents before children, from the parentless ones down (ids in a cycle are left out)."""
    children: dict[int, list[int]] = {}
    stack: list[int] = []
    for sid in ids:
        parent = parents.get(sid)
        if parent is None:
            stack.append(sid)
        else:
            children.setdefault(parent, []).append(sid)
    order: dict[int, None] = {}
    while stack:
        sid = stack.pop()
        order[sid] = None
        stack.extend(children.get(sid, ()))
    return order


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
    facts = {sid: _facts_of(s) for sid, s in index.items()}
    parents = {sid: p for sid, s in index.items() if (p := _parent_id(s, index)) is not None}
    # Parents before children, in one pass (no walk per span: a deep chain costs O(n), not O(n²)).
    # A span never reached from a parentless one is in, or under, a cycle of parent ids.
    order = _top_down(index, parents)
    top_container: dict[int, int | None] = {}
    local_root: dict[int, int] = {}
    excluded: dict[int, str] = {sid: REASON_CYCLE for sid in index if sid not in order}
    for sid in order:
        parent = parents.get(sid)
        if trajectory_id_of(index[sid].attributes) is not None or (
            parent is not None and excluded.get(parent) == REASON_SDK_TRAJECTORY
        ):
            excluded[sid] = REASON_SDK_TRAJECTORY
            continue
        above = top_container.get(parent) if parent is not None else None
        top_container[sid] = above if above is not None else (sid if facts[sid].role.is_container else None)
        local_root[sid] = local_root[parent] if parent is not None else sid
    # Group roots: the top containers of agent and step spans; bare steps group at their local root.
    roots: dict[int, None] = {}
    bare_parts: dict[int, None] = {}
    for sid in order:
        f = facts[sid]
        if sid in excluded or not (f.role is Role.AGENT or f.role.is_step):
            continue
        top = top_container[sid]
        if top is not None:
            roots[top] = None
        else:
            bare_parts[local_root[sid]] = None
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
            reason = REASON_OUTSIDE_AGENT if local_root[sid] in parts_with_containers else REASON_NO_AGENT_OR_MODEL
            result.unassigned.append((span, reason))
        else:
            members[root_id].append(span)
    for root_id in sorted(roots, key=lambda r: (_start(index[r]), r)):
        group_spans = sorted(members[root_id], key=lambda s: (s.span_id != root_id, _start(s), s.span_id))
        ids = {s.span_id for s in group_spans}
        result.groups.append(
            Group(
                root=index[root_id],
                spans=tuple(group_spans),
                facts={s.span_id: facts[s.span_id] for s in group_spans},
                parents={sid: parents[sid] for sid in ids if sid != root_id and parents.get(sid) in ids},
            )
        )
    return result


# --------------------------------------------------------------------------- building


def _ms(start_ns: int, end_ns: int) -> int:
    return min(_U64_MAX, max(0, (end_ns - start_ns) // 1_000_000))


def _sum(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(_U64_MAX, a + b)


@dataclass(slots=True)
class _Tree:
    """Per-span facts of one group that depend on its ancestors or descendants, each found in one pass.

    - ``agent``: the name of the nearest named agent above the span;
    - ``inside_step``: a model, tool or retrieval span is above it;
    - ``tokens``: what the span and everything inside it used, each model call counted once:
      a model span with token counts is taken as it is (a model span inside it repeats part
      of the same call); any other span (agent, chain, tool: their totals repeat their
      children's) adds only what its children add;
    - ``model``: its own model on a model span, else the first model inside it.
    """

    agent: dict[int, str | None]
    inside_step: dict[int, bool]
    tokens: dict[int, tuple[int | None, int | None]]
    model: dict[int, str | None]


def _tree(group: Group) -> _Tree:
    facts, parents = group.facts, group.parents
    order = list(_top_down((s.span_id for s in group.spans), parents))
    agent: dict[int, str | None] = {}
    inside: dict[int, bool] = {}
    for sid in order:
        parent = parents.get(sid)
        if parent is None:
            agent[sid], inside[sid] = None, False
            continue
        pf = facts[parent]
        agent[sid] = pf.agent_name if pf.role is Role.AGENT and pf.agent_name is not None else agent[parent]
        inside[sid] = inside[parent] or pf.role.is_step
    children: dict[int, list[int]] = {}
    for span in group.spans:  # in start order, so every list of children is too
        parent = parents.get(span.span_id)
        if parent is not None:
            children.setdefault(parent, []).append(span.span_id)
    tokens: dict[int, tuple[int | None, int | None]] = {}
    model: dict[int, str | None] = {}
    for sid in reversed(order):  # children before parents
        f = facts[sid]
        kids = children.get(sid, ())
        if f.role is Role.MODEL and (f.input_tokens is not None or f.output_tokens is not None):
            tokens[sid] = (f.input_tokens, f.output_tokens)
        else:
            inp = out = None
            for child in kids:
                ci, co = tokens[child]
                inp, out = _sum(inp, ci), _sum(out, co)
            tokens[sid] = (inp, out)
        own = f.model if f.role is Role.MODEL else None
        model[sid] = own if own is not None else next((model[c] for c in kids if model[c] is not None), None)
    return _Tree(agent, inside, tokens, model)


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


def _first(group: Group, attr: str) -> str | None:
    for span in group.spans:
        value: str | None = getattr(group.facts[span.span_id], attr)
        if value is not None:
            return value
    return None


def _step_spans(group: Group, tree: _Tree) -> list[FrameworkSpan]:
    """Model, tool and retrieval spans not inside another such span, in start order."""
    out = [s for s in group.spans if group.facts[s.span_id].role.is_step and not tree.inside_step[s.span_id]]
    out.sort(key=lambda s: (_start(s), s.end_ns if isinstance(s.end_ns, int) else 0, s.span_id))
    return out


def _action(f: SpanFacts, span: FrameworkSpan, model: str | None) -> str:
    if f.role is Role.MODEL:
        op = f.operation or "llm"
        return f"{op} {model}" if model is not None else op
    if f.tool_name is not None:
        return f.tool_name
    name = span.name
    return name if isinstance(name, str) else str(name)


@dataclass(slots=True)
class _Built:
    step: TrajectoryStep
    tool: str | None
    error: str | None


def _build_step(index: int, span: FrameworkSpan, group: Group, tree: _Tree, name: str) -> _Built:
    f = group.facts[span.span_id]
    input_tokens, output_tokens = tree.tokens[span.span_id]
    model = f.model if f.model is not None else tree.model[span.span_id]
    tool = f.tool_name if f.role is not Role.MODEL else None
    if f.role is Role.TOOL and tool is None:
        tool = span.name if isinstance(span.name, str) else None
    attributes: dict[str, str] = {}
    agent = tree.agent[span.span_id]
    if agent is not None and agent != name:
        attributes["agent"] = agent
    if f.tool_call_id is not None:
        attributes["tool_call_id"] = f.tool_call_id
    if f.provider is not None and f.role is Role.MODEL:
        attributes["provider"] = f.provider
    metadata = StepMetadata(
        tool_used=tool,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        model=model,
        attributes=attributes,
    )
    outcome = StepOutcome.failure(f.error) if f.error is not None else StepOutcome.success()
    start, end = _start(span), span.end_ns if isinstance(span.end_ns, int) else 0
    step = TrajectoryStep(
        index=index,
        action=_action(f, span, model),
        rationale="",
        outcome=outcome,
        confidence=1.0,
        latency_ms=_ms(start, end),
        timestamp=ns_to_datetime(start),
        metadata=metadata,
    )
    return _Built(step, tool if f.role is Role.TOOL else None, f.error)


def _verdict(root_error: str | None, built: Sequence[_Built]) -> Verdict:
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
    tree = _tree(group)
    name = _trajectory_name(group)
    built = [_build_step(i, span, group, tree, name) for i, span in enumerate(_step_spans(group, tree))]
    steps = tuple(b.step for b in built)
    root_facts = group.facts[root.span_id]
    root_error = root_facts.error
    if root_error is None and root.status_code == 2:  # facts of a span of no convention may omit it
        root_error = error_text(
            root.name, root.attributes, root.status_code, lambda: root.events, getattr(root, "status_message", None)
        )
    verdict = _verdict(root_error, built)
    models: dict[str, None] = {}
    tools: dict[str, None] = {}
    input_total = output_total = 0
    for span in group.spans:
        f = group.facts[span.span_id]
        if f.role is Role.MODEL and f.model is not None:
            models[f.model] = None
        if f.role is Role.TOOL:
            tool = f.tool_name if f.tool_name is not None else (span.name if isinstance(span.name, str) else None)
            if tool is not None:
                tools[tool] = None
    for s in steps:
        if s.metadata is not None:
            input_total = min(_U64_MAX, input_total + (s.metadata.input_tokens or 0))
            output_total = min(_U64_MAX, output_total + (s.metadata.output_tokens or 0))
    convention = root_facts.convention
    if convention is None:
        convention = next((group.facts[s.span_id].convention for s in group.spans if group.facts[s.span_id].convention), None)
    attributes = {"trajectory.name": name}
    if convention is not None:
        attributes["source"] = convention
    metadata = TrajectoryMetadata(
        session_id=_first(group, "session_id"),
        user_id=_first(group, "user_id"),
        total_input_tokens=input_total,
        total_output_tokens=output_total,
        models_used=tuple(models),
        tools_invoked=tuple(tools),
        attributes=attributes,
    )
    start, end = _start(root), root.end_ns if isinstance(root.end_ns, int) else 0
    trace_id = root.trace_id if isinstance(root.trace_id, int) else 0
    return Trajectory(
        id=TrajectoryId(root.span_id & _ID_MASK),
        uuid=uuid_mod.UUID(int=trace_id & _U128_MASK),
        query_embedding=_EMPTY_EMBEDDING,
        response_embedding=None,
        steps=steps,
        verdict=verdict,
        quality=compute_quality(steps, verdict),
        total_latency_ms=_ms(start, end),
        started_at=ns_to_datetime(start),
        completed_at=ns_to_datetime(max(start, end)),
        metadata=metadata,
    )
