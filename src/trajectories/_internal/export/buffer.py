"""Pending traces: spans wait here, bounded in number and age, until their trajectory is complete.

Spans usually come in end order, children before parents, in batches that may split a
trajectory anywhere; through collectors and retries a child may also come after its root.
Each trace's spans are kept in a :class:`~.trace.TraceState`, the membership the pure assembly
uses too. A trajectory is taken out (with every foreign span it owns) when it is complete: its
root has arrived together with as many step spans as the root's ``trajectory.step_count``
says were recorded. The top of a process's part of a trace that is no trajectory's (a span
without ``trajectory.id`` whose parent is absent or remote) releases its subtree as unrelated
as soon as it arrives. Expiry, the caps and shutdown take out what is left, flagged incomplete.

Not thread-safe: the exporter holds its lock around every call.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..records import SpanLike
from .frameworks import PendingGroup, group_trace
from .late import has_evaluation
from .trace import PendingTrajectory, TraceState, trajectory_id_of

#: What the buffer hands back: an SDK trajectory's spans, or a framework trajectory's group.
Pending = PendingTrajectory | PendingGroup

__all__ = ["BufferCounters", "Pending", "TraceBuffer"]

_logger = logging.getLogger(__name__)
#: The reason for a span that arrived after the part of the trace above it was found to be no trajectory's.
_LATE_UNPLACED = "after_its_part"


@dataclass(slots=True)
class BufferCounters:
    spans_seen: int = 0
    late_spans: int = 0
    unrelated_spans: int = 0
    evicted_traces: int = 0
    duplicate_spans: int = 0
    framework_trajectories: int = 0
    #: Spans of no trajectory (``unrelated_spans`` in all), by reason (docs/frameworks.md).
    unplaced: dict[str, int] = field(default_factory=dict)


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
        self.max_age = max_age
        self.late_memory = late_memory
        self.counters = BufferCounters()
        self._traces: OrderedDict[int, TraceState] = OrderedDict()  # least recently active first
        self._spans = 0
        self._bytes = 0
        self._seq = 0
        # The last late_memory emitted trajectory ids, and (trace id, span id) of emitted and of
        # released spans: a set to ask and a deque to forget in order. (An OrderedDict used as such
        # a FIFO keeps growing its tables under constant churn: +7 MiB between 600k and 700k spans.)
        self._emitted_ids: _Recent[int] = _Recent()
        self._emitted_spans: _Recent[tuple[int, int]] = _Recent()
        self._released_spans: _Recent[tuple[int, int]] = _Recent()
        self._logged_traces: _Recent[int] = _Recent()
        #: Spans that went into no trajectory (late, or no trajectory's) and carry an evaluation
        #: result, with the trajectory id they carry (if any): late verdicts (export/late.py).
        self._evaluations: list[tuple[SpanLike, int | None]] = []

    def take_evaluations(self) -> list[tuple[SpanLike, int | None]]:
        """The spans with late evaluation results gathered since the last call."""
        out, self._evaluations = self._evaluations, []
        return out

    def _evaluated(self, span: SpanLike, tid: int | None = None) -> None:
        """Keep *span* for its evaluation results, if it has any (it went into no trajectory)."""
        if has_evaluation(span):
            self._evaluations.append((span, tid))

    @property
    def pending_traces(self) -> int:
        return len(self._traces)

    @property
    def pending_spans(self) -> int:
        return self._spans

    @property
    def pending_bytes(self) -> int:
        """What the pending spans weighed as they arrived (spans without a size count 0)."""
        return self._bytes

    # ---------------------------------------------------------------- adding

    def add(self, spans: Iterable[SpanLike], now: float) -> list[Pending]:
        """Take *spans*; return trajectories now complete, then any evicted by the caps (incomplete)."""
        ready: list[Pending] = []
        for span in spans:
            self.counters.spans_seen += 1
            trace = self._traces.get(span.trace_id)
            if trace is None:
                trace = self._traces[span.trace_id] = TraceState(span.trace_id, now)
            else:
                trace.last_seen = now
                self._traces.move_to_end(span.trace_id)
            before_spans, before_bytes = trace.span_count, trace.size
            self._add(trace, span, ready)
            self._spans += trace.span_count - before_spans
            self._bytes += trace.size - before_bytes
            if not trace.trajectories and not trace.foreign:
                del self._traces[trace.trace_id]
            while self._traces and (
                len(self._traces) > self.max_traces or self._spans > self.max_spans or self._bytes > self._byte_cap
            ):
                self.counters.evicted_traces += 1
                ready.extend(self._pop_trace(next(iter(self._traces))))
        return ready

    def _add(self, trace: TraceState, span: SpanLike, ready: list[Pending]) -> None:
        span_id = span.span_id
        tid = trajectory_id_of(span.attributes)
        if trace.is_duplicate(span_id, tid):  # the same span again (a client's retry): the first one counts
            self.counters.duplicate_spans += 1
            return
        if tid is not None:
            if tid in self._emitted_ids:
                if (trace.trace_id, span_id) not in self._emitted_spans:  # not a copy of one it was built from
                    self._evaluated(span, tid)
                self._late(trace, span_id)
                return
            p = trace.add_member(span, tid, self._seq)
            self._seq += 1
            if p.complete:  # the root, and every step it counts (children may come after their root)
                ready.append(self._take(trace, tid))
            return
        key = (trace.trace_id, span_id)
        if key in self._emitted_spans:
            self._late(trace, span_id)
            return
        parent = span.parent_span_id
        if parent is not None and not getattr(span, "parent_is_remote", False):
            pkey = (trace.trace_id, parent)
            if pkey in self._emitted_spans:  # its trajectory has gone out already
                self._evaluated(span)
                self._late(trace, span_id)
                self._emitted_spans.add(key, self.late_memory)
                return
            if pkey in self._released_spans:  # under a span already counted as no trajectory's
                below = trace.release(span_id, below_only=True)  # and what waited under it
                for s in (span, *below):
                    if (trace.trace_id, s.span_id) not in self._released_spans:
                        self._evaluated(s)
                n = 1 + len(below)
                self.counters.unrelated_spans += n
                self.counters.unplaced[_LATE_UNPLACED] = self.counters.unplaced.get(_LATE_UNPLACED, 0) + n
                for sid in (span_id, *(b.span_id for b in below)):
                    self._released_spans.add((trace.trace_id, sid), self.late_memory)
                return
            trace.add_foreign(span)
            return
        # The top of this process's part of the trace, and no SDK trajectory's: its part has
        # arrived (spans end children first). The framework trajectories in it go out now.
        trace.add_foreign(span)
        self._group(trace, trace.release(span_id), ready)

    def _late(self, trace: TraceState, span_id: int) -> None:
        """A span (and the foreign spans already waiting under it) arrived after its trajectory went out."""
        below = trace.release(span_id, below_only=True)
        for s in below:  # they waited for a parent that turned out to be late
            self._evaluated(s)
        self.counters.late_spans += 1 + len(below)
        for sid in (span_id, *(b.span_id for b in below)):
            self._emitted_spans.add((trace.trace_id, sid), self.late_memory)

    def _group(self, trace: TraceState, spans: list[SpanLike], ready: list[Pending]) -> None:
        """Turn foreign spans that no SDK trajectory owns into framework trajectories; count the rest."""
        if not spans:
            return
        grouped = group_trace(spans)
        for group in grouped.groups:
            ready.append(PendingGroup(group, self._seq))
            self._seq += 1
            for s in group.spans:
                self._emitted_spans.add((trace.trace_id, s.span_id), self.late_memory)
        self.counters.framework_trajectories += len(grouped.groups)
        if grouped.unassigned:
            reasons = grouped.reasons()
            for reason, n in reasons.items():
                self.counters.unplaced[reason] = self.counters.unplaced.get(reason, 0) + n
            self.counters.unrelated_spans += len(grouped.unassigned)
            for s, _ in grouped.unassigned:
                key = (trace.trace_id, s.span_id)
                if key not in self._released_spans:  # a copy of a span released before says nothing new
                    self._evaluated(s)
                self._released_spans.add(key, self.late_memory)
            if trace.trace_id not in self._logged_traces:
                self._logged_traces.add(trace.trace_id, self.late_memory)
                _logger.debug(
                    "trace %032x: %d spans belong to no trajectory %s", trace.trace_id, len(grouped.unassigned), reasons
                )

    # ---------------------------------------------------------------- taking out

    def _take(self, trace: TraceState, tid: int) -> PendingTrajectory:
        p, removed = trace.take(tid)
        for span_id in removed:
            self._emitted_spans.add((trace.trace_id, span_id), self.late_memory)
        self._emitted_ids.add(tid, self.late_memory)
        return p

    def _pop_trace(self, trace_id: int) -> list[Pending]:
        trace = self._traces.pop(trace_id)
        self._spans -= trace.span_count
        self._bytes -= trace.size
        order = sorted(trace.trajectories, key=lambda t: trace.trajectories[t].seq)
        out: list[Pending] = [self._take(trace, tid) for tid in order]
        self._group(trace, trace.pop_leftovers(), out)
        return out

    def expire(self, now: float) -> list[Pending]:
        """Trajectories of traces idle for ``max_age`` seconds or more (they are incomplete)."""
        out: list[Pending] = []
        while self._traces:
            trace = next(iter(self._traces.values()))
            if now - trace.last_seen < self.max_age:
                break
            out.extend(self._pop_trace(trace.trace_id))
        return out

    def drain(self) -> list[Pending]:
        """Everything still pending (at shutdown); all of it incomplete."""
        out: list[Pending] = []
        while self._traces:
            out.extend(self._pop_trace(next(iter(self._traces))))
        return out
