"""Assembly: finished spans in, scored Trajectory objects out. Pure: no I/O, no clocks, no state.

``assemble_trajectories`` gathers each trace's spans in a :class:`~.trace.TraceState` — the
same membership the streaming exporter uses (through :class:`~.buffer.TraceBuffer`), so a
trajectory comes out the same whichever way its spans travelled — and builds every
trajectory in it with :func:`~.build.build_trajectory`. The rules are in docs/exporter.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..model.trajectory import Trajectory
from ..records import SpanLike
from .build import build_trajectory
from .frameworks import build_framework_trajectory, group_trace
from .trace import PendingTrajectory, TraceState, trajectory_id_of

__all__ = ["assemble_trajectories"]


def assemble_trajectories(spans: Iterable[SpanLike], *, incomplete: bool = True) -> list[Trajectory]:
    """Every trajectory in *spans* (any order, any number of traces): the SDK's (``trajectory.id``)
    in order of first appearance, then those of agent frameworks (docs/frameworks.md), trace by trace.

    Trajectories whose root span (or some of whose steps) is missing are returned flagged
    incomplete, or left out when ``incomplete=False``. Spans that belong to no trajectory are
    ignored (the exporter counts them). A span that appears twice counts once (the first).
    """
    traces: dict[int, TraceState] = {}
    seq = 0
    for span in spans:
        state = traces.get(span.trace_id)
        if state is None:
            state = traces[span.trace_id] = TraceState(span.trace_id)
        tid = trajectory_id_of(span.attributes)
        if state.is_duplicate(span.span_id, tid):
            continue
        if tid is None:
            state.add_foreign(span)
        else:
            state.add_member(span, tid, seq)
            seq += 1
    pending: list[PendingTrajectory] = []
    framework: list[Trajectory] = []
    for state in traces.values():
        taken, leftover = state.drain()
        pending.extend(taken)
        framework.extend(build_framework_trajectory(g) for g in group_trace(leftover).groups)
    pending.sort(key=lambda p: p.seq)
    return [build_trajectory(p) for p in pending if incomplete or p.complete] + framework
