"""Membership: which span of a trace belongs to which trajectory. One implementation.

The pure :func:`~.assembly.assemble_trajectories` and the streaming exporter (through
:class:`~.buffer.TraceBuffer`) both gather a trace's spans in a :class:`TraceState` and ask it
the same questions, so a trajectory comes out the same whichever way its spans travelled.
The rules (docs/exporter.md, "Membership"):

- A span with ``trajectory.id`` is a *member* of that trajectory: its root when its
  ``gen_ai.operation.name`` is ``invoke_agent``, a step when it has ``trajectory.step.index``,
  else an "other" member.
- A span without one (an instrumentation's ``chat`` span, say) belongs to the trajectory of its
  nearest member ancestor, found by parent links within the trace (what it adds — a fold into
  a step, or a step of its own — is :mod:`..foreign`'s to say).
- **A remote parent is a boundary.** A span whose parent lives in another process
  (``parent_is_remote``) is the top of that process's part of the trace and is never a member
  of the caller's trajectory: a service called over the network records its own work (an LLM
  gateway's usage would otherwise count twice), and the exporter can decide without waiting
  for spans from other processes. A span whose parent is absent (not arrived, or dropped) is
  a top too, once nothing more can arrive.

Not thread-safe: the exporter holds its lock around every call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ... import attributes as A
from ..model.constants import ID_MASK, U64_MAX
from ..records import SpanLike

__all__ = ["PendingTrajectory", "TraceState", "is_root", "opt_int", "trajectory_id_of"]


def trajectory_id_of(attributes: Mapping[str, Any]) -> int | None:
    """The ``trajectory.id`` of a span, or None when it has none (or one that is not an id)."""
    value = attributes.get(A.TRAJECTORY_ID)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= ID_MASK:
        return None
    return value


def is_root(attributes: Mapping[str, Any]) -> bool:
    return attributes.get(A.GEN_AI_OPERATION_NAME) == A.OPERATION_INVOKE_AGENT


def opt_int(attributes: Mapping[str, Any], key: str) -> int | None:
    """A non-negative int that fits a u64 (every integer field of the model), else None."""
    value = attributes.get(key)
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):  # exact int first: the common case
        return value if 0 <= value <= U64_MAX else None
    return None


@dataclass(slots=True)
class PendingTrajectory:
    """The spans of one trajectory gathered so far: its root (once it arrived), steps and folds."""

    id: int
    trace_id: int
    seq: int = 0  # order of first appearance (the pure assembly returns trajectories in this order)
    root: SpanLike | None = None
    steps: dict[int, SpanLike] = field(default_factory=dict)  # span id -> step span
    others: dict[int, SpanLike] = field(default_factory=dict)  # members that are neither root nor step
    foreign: list[SpanLike] = field(default_factory=list)  # spans we did not make, found under this trajectory

    @property
    def span_count(self) -> int:
        return len(self.steps) + len(self.others) + len(self.foreign) + (self.root is not None)

    @property
    def missing_steps(self) -> int:
        """Steps the root says were recorded but whose spans have not arrived (0 without a root)."""
        if self.root is None:
            return 0
        expected = opt_int(self.root.attributes, A.TRAJECTORY_STEP_COUNT)
        return 0 if expected is None else max(0, expected - len(self.steps))

    @property
    def complete(self) -> bool:
        """The root and every step it counts have arrived."""
        return self.root is not None and self.missing_steps == 0

    @property
    def flagged_incomplete(self) -> bool:
        return self.root is None or self.missing_steps > 0

    def members(self) -> Iterator[int]:
        """The span id of every member."""
        if self.root is not None:
            yield self.root.span_id
        yield from self.steps
        yield from self.others


class TraceState:
    """The pending spans of one trace: members by trajectory, foreign spans, and who is whose child."""

    __slots__ = (
        "children",
        "foreign",
        "last_seen",
        "member_keys",
        "member_of",
        "size",
        "trace_id",
        "trajectories",
    )

    def __init__(self, trace_id: int, now: float = 0.0) -> None:
        self.trace_id = trace_id
        self.last_seen = now
        self.trajectories: dict[int, PendingTrajectory] = {}
        self.member_of: dict[int, int] = {}  # member span id -> trajectory id (the first, if ids collide)
        self.member_keys: set[tuple[int, int]] = set()  # (span id, trajectory id) of every pending member
        self.foreign: dict[int, SpanLike] = {}  # span id -> pending span without trajectory.id
        self.children: dict[int, list[int]] = {}  # parent span id -> its pending foreign children (local parents only)
        self.size = 0  # bytes of the pending spans (SpanRecord.size), for the buffer's byte cap

    @property
    def span_count(self) -> int:
        return len(self.member_keys) + len(self.foreign)

    def is_duplicate(self, span_id: int, tid: int | None) -> bool:
        """Whether this span is pending already (a client's retry: the first one counts). Two members
        of different trajectories that share a span id (malformed input) are two spans, so that
        neither trajectory is lost; so are a member and a foreign span that share one."""
        if tid is not None:
            return (span_id, tid) in self.member_keys
        return span_id in self.foreign or span_id in self.member_of

    def add_member(self, span: SpanLike, tid: int, seq: int) -> PendingTrajectory:
        """Keep a span that carries ``trajectory.id`` *tid* (the caller checked it is new here)."""
        p = self.trajectories.get(tid)
        if p is None:
            p = self.trajectories[tid] = PendingTrajectory(tid, span.trace_id, seq)
        attrs = span.attributes
        if is_root(attrs):
            if p.root is not None:  # a second root for the same id (malformed input): keep the first
                p.others[span.span_id] = span
            else:
                p.root = span
        elif A.STEP_INDEX in attrs:
            p.steps[span.span_id] = span
        else:
            p.others[span.span_id] = span
        self.member_keys.add((span.span_id, tid))
        self.member_of.setdefault(span.span_id, tid)  # the first holder, if ids collide
        # Not linked under its parent: the walks below (take, release) collect foreign spans only,
        # and stop at a member; the children lists hold foreign spans alone.
        self.size += getattr(span, "size", 0)
        return p

    def add_foreign(self, span: SpanLike) -> None:
        """Keep a span without ``trajectory.id`` (the caller checked it is new here)."""
        self.foreign[span.span_id] = span
        self._link(span)

    def _link(self, span: SpanLike) -> None:
        parent = span.parent_span_id
        if parent is not None and not getattr(span, "parent_is_remote", False):
            self.children.setdefault(parent, []).append(span.span_id)
        self.size += getattr(span, "size", 0)

    def _local_children(self, span_id: int) -> list[int]:
        return self.children.get(span_id, [])

    # ---------------------------------------------------------------- taking out

    def take(self, tid: int) -> tuple[PendingTrajectory, list[int]]:
        """Remove trajectory *tid* with every foreign span it owns; return it and the ids of all
        the spans removed."""
        p = self.trajectories.pop(tid)
        removed: list[int] = []
        for member_id in list(p.members()):
            self.member_keys.discard((member_id, tid))
            if self.member_of.get(member_id) != tid:
                continue  # a colliding span id whose first holder is another trajectory: no children of its own
            del self.member_of[member_id]
            removed.append(member_id)
            stack = list(self._local_children(member_id))
            while stack:  # foreign descendants reached without passing another member
                child_id = stack.pop()
                child = self.foreign.pop(child_id, None)
                if child is None:
                    continue  # a member (it is collected from its own start) or not pending
                removed.append(child_id)
                p.foreign.append(child)
                self.size -= getattr(child, "size", 0)
                stack.extend(self._local_children(child_id))
        for span in (p.root, *p.steps.values(), *p.others.values()):
            if span is not None:
                self.size -= getattr(span, "size", 0)
        self._unlink(removed)
        return p, removed

    def release(self, span_id: int, *, below_only: bool = False) -> list[SpanLike]:
        """Remove the foreign span *span_id* (unless *below_only*) and its foreign descendants (no
        member is reached through them: members are collected from their own trajectory); return
        them. Called for the top of a process's part of the trace, it returns that whole part."""
        removed: list[SpanLike] = []
        stack = list(self._local_children(span_id)) if below_only else [span_id]
        while stack:
            current = stack.pop()
            span = self.foreign.pop(current, None)
            if span is None:
                continue
            removed.append(span)
            self.size -= getattr(span, "size", 0)
            stack.extend(self._local_children(current))
        self._unlink([s.span_id for s in removed])
        return removed

    def pop_leftovers(self) -> list[SpanLike]:
        """Remove and return every foreign span still pending (call after taking every trajectory)."""
        spans = list(self.foreign.values())
        self.foreign.clear()
        self.children.clear()
        self.size = 0
        return spans

    def _unlink(self, span_ids: list[int]) -> None:
        for span_id in span_ids:
            self.children.pop(span_id, None)

    def drain(self) -> tuple[list[PendingTrajectory], list[SpanLike]]:
        """Every pending trajectory (complete or not), in order of first appearance, and the foreign
        spans left over (for the framework grouping): everything, as nothing more will arrive."""
        taken = [self.take(tid)[0] for tid in sorted(self.trajectories, key=lambda t: self.trajectories[t].seq)]
        return taken, self.pop_leftovers()
