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

_lock = threading.Lock()
_live: weakref.WeakValueDictionary[int, TrajectoryHandle] = weakref.WeakValueDictionary()


def track(trace_id: int, handle: TrajectoryHandle) -> None:
    """*handle* runs in trace *trace_id* (from its start until it ends)."""
    with _lock:
        _live[trace_id] = handle


def untrack(trace_id: int) -> None:
    with _lock:
        _live.pop(trace_id, None)


def observe_end(span: ReadableSpan) -> None:
    """A span ended: hand it to its live trajectory when it is one the SDK did not make."""
    if not _live:
        return
    ctx = span.context
    if ctx is None:
        return
    handle = _live.get(ctx.trace_id)
    if handle is None:
        return
    attributes = span.attributes
    if attributes is not None and A.TRAJECTORY_ID in attributes:
        return  # ours: the handle has it already
    parent = span.parent
    if parent is None or parent.is_remote:
        return  # another process's part of the trace is never the caller's (docs/exporter.md)
    handle.add_foreign(SdkSpanView(span))
