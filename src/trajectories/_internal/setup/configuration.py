"""``Configuration``: what :func:`configure` set up, and how it is flushed and shut down.

Flushes are bounded (a sink that never returns must not hang the application or its exit), the
exit flush runs before the provider shuts down, and a stuck export is delivered around.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio.lowlevel
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from ..export.exporter import TrajectoryExporter
from .processor import TrajectorySpanProcessor

if TYPE_CHECKING:
    from ..store.base import TrajectoryStore

__all__ = ["Configuration", "current_configuration", "replace_current"]

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_current: Configuration | None = None


def current_configuration() -> Configuration | None:
    """The live result of the last :func:`configure` call, if any."""
    return _current


def replace_current(config: Configuration | None) -> Configuration | None:
    """Make *config* the current configuration; return the one it replaces (to be shut down)."""
    global _current
    with _lock:
        previous, _current = _current, config
    return previous


def _forget(config: Configuration) -> None:
    global _current
    with _lock:
        if _current is config:
            _current = None


class Configuration:
    """What :func:`configure` set up: the exporter, the provider, the processors. Flush or shut it down here."""

    def __init__(
        self,
        exporter: TrajectoryExporter,
        tracer_provider: TracerProvider,
        processor: SpanProcessor,
        otlp_processor: SpanProcessor | None,
        created_provider: bool,
        store: TrajectoryStore | None = None,
        owns_store: bool = False,
    ) -> None:
        self.exporter = exporter
        #: The store trajectories are written to (``configure(store=...)``), or None.
        self.store = store
        self._owns_store = owns_store
        self.tracer_provider = tracer_provider
        self.processor = processor
        self.otlp_processor = otlp_processor
        self.created_provider = created_provider
        self._closed = False
        self._guard_lock = threading.Lock()
        self._guard: threading.Thread | None = None
        self._guard_box: list[bool] = []
        self._dropped_reported = 0

    @property
    def otlp_exporter(self) -> SpanExporter | None:
        p = self.otlp_processor
        return p.span_exporter if isinstance(p, BatchSpanProcessor) else None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def spans_dropped(self) -> int:
        """Spans the batch processor's full queue dropped before they reached the trajectory exporter.

        Each one is a step (or root) missing from a trajectory: such trajectories are flagged
        incomplete, and one that lost every span is gone. Raise ``configure(max_queue_size=)``
        when this grows; a WARNING says so at flush, shutdown and exit.
        """
        p = self.processor
        return p.dropped if isinstance(p, TrajectorySpanProcessor) else 0

    def _report_drops(self) -> None:
        dropped = self.spans_dropped
        if dropped > self._dropped_reported:
            p = self.processor
            size = p.max_queue_size if isinstance(p, TrajectorySpanProcessor) else None
            logger.warning(
                "the span processor dropped %d spans (%d in all) because its queue of %s was full; "
                "trajectories that lost spans are flagged incomplete, ones that lost every span are gone: raise "
                "configure(max_queue_size=...) or OTEL_BSP_MAX_QUEUE_SIZE",
                dropped - self._dropped_reported,
                dropped,
                size,
            )
            self._dropped_reported = dropped

    def flush(self, timeout_millis: int = 30_000) -> bool:
        """Push queued spans through the processors, deliver every complete trajectory, retry failed deliveries.

        (A BatchSpanProcessor's own ``force_flush`` exports the queue but does not flush its
        exporter, so the trajectory exporter is flushed here explicitly.) The trajectory
        processor and exporter are flushed before the OTLP processor, so an OTLP endpoint
        that is down delays neither the store nor retried deliveries.

        Returns False if something failed or *timeout_millis* passed first: OpenTelemetry's
        ``force_flush`` ignores its timeout and waits for an export in progress, which a sink
        that never returns would make forever, so outside an event loop the flush runs in a
        helper thread and is waited for at most *timeout_millis*. Inside an event loop's
        thread it runs in the caller (a stream sink needs that loop); call it through
        ``anyio.to_thread.run_sync`` there.
        """
        if _in_event_loop():
            return self._flush_now(timeout_millis)
        result = self._bounded(self._flush_now, timeout_millis)
        return bool(result)

    def _flush_now(self, timeout_millis: int) -> bool:
        ok = _force_flush(self.processor, timeout_millis)
        self._report_drops()
        ok = self.exporter.force_flush(timeout_millis) and ok
        if self.otlp_processor is not None:
            ok = _force_flush(self.otlp_processor, timeout_millis) and ok
        return ok

    def _bounded(self, work: Callable[[int], bool], timeout_millis: int) -> bool | None:
        """``work(timeout_millis)`` in a daemon thread, waited for at most *timeout_millis*; None on timeout.

        While an earlier bounded call is still stuck, a new one waits for that one instead of
        starting another thread that would queue behind the same lock.
        """
        with self._guard_lock:
            guard = self._guard
            if guard is None or not guard.is_alive():
                box: list[bool] = []

                def run() -> None:
                    try:
                        box.append(work(timeout_millis))
                    except Exception:
                        logger.warning("flushing failed", exc_info=True)
                        box.append(False)

                guard = threading.Thread(target=run, name="trajectories-flush", daemon=True)
                self._guard, self._guard_box = guard, box
                guard.start()
            box = self._guard_box
        guard.join(max(0, timeout_millis) / 1000)
        if guard.is_alive():
            logger.error(
                "flush did not finish within %d ms: an export is stuck (a sink that does not return?)",
                timeout_millis,
            )
            return None
        return box[0] if box else False

    def shutdown(self) -> None:
        """Flush, then stop our processors: pending trajectories go out flagged incomplete, sinks close.

        The provider keeps running (it may be the application's); ours stops receiving spans.
        """
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.at_exit)
        # A worker stuck in a blocked sink would make the batch processor's shutdown wait 30 s
        # and then drop the spans still queued behind it: check first (bounded), rescue if stuck.
        if not _in_event_loop() and self._bounded(self._flush_processor, self.exit_timeout_millis) is None:
            self._rescue_stuck_export()
        for p in (self.processor, self.otlp_processor):
            if p is None:
                continue
            try:
                if isinstance(p, TrajectorySpanProcessor):
                    p.shutdown(timeout_millis=self.exit_timeout_millis)  # bounded: never hangs behind a stuck sink
                else:
                    p.shutdown()
            except Exception:
                logger.warning("shutting down %s failed", type(p).__name__, exc_info=True)
        self._report_drops()
        if self._owns_store and self.store is not None:
            try:
                self.store.close()
            except Exception:
                logger.warning("closing the store failed", exc_info=True)
        _forget(self)

    #: How long the flush at interpreter exit (and before ``shutdown()``) may take before it
    #: gives up on a stuck export.
    exit_timeout_millis = 10_000

    def _flush_processor(self, timeout_millis: int) -> bool:
        return _force_flush(self.processor, timeout_millis)

    def in_multiprocessing_child(self) -> None:
        """Run in a ``multiprocessing`` child as it starts (fork start method). Such a child ends
        with ``os._exit``, which skips ``atexit``; multiprocessing's own exit function runs its
        finalizers first, so the exit flush is registered there too (twice is harmless)."""
        multiprocessing.util.Finalize(None, self.at_exit, exitpriority=100)

    def at_exit(self) -> None:
        # Registered after the provider's own atexit shutdown, so it runs first (atexit is LIFO):
        # spans still queued in the batch processor reach the exporter while it can deliver.
        if self._closed:
            return
        if self._bounded(self._flush_now, self.exit_timeout_millis) is None:
            self._rescue_stuck_export()
            return
        processor = self.processor
        if isinstance(processor, TrajectorySpanProcessor):
            # The provider's own shutdown comes next and would wait for a worker stuck in a
            # blocked sink without a bound: shut ours down now, bounded.
            processor.shutdown(timeout_millis=self.exit_timeout_millis)

    def _rescue_stuck_export(self) -> None:
        """The exit flush (or the one before ``shutdown()``) is stuck behind an export that does
        not return (a blocked sink).

        Without this the process would never exit: the provider's own shutdown would wait 30 s
        for the worker, drop the spans queued behind it, and deliver to the same blocked sink
        again. Instead: take the spans still queued in the processor, hand them to the exporter here, and shut the processor
        and the exporter down without waiting. The exporter skips the blocked sink, sends
        everything to the others and dead-letters the rest.
        """
        processor = self.processor
        spans = processor.take_queued() if isinstance(processor, TrajectorySpanProcessor) else []
        logger.error(
            "an export is stuck; delivering %d queued spans around the blocked sink and shutting down",
            len(spans),
        )
        self.exporter.treat_busy_sinks_as_blocked()  # whatever is still in a sink now is stuck in it
        if spans:
            self.exporter.export(spans)
        try:
            if isinstance(processor, TrajectorySpanProcessor):
                processor.shutdown(timeout_millis=0)  # does not wait for the stuck worker
            self.exporter.shutdown(timeout_millis=0)  # a no-op if that already did it
        except Exception:
            logger.warning("shutting down after a stuck flush failed", exc_info=True)

    def __repr__(self) -> str:
        provider = type(self.tracer_provider).__name__
        return f"Configuration(provider={provider}, sinks={len(self.exporter.sinks)}, closed={self._closed})"


def _force_flush(processor: SpanProcessor, timeout_millis: int) -> bool:
    try:
        return bool(processor.force_flush(timeout_millis))
    except Exception:
        logger.warning("flushing %s failed", type(processor).__name__, exc_info=True)
        return False


def _in_event_loop() -> bool:
    """Whether this thread runs an asyncio or trio event loop (anyio knows both)."""
    try:
        anyio.lowlevel.current_token()
    except Exception:
        return False
    return True
