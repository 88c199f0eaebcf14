"""Pending traces: spans wait here, bounded in number and age, until their trajectory is complete.

Spans usually come in end order, children before parents, in batches that may split a
trajectory anywhere; through collectors and retries a child may also come after its root.
A trajectory is complete when its root has arrived together with as many step spans as the
root's ``trajectory.step_count`` says were recorded. Each trace keeps the trajectories seen
in it (keyed by ``trajectory.id``), which span belongs to which (``owners``), and the spans we did not make whose parent has not
arrived yet (``waiting``). A foreign span is attributed as soon as an ancestor with a
``trajectory.id`` is known, so only its fold (a few numbers) is kept.

Not thread-safe: the exporter holds its lock around every call.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .assembly import PendingTrajectory, add_member, fold_of, member_owner, trajectory_id_of
from .records import SpanLike

__all__ = ["BufferCounters", "TraceBuffer"]

Owner = tuple[int, int | None]  # (trajectory id, step span id or None for the trajectory itself)


@dataclass(slots=True)
class BufferCounters:
    spans_seen: int = 0
    late_spans: int = 0
    unrelated_spans: int = 0
    evicted_traces: int = 0
    duplicate_spans: int = 0


@dataclass(slots=True)
class _Trace:
    trace_id: int
    last_seen: float
    trajectories: dict[int, PendingTrajectory] = field(default_factory=dict)
    owners: dict[int, Owner] = field(default_factory=dict)  # span id -> owner, for spans of pending trajectories
    owned: dict[int, list[int]] = field(default_factory=dict)  # trajectory id -> its span ids in ``owners``
    waiting: dict[int, list[SpanLike]] = field(default_factory=dict)  # parent span id -> foreign children
    spans: int = 0
    waiting_size: int = 0  # bytes of the spans in ``waiting``


_K = TypeVar("_K", bound=Hashable)


class _Recent(Generic[_K]):
    """The last *n* keys added (``in`` to ask), forgetting the oldest first."""

    __slots__ = ("_keys", "_order")

    def __init__(self) -> None:
        self._keys: set[_K] = set()
        self._order: deque[_K] = deque()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: _K, limit: int) -> None:
        if key in self._keys:
            return
        self._keys.add(key)
        self._order.append(key)
        while len(self._order) > limit:
            self._keys.discard(self._order.popleft())


class TraceBuffer:
    """Groups spans into trajectories; hands back each one when complete, expired or evicted."""

    def __init__(
        self, *, max_traces: int, max_spans: int, max_age: float, late_memory: int, max_bytes: int | None = None
    ) -> None:
        self.max_traces = max_traces
        self.max_spans = max_spans
        self.max_bytes = max_bytes
        self._byte_cap: float = float("inf") if max_bytes is None else max_bytes  # one comparison per span
        self._bytes = 0
        self.max_age = max_age
        self.late_memory = late_memory
        self.counters = BufferCounters()
        self._traces: OrderedDict[int, _Trace] = OrderedDict()  # least recently active first
        self._spans = 0
        # The last late_memory emitted trajectory ids and span ids, oldest first: a set to ask and
        # a deque to forget in order. (An OrderedDict used as such a FIFO keeps growing its
        # tables under constant churn: +7 MiB between 600k and 700k spans at the default size.)
        self._emitted_ids: _Recent[int] = _Recent()
        self._emitted_spans: _Recent[tuple[int, int]] = _Recent()

    @property
    def pending_traces(self) -> int:
        return len(self._traces)

    @property
    def pending_spans(self) -> int:
        return self._spans

    @property
    def pending_bytes(self) -> int:
        """What the pending spans weighed as they arrived (spans without a size count 0; 0 without a byte cap)."""
        return self._bytes

    # ---------------------------------------------------------------- adding

    def add(self, spans: Iterable[SpanLike], now: float) -> list[PendingTrajectory]:
        """Take *spans*; return trajectories now complete, then any evicted by the caps (incomplete)."""
        ready: list[PendingTrajectory] = []
        for span in spans:
            self.counters.spans_seen += 1
            trace = self._traces.get(span.trace_id)
            if trace is None:
                trace = self._traces[span.trace_id] = _Trace(span.trace_id, now)
            else:
                trace.last_seen = now
                self._traces.move_to_end(span.trace_id)
            tid = trajectory_id_of(span.attributes)
            if tid is None:
                self._add_foreign(trace, span)
            else:
                self._add_member(trace, span, tid, ready)
            self._drop_if_empty(trace)
            while self._traces and (
                len(self._traces) > self.max_traces or self._spans > self.max_spans or self._bytes > self._byte_cap
            ):
                self.counters.evicted_traces += 1
                ready.extend(self._pop_trace(next(iter(self._traces))))
        return ready

    def _add_member(self, trace: _Trace, span: SpanLike, tid: int, ready: list[PendingTrajectory]) -> None:
        if tid in self._emitted_ids:
            self.counters.late_spans += 1 + self._discard_waiting(trace, span.span_id)
            return
        if span.span_id in trace.owners:  # the same span again (a client's retry): the first one counts
            self.counters.duplicate_spans += 1
            return
        p = trace.trajectories.get(tid)
        if p is None:
            p = trace.trajectories[tid] = PendingTrajectory(tid, span.trace_id)
            trace.owned[tid] = []
        add_member(p, span)
        if self.max_bytes is not None:  # spans are weighed only when there is a byte cap
            size = getattr(span, "size", 0)
            p.size += size
            self._bytes += size
        self._own(trace, span.span_id, member_owner(span, tid))
        if p.complete:  # the root, and every step it counts (children may come after their root)
            ready.append(self._take(trace, tid))

    def _add_foreign(self, trace: _Trace, span: SpanLike) -> None:
        parent = span.parent_span_id
        if parent is None or getattr(span, "parent_is_remote", False):
            # The top of this process's part of the trace, and not a trajectory: neither it
            # nor anything waiting under it can belong to one.
            self.counters.unrelated_spans += 1 + self._discard_waiting(trace, span.span_id)
            return
        if span.span_id in trace.owners:
            self.counters.duplicate_spans += 1
            return
        owner = trace.owners.get(parent)
        if owner is not None:
            self._resolve(trace, span, owner)
        elif (trace.trace_id, parent) in self._emitted_spans:
            self.counters.late_spans += 1 + self._discard_waiting(trace, span.span_id)
        else:
            trace.waiting.setdefault(parent, []).append(span)
            trace.spans += 1
            self._spans += 1
            if self.max_bytes is not None:
                size = getattr(span, "size", 0)
                trace.waiting_size += size
                self._bytes += size

    def _own(self, trace: _Trace, span_id: int, owner: Owner) -> None:
        trace.owners[span_id] = owner
        trace.owned[owner[0]].append(span_id)
        trace.spans += 1
        self._spans += 1
        children = trace.waiting.pop(span_id, None)
        if children:
            trace.spans -= len(children)
            self._spans -= len(children)
            self._unwait(trace, children)  # folded now: only a few numbers stay
            for child in children:
                self._resolve(trace, child, owner)

    def _resolve(self, trace: _Trace, span: SpanLike, owner: Owner) -> None:
        if span.span_id in trace.owners:  # a duplicate that waited beside the original
            self.counters.duplicate_spans += 1
            return
        p = trace.trajectories[owner[0]]
        p.foreign += 1
        fold = fold_of(span, owner[1])
        if fold is not None:
            p.folds.append(fold)
        self._own(trace, span.span_id, owner)

    def _discard_waiting(self, trace: _Trace, span_id: int) -> int:
        """Drop the foreign spans waiting (transitively) under *span_id*; return how many."""
        dropped = 0
        stack = [span_id]
        while stack:
            children = trace.waiting.pop(stack.pop(), None)
            if children:
                dropped += len(children)
                self._unwait(trace, children)
                stack.extend(c.span_id for c in children)
        trace.spans -= dropped
        self._spans -= dropped
        return dropped

    def _unwait(self, trace: _Trace, spans: list[SpanLike]) -> None:
        if self.max_bytes is None:
            return
        size = sum(getattr(s, "size", 0) for s in spans)
        trace.waiting_size -= size
        self._bytes -= size

    # ---------------------------------------------------------------- taking out

    def _take(self, trace: _Trace, tid: int) -> PendingTrajectory:
        p = trace.trajectories.pop(tid)
        span_ids = trace.owned.pop(tid)
        for span_id in span_ids:
            del trace.owners[span_id]
            self._remember(self._emitted_spans, (trace.trace_id, span_id))
        trace.spans -= len(span_ids)
        self._spans -= len(span_ids)
        self._remember(self._emitted_ids, tid)
        self._bytes -= p.size
        return p

    def _remember(self, recent: _Recent[Any], key: object) -> None:
        recent.add(key, self.late_memory)

    def _drop_if_empty(self, trace: _Trace) -> None:
        if not trace.trajectories and not trace.waiting:
            self._traces.pop(trace.trace_id, None)

    def _pop_trace(self, trace_id: int) -> list[PendingTrajectory]:
        trace = self._traces[trace_id]
        out = [self._take(trace, tid) for tid in list(trace.trajectories)]
        self.counters.unrelated_spans += sum(len(c) for c in trace.waiting.values())
        self._spans -= trace.spans
        self._bytes -= trace.waiting_size
        del self._traces[trace_id]
        return out

    def expire(self, now: float) -> list[PendingTrajectory]:
        """Trajectories of traces idle for ``max_age`` seconds or more (they are incomplete)."""
        out: list[PendingTrajectory] = []
        while self._traces:
            trace = next(iter(self._traces.values()))
            if now - trace.last_seen < self.max_age:
                break
            out.extend(self._pop_trace(trace.trace_id))
        return out

    def drain(self) -> list[PendingTrajectory]:
        """Everything still pending (at shutdown); all of it incomplete."""
        out: list[PendingTrajectory] = []
        while self._traces:
            out.extend(self._pop_trace(next(iter(self._traces))))
        return out
