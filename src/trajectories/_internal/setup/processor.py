"""The span processor ``configure()`` puts in front of the trajectory exporter: batches, bounded, counted.

Like OpenTelemetry's ``BatchSpanProcessor`` — finished spans wait in a bounded queue and a
worker thread exports them in batches every ``schedule_delay_millis`` or as soon as a batch is
full — with what the trajectory pipeline needs on top, through public methods instead of the
SDK's internals: every span a full queue drops is counted (:attr:`dropped`), the spans still
queued can be taken out (:meth:`take_queued`, for an exit whose export is stuck behind a
blocked sink), ``shutdown`` can give up on a stuck worker (``timeout_millis=0``), and a forked
child starts with an empty queue and its own worker.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from ..diagnostics import report_internal_error, reset_in_forked_child
from ..instrument.observer import observe_end
from ..validate import check_int

__all__ = ["DEFAULT_MAX_QUEUE_SIZE", "LiveSpanObserver", "TrajectorySpanProcessor"]

_logger = logging.getLogger(__name__)

#: The queue when neither ``max_queue_size=`` nor ``OTEL_BSP_MAX_QUEUE_SIZE`` says otherwise:
#: OpenTelemetry's 2 048 drops spans under a burst of concurrent agents (docs/reliability.md);
#: 16 384 held every burst measured there, at a few KiB a queued span.
DEFAULT_MAX_QUEUE_SIZE = 16_384
_DEFAULT_DELAY_MS = 5_000
_DEFAULT_BATCH = 512


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        parsed = int(value)
    except ValueError:
        if value:
            _logger.warning("ignoring %s=%r: not an integer", name, value)
        return default
    return parsed if parsed > 0 else default


class TrajectorySpanProcessor(SpanProcessor):
    """Batches finished spans into *exporter* from a worker thread; counts what a full queue drops.

    ``max_queue_size``, ``schedule_delay_millis`` and ``max_export_batch_size`` default to
    ``OTEL_BSP_MAX_QUEUE_SIZE`` (else 16 384), ``OTEL_BSP_SCHEDULE_DELAY`` (else 5 000) and
    ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` (else 512, at most the queue size). A span that
    arrives at a full queue pushes out the oldest queued one, as OpenTelemetry's does.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int | None = None,
        schedule_delay_millis: int | None = None,
        max_export_batch_size: int | None = None,
    ) -> None:
        if not isinstance(exporter, SpanExporter):
            raise TypeError(f"exporter must be a SpanExporter, got {type(exporter).__name__}")
        self.exporter = exporter
        self.max_queue_size = (
            _env_int("OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_MAX_QUEUE_SIZE)
            if max_queue_size is None
            else check_int("max_queue_size", max_queue_size, minimum=1)
        )
        self.schedule_delay_millis = (
            _env_int("OTEL_BSP_SCHEDULE_DELAY", _DEFAULT_DELAY_MS)
            if schedule_delay_millis is None
            else check_int("schedule_delay_millis", schedule_delay_millis, minimum=1)
        )
        batch = (
            _env_int("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", _DEFAULT_BATCH)
            if max_export_batch_size is None
            else check_int("max_export_batch_size", max_export_batch_size, minimum=1)
        )
        self.max_export_batch_size = min(batch, self.max_queue_size)
        #: Spans pushed out of the full queue before they reached the exporter.
        self.dropped = 0
        self._reset()
        reset_in_forked_child(self._reset)

    def _reset(self) -> None:
        """Fresh state: at start, and in a forked child (the parent's queue and worker stay the parent's)."""
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[ReadableSpan] = deque()
        self._worker: threading.Thread | None = None
        self._closed = False

    # ---------------------------------------------------------------- SpanProcessor

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        try:
            observe_end(span)  # a live trajectory learns of the framework spans in its trace
        except Exception:
            report_internal_error("observing a finished span", logger=_logger)
        ctx = span.context
        if ctx is None or not ctx.trace_flags.sampled:
            return
        with self._cond:
            if self._closed:
                self.dropped += 1
                return
            if len(self._queue) >= self.max_queue_size:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(span)
            if self._worker is None:
                self._start_worker()
            if len(self._queue) >= self.max_export_batch_size:
                self._cond.notify()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every queued span now, in the calling thread (the exporter is thread-safe)."""
        while True:
            batch = self._take(self.max_export_batch_size)
            if not batch:
                return True
            self._export(batch)

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        """Stop the worker (waiting at most *timeout_millis* for a batch it is exporting), export
        what is queued, and shut the exporter down with the same *timeout_millis*."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            worker = self._worker
            self._cond.notify_all()
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(0.0, timeout_millis) / 1000)
            if worker.is_alive():
                # Stuck in an export that does not return (a blocked sink): deliver around it.
                _logger.error(
                    "an export is stuck; delivering %d queued spans around the blocked sink and shutting down", self.queued
                )
                treat_as_blocked = getattr(self.exporter, "treat_busy_sinks_as_blocked", None)
                if callable(treat_as_blocked):
                    treat_as_blocked()
        self.force_flush()
        try:
            self.exporter.shutdown(timeout_millis=timeout_millis)  # type: ignore[call-arg]
        except TypeError:  # an exporter whose shutdown takes no timeout
            self.exporter.shutdown()

    # ---------------------------------------------------------------- for configure()

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def take_queued(self) -> list[ReadableSpan]:
        """Remove and return every queued span, oldest first (to deliver them around a stuck worker)."""
        return self._take(None)

    # ---------------------------------------------------------------- internals

    def _take(self, limit: int | None) -> list[ReadableSpan]:
        with self._cond:
            n = len(self._queue) if limit is None else min(limit, len(self._queue))
            return [self._queue.popleft() for _ in range(n)]

    def _export(self, batch: list[ReadableSpan]) -> None:
        try:
            self.exporter.export(batch)
        except Exception:
            report_internal_error("exporting a batch of spans", logger=_logger)

    def _start_worker(self) -> None:  # called with self._cond held
        self._worker = threading.Thread(target=self._run, name="trajectories-span-processor", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        delay = self.schedule_delay_millis / 1000
        while True:
            with self._cond:
                if not self._closed and len(self._queue) < self.max_export_batch_size:
                    self._cond.wait(delay)
                if self._closed:
                    return
            batch = self._take(self.max_export_batch_size)
            if batch:
                self._export(batch)

    def __repr__(self) -> str:
        return (
            f"TrajectorySpanProcessor(exporter={type(self.exporter).__name__}, max_queue_size={self.max_queue_size}, "
            f"queued={len(self._queue)}, dropped={self.dropped})"
        )


class LiveSpanObserver(SpanProcessor):
    """Hands every span that ends to the live trajectory of its trace (``t.result`` then counts a
    framework's spans as the exporter does). ``TrajectorySpanProcessor`` does this itself;
    ``configure(batch=False)`` puts this in front of its ``SimpleSpanProcessor``."""

    def on_end(self, span: ReadableSpan) -> None:
        try:
            observe_end(span)
        except Exception:
            report_internal_error("observing a finished span", logger=_logger)
