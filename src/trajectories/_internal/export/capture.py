"""Capturing trajectories in users' tests: ``with capture_trajectories() as captured:``.

A span processor cannot be removed from an SDK provider, so one small dispatching processor
is added to each provider the first time a capture uses it; it forwards finished spans to
the captures active at that moment (and costs one list check when none is).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

from ... import attributes as A
from ..model.trajectory import Trajectory
from .exporter import ExporterStats, TrajectoryExporter
from .sinks import ListSink

__all__ = ["TrajectoryCapture", "capture_trajectories"]


class _Dispatcher(SpanProcessor):
    def __init__(self) -> None:
        self.active: tuple[TrajectoryExporter, ...] = ()
        self.lock = threading.Lock()

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        for exporter in self.active:
            exporter.export((span,))

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


_dispatchers: weakref.WeakKeyDictionary[TracerProvider, _Dispatcher] = weakref.WeakKeyDictionary()
_dispatchers_lock = threading.Lock()


def _dispatcher(provider: TracerProvider) -> _Dispatcher:
    with _dispatchers_lock:
        d = _dispatchers.get(provider)
        if d is None:
            d = _dispatchers[provider] = _Dispatcher()
            provider.add_span_processor(d)
        return d


class TrajectoryCapture:
    """The trajectories finished inside a :func:`capture_trajectories` block, in delivery order."""

    def __init__(self, exporter: TrajectoryExporter, sink: ListSink) -> None:
        self.exporter = exporter
        self._sink = sink

    @property
    def trajectories(self) -> list[Trajectory]:
        return self._sink.trajectories

    @property
    def stats(self) -> ExporterStats:
        return self.exporter.stats

    def single(self) -> Trajectory:
        """The one trajectory captured; an AssertionError (with what was captured) otherwise."""
        items = self.trajectories
        if len(items) != 1:
            raise AssertionError(f"expected exactly one trajectory, captured {len(items)}: {[str(t.id) for t in items]}")
        return items[0]

    def by_name(self, name: str) -> list[Trajectory]:
        """The captured trajectories whose ``trajectory(name, ...)`` was *name*."""
        return [t for t in self.trajectories if t.metadata.attributes.get(A.TRAJECTORY_NAME_ATTRIBUTE) == name]

    def __len__(self) -> int:
        return len(self._sink)

    def __iter__(self) -> Iterator[Trajectory]:
        return iter(self.trajectories)

    def __getitem__(self, index: int) -> Trajectory:
        return self._sink[index]


def _provider(tracer_provider: TracerProvider | None) -> TracerProvider:
    if tracer_provider is not None:
        if not isinstance(tracer_provider, TracerProvider):
            raise TypeError(f"tracer_provider must be an SDK TracerProvider, got {type(tracer_provider).__name__}")
        return tracer_provider
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    created = TracerProvider()
    trace.set_tracer_provider(created)
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        raise RuntimeError(
            f"the global tracer provider is a {type(current).__name__}, not an SDK TracerProvider: pass tracer_provider="
        )
    return current


@contextmanager
def capture_trajectories(tracer_provider: TracerProvider | None = None) -> Iterator[TrajectoryCapture]:
    """Collect every trajectory that finishes inside the block (the global SDK provider's, by default).

    Spans are assembled synchronously as they end, so a trajectory is in the capture as soon
    as its ``with trajectory(...)`` block exits. On leaving the block, trajectories whose root
    never ended are added flagged incomplete. When no SDK provider is installed globally, one
    is created and installed (tests usually want that).
    """
    provider = _provider(tracer_provider)
    sink = ListSink()
    exporter = TrajectoryExporter([sink])
    dispatcher = _dispatcher(provider)
    with dispatcher.lock:
        dispatcher.active = (*dispatcher.active, exporter)
    try:
        yield TrajectoryCapture(exporter, sink)
    finally:
        with dispatcher.lock:
            dispatcher.active = tuple(e for e in dispatcher.active if e is not exporter)
        exporter.shutdown()
