"""The live trajectories of this process, and the framework spans that end inside them.

So that ``t.result`` agrees with what the exporter stores, a trajectory handle must see the
spans the SDK did not make (a framework's model and tool calls) that end in its trace. The span
processor ``configure()`` installs calls :func:`observe_end` for every span that ends; a span of
a live trajectory's trace without ``trajectory.id``, whose parent is local, is handed to that
trajectory. (A trajectory is the root of its own trace, so its trace id finds it.)
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import ReadableSpan

from ... import attributes as A
from ..records import SdkSpanView

if TYPE_CHECKING:
    from .trajectory_handle import TrajectoryHandle

__all__ = ["observe_end", "track", "untrack"]

#: Trace id -> the live trajectory's handle, weakly: a trajectory that is never ended (its block
#: abandoned) does not keep its handle alive. Plain dict operations, each atomic; a weak reference
#: without a callback costs a fraction of a WeakValueDictionary entry (the start and the end of
#: every trajectory pay for it). References left dead are swept when the map outgrows a bound.
_live: dict[int, weakref.ref[TrajectoryHandle]] = {}
_SWEEP_AT = 1024
_sweep_at = _SWEEP_AT
_sweep_lock = threading.Lock()


def track(trace_id: int, handle: TrajectoryHandle) -> None:
    """*handle* runs in trace *trace_id* (from its start until it ends)."""
    _live[trace_id] = weakref.ref(handle)
    if len(_live) > _sweep_at:
        _sweep()


def untrack(trace_id: int) -> None:
    _live.pop(trace_id, None)


def _sweep() -> None:
    """Drop the entries of handles that were collected without ending; the next sweep waits until
    the map has doubled (so that many live trajectories cost one sweep per doubling)."""
    global _sweep_at
    with _sweep_lock:
        for trace_id, ref in list(_live.items()):
            if ref() is None and _live.get(trace_id) is ref:
                _live.pop(trace_id, None)
        _sweep_at = max(_SWEEP_AT, 2 * len(_live))


def observe_end(span: ReadableSpan) -> None:
    """A span ended: hand it to its live trajectory when it is one the SDK did not make."""
    if not _live:
        return
    ctx = span.context
    if ctx is None:
        return
    ref = _live.get(ctx.trace_id)
    handle = ref() if ref is not None else None
    if handle is None:
        return
    attributes = span.attributes
    if attributes is not None and A.TRAJECTORY_ID in attributes:
        return  # ours: the handle has it already
    parent = span.parent
    if parent is None or parent.is_remote:
        return  # another process's part of the trace is never the caller's (docs/exporter.md)
    handle.add_foreign(SdkSpanView(span))
